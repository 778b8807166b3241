locals {
  # lease_table only when it is not the store's default name (the same default as here).
  ivsecrets_store_options = merge(
    { region = local.region },
    var.lease_table_name == "ivsecrets-rotation" ? {} : { lease_table = aws_dynamodb_table.lease.name },
    var.ivsecrets_store_options,
  )

  # TOML for `ivsecrets verify --config`; strings are written with jsonencode, whose escapes are
  # valid in TOML basic strings. Built with join rather than templatefile so that offline tests
  # (tfparse) can render it.
  ivsecrets_config = join("\n", concat(
    [
      "# Written by the ivsecrets Terraform module for AWS Secrets Manager.",
      "# Regenerated on every apply: write it to generated.toml and keep pins, known_hashes and",
      "# [workspace.*] settings in a committed ivsecrets.toml that starts with",
      "# extends = \"generated.toml\" (its keys win over these), then check the deployment with:",
      "# ivsecrets verify --config ivsecrets.toml",
      "platforms = ${jsonencode(var.platforms)}",
      "workspaces = ${jsonencode(var.workspaces)}",
      "store = \"aws\"",
      "reference = ${jsonencode(var.name_template)}",
      "",
      "[stores.aws]",
      "plugin = \"aws\"",
    ],
    [for key, value in local.ivsecrets_store_options : "${key} = ${jsonencode(value)}"],
    [""],
  ))
}

output "ivsecrets_config" {
  description = "ivsecrets configuration (TOML) naming these secrets; write it to a file for `ivsecrets verify --config`."
  value       = local.ivsecrets_config
}

output "environments" {
  description = "Environment key (platform/workspace) => platform, workspace and secret name."
  value       = local.environments
}

output "secret_names" {
  description = "Environment key (platform/workspace) => secret name."
  value       = { for key, secret in aws_secretsmanager_secret.this : key => secret.name }
}

output "secret_arns" {
  description = "Environment key (platform/workspace) => secret ARN."
  value       = { for key, secret in aws_secretsmanager_secret.this : key => secret.arn }
}

output "lease_table_name" {
  description = "Name of the DynamoDB table holding the rotation lease (the store option lease_table)."
  value       = aws_dynamodb_table.lease.name
}

output "lease_table_arn" {
  description = "ARN of the DynamoDB table holding the rotation lease (grant dynamodb:GetItem and dynamodb:PutItem on it to other rotators)."
  value       = aws_dynamodb_table.lease.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the secrets (created or given)."
  value       = local.kms_key_arn
}

output "reader_policy_arns" {
  description = "Reader name => ARN of its IAM policy."
  value       = { for name, policy in aws_iam_policy.reader : name => policy.arn }
}

output "rotator_policy_arn" {
  description = "ARN of the rotator IAM policy."
  value       = aws_iam_policy.rotator.arn
}
