# A full AWS stack: the six secrets, their KMS key, one IAM role per backend and workspace (ECS
# tasks here), a role for the rotation job, and resource policies keeping everyone else out.

provider "aws" {
  region = var.region

  default_tags {
    tags = { project = "ivsecrets-example" }
  }
}

locals {
  # A web backend reads only the web secret of its workspace; a mobile backend iOS and Android.
  backends = {
    web-backend-prod    = { platforms = ["web"], workspaces = ["prod"] }
    web-backend-test    = { platforms = ["web"], workspaces = ["test"] }
    mobile-backend-prod = { platforms = ["ios", "android"], workspaces = ["prod"] }
    mobile-backend-test = { platforms = ["ios", "android"], workspaces = ["test"] }
  }
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "backend" {
  for_each = local.backends

  name               = "ivsecrets-example-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role" "rotator" {
  name               = "ivsecrets-example-rotator"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_role" "verifier" {
  name = var.verifier_role_name
}

module "ivsecrets" {
  source = "../../modules/aws"

  platforms  = ["web", "ios", "android"]
  workspaces = ["test", "prod"]

  readers = merge(
    {
      for name, backend in local.backends : name => merge(backend, {
        role_names     = [aws_iam_role.backend[name].name]
        principal_arns = [aws_iam_role.backend[name].arn]
      })
    },
    {
      verifier = {
        platforms      = ["web", "ios", "android"]
        workspaces     = ["test", "prod"]
        role_names     = [data.aws_iam_role.verifier.name]
        principal_arns = [data.aws_iam_role.verifier.arn]
      }
    },
  )

  rotator = {
    role_names     = [aws_iam_role.rotator.name]
    principal_arns = [aws_iam_role.rotator.arn]
  }

  deny_other_principals = true
  rotation_lambda_arn   = var.rotation_lambda_arn
  region                = var.region

  tags = { team = "identity" }
}
