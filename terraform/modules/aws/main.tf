# Secret containers and access for ivsecrets on AWS Secrets Manager.
#
# Values never enter Terraform state: this module creates the six containers (no
# aws_secretsmanager_secret_version), their KMS key, the DynamoDB table that holds the rotation
# lease, and who may read or rotate them. Values are written by `ivsecrets rotate` or the rotation
# Lambda.

data "aws_partition" "current" {}

# Only the key policy needs the account id; skip the STS call when the key is given.
data "aws_caller_identity" "current" {
  count = var.kms_key_arn == null ? 1 : 0
}

data "aws_region" "current" {}

locals {
  # One environment per platform x workspace, keyed "platform/workspace" like the library's
  # Environment(platform, workspace).
  environment_pairs = {
    for pair in setproduct(var.platforms, var.workspaces) : "${pair[0]}/${pair[1]}" => {
      platform  = pair[0]
      workspace = pair[1]
    }
  }

  # The library's naming rule (terraform/README.md, "Naming"), so that module and library agree
  # on every name (the template is written as `reference` into ivsecrets_config): {WORKSPACE} is
  # upper-case with "-" as "_", e.g. eu-prod => EU_PROD.
  environments = {
    for key, env in local.environment_pairs : key => merge(env, {
      name = replace(replace(replace(replace(var.name_template,
        "{platform}", env.platform), "{workspace}", env.workspace),
      "{PLATFORM}", upper(env.platform)), "{WORKSPACE}", upper(replace(env.workspace, "-", "_")))
    })
  }

  region      = coalesce(var.region, data.aws_region.current.id)
  kms_via     = "secretsmanager.${local.region}.${data.aws_partition.current.dns_suffix}"
  kms_via_ddb = "dynamodb.${local.region}.${data.aws_partition.current.dns_suffix}"
  kms_key_arn = var.kms_key_arn != null ? var.kms_key_arn : aws_kms_key.this[0].arn

  tags = merge({ "managed-by" = "terraform", "ivsecrets" = "true" }, var.tags)

  # reader name => environment keys it may read.
  reader_environments = {
    for name, reader in var.readers : name => sort([
      for pair in setproduct(reader.platforms, reader.workspaces) : "${pair[0]}/${pair[1]}"
    ])
  }

  reader_attachments = merge([
    for name, reader in var.readers : {
      for role in reader.role_names : "${name}/${role}" => { reader = name, role = role }
    }
  ]...)

  # environment key => principals let through the deny_other_principals resource policy.
  secret_principals = {
    for key in keys(local.environments) : key => sort(distinct(concat(
      flatten([
        for name, reader in var.readers : reader.principal_arns
        if contains(local.reader_environments[name], key)
      ]),
      var.rotator.principal_arns,
      var.allowed_principal_arns,
    )))
  }
}

# --- KMS ------------------------------------------------------------------------------------------

resource "aws_kms_key" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "ivsecrets: encrypts the Intercom identity-verification secrets"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_in_days
  tags                    = local.tags

  # The account's IAM policies decide who uses the key (the reader and rotator policies below,
  # each limited to Secrets Manager by kms:ViaService). In a key policy "*" is this key.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountManagesKeyThroughIam"
      Effect    = "Allow"
      Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current[0].account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

resource "aws_kms_alias" "this" {
  count = var.kms_key_arn == null && var.kms_key_alias != null ? 1 : 0

  name          = var.kms_key_alias
  target_key_id = aws_kms_key.this[0].key_id
}

# --- Secrets --------------------------------------------------------------------------------------

resource "aws_secretsmanager_secret" "this" {
  for_each = local.environments

  #checkov:skip=CKV2_AWS_57:Rotation is run by `ivsecrets rotate`, or by aws_secretsmanager_secret_rotation.this below when rotation_lambda_arn is set; checkov cannot see a for_each rotation.
  name                    = each.value.name
  description             = "Intercom identity-verification secret (${each.value.platform}, ${each.value.workspace}); value written by ivsecrets rotate."
  kms_key_id              = local.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days

  tags = merge(local.tags, {
    "ivsecrets:platform"  = each.value.platform
    "ivsecrets:workspace" = each.value.workspace
  })

  lifecycle {
    # Rotation tags each version with its Intercom secret id (ivsecrets:intercom:<VersionId>);
    # Terraform must not remove them, so tags are set when the secret is created.
    ignore_changes = [tags]
  }
}

resource "aws_secretsmanager_secret_rotation" "this" {
  for_each = { for key, env in local.environments : key => env if var.rotation_lambda_arn != null }

  secret_id           = aws_secretsmanager_secret.this[each.key].id
  rotation_lambda_arn = var.rotation_lambda_arn
  # The first value comes from `ivsecrets rotate`; a rotation at apply time would race it.
  rotate_immediately = false

  rotation_rules {
    automatically_after_days = var.rotation_days
  }

  depends_on = [aws_lambda_permission.rotation]
}

resource "aws_lambda_permission" "rotation" {
  for_each = {
    for key, env in local.environments : key => env
    if var.rotation_lambda_arn != null && var.create_lambda_permission
  }

  statement_id  = "ivsecrets-rotate-${replace(each.key, "/", "-")}"
  action        = "lambda:InvokeFunction"
  function_name = var.rotation_lambda_arn
  principal     = "secretsmanager.amazonaws.com"
  source_arn    = aws_secretsmanager_secret.this[each.key].arn
}

# --- The rotation lease ---------------------------------------------------------------------------

# One item per secret, keyed by the secret's ARN: the rotation lease, the journal of intent and when
# each version became current, written with conditional writes (docs/stores/aws.md, "Where the
# rotation lease lives"). Kept off the secrets, whose versions AWS counts against a daily quota.
resource "aws_dynamodb_table" "lease" {
  name         = var.lease_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "secret_arn"

  attribute {
    name = "secret_arn"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.kms_key_arn
  }

  deletion_protection_enabled = true
  tags                        = local.tags
}

# --- Readers --------------------------------------------------------------------------------------

data "aws_iam_policy_document" "reader" {
  for_each = var.readers

  lifecycle {
    precondition {
      condition     = length(setsubtract(local.reader_environments[each.key], keys(local.environments))) == 0
      error_message = "Reader ${each.key} names a platform or workspace this module does not create a secret for."
    }
  }

  statement {
    sid       = "ReadItsSecrets"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [for key in local.reader_environments[each.key] : aws_secretsmanager_secret.this[key].arn]
  }

  # BatchGetSecretValue has no resource-level permissions, so AWS requires "*"; it returns only
  # the secrets GetSecretValue above allows, so it widens nothing.
  statement {
    sid       = "BatchReadNeedsStar"
    effect    = "Allow"
    actions   = ["secretsmanager:BatchGetSecretValue"]
    resources = ["*"]
  }

  statement {
    sid       = "DecryptItsSecretsThroughSecretsManager"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [local.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:SecretARN"
      values   = [for key in local.reader_environments[each.key] : aws_secretsmanager_secret.this[key].arn]
    }
  }
}

resource "aws_iam_policy" "reader" {
  for_each = var.readers

  name        = "${var.name_prefix}-reader-${each.key}"
  path        = var.iam_path
  description = "ivsecrets: read the identity-verification secrets of ${each.key}"
  policy      = data.aws_iam_policy_document.reader[each.key].json
  tags        = local.tags
}

resource "aws_iam_role_policy_attachment" "reader" {
  for_each = local.reader_attachments

  role       = each.value.role
  policy_arn = aws_iam_policy.reader[each.value.reader].arn
}

# --- Rotator --------------------------------------------------------------------------------------

data "aws_iam_policy_document" "rotator" {
  # Stage a new value (PutSecretValue with AWSPENDING), promote it (UpdateSecretVersionStage
  # AWSPENDING -> AWSCURRENT, AWSCURRENT -> AWSPREVIOUS) and read both during the overlap.
  # UpdateSecretVersionStage also removes labels an earlier ivsecrets left (ivsecrets-w-*).
  statement {
    sid    = "StageAndPromoteValues"
    effect = "Allow"
    actions = [
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetSecretValue",
      "secretsmanager:ListSecretVersionIds",
      "secretsmanager:PutSecretValue",
      "secretsmanager:UpdateSecretVersionStage",
    ]
    resources = [for secret in aws_secretsmanager_secret.this : secret.arn]
  }

  # Record which Intercom secret each version is, in tags ivsecrets:intercom:<VersionId>.
  statement {
    sid       = "TagVersionsWithTheirIntercomSecret"
    effect    = "Allow"
    actions   = ["secretsmanager:TagResource", "secretsmanager:UntagResource"]
    resources = [for secret in aws_secretsmanager_secret.this : secret.arn]

    condition {
      test     = "ForAllValues:StringLike"
      variable = "aws:TagKeys"
      values   = ["ivsecrets:intercom:*"]
    }
  }

  # The rotation record: read it, and write it compare-and-set (PutItem with a condition).
  statement {
    sid       = "HoldTheRotationLease"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.lease.arn]
  }

  statement {
    sid       = "UseTheLeaseTableKeyThroughDynamoDB"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [local.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via_ddb]
    }
  }

  statement {
    sid       = "EncryptNewValuesThroughSecretsManager"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [local.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via]
    }
  }
}

resource "aws_iam_policy" "rotator" {
  name        = "${var.name_prefix}-rotator"
  path        = var.iam_path
  description = "ivsecrets: stage and promote new identity-verification secret values"
  policy      = data.aws_iam_policy_document.rotator.json
  tags        = local.tags
}

resource "aws_iam_role_policy_attachment" "rotator" {
  for_each = toset(var.rotator.role_names)

  role       = each.value
  policy_arn = aws_iam_policy.rotator.arn
}

# The rotation Lambda reads the workspaces' Intercom API tokens from this secret (optional).
resource "aws_iam_policy" "intercom_token_reader" {
  count = var.intercom_token_secret_arn == null ? 0 : 1

  name        = "${var.name_prefix}-intercom-token-reader"
  path        = var.iam_path
  description = "ivsecrets: the rotation Lambda reads the Intercom API tokens"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ReadTheIntercomApiTokens"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [var.intercom_token_secret_arn]
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy_attachment" "intercom_token_reader" {
  for_each = var.intercom_token_secret_arn == null ? toset([]) : toset(var.rotator.role_names)

  role       = each.value
  policy_arn = aws_iam_policy.intercom_token_reader[0].arn
}

# --- Resource policies (optional) -----------------------------------------------------------------

data "aws_iam_policy_document" "secret" {
  for_each = var.deny_other_principals ? local.environments : {}

  # Identity policies elsewhere in the account cannot widen access past this: only the readers of
  # this secret, the rotator and allowed_principal_arns get past the deny. Management actions
  # (describe, tag, delete) stay with IAM, so Terraform itself keeps working.
  statement {
    sid    = "DenyValueToOthers"
    effect = "Deny"
    actions = [
      "secretsmanager:GetSecretValue",
      "secretsmanager:PutSecretValue",
      "secretsmanager:UpdateSecretVersionStage",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotLike"
      variable = "aws:PrincipalArn"
      values   = local.secret_principals[each.key]
    }
  }
}

resource "aws_secretsmanager_secret_policy" "this" {
  for_each = var.deny_other_principals ? local.environments : {}

  secret_arn          = aws_secretsmanager_secret.this[each.key].arn
  policy              = data.aws_iam_policy_document.secret[each.key].json
  block_public_policy = true

  lifecycle {
    precondition {
      condition     = length(local.secret_principals[each.key]) > 0
      error_message = "deny_other_principals needs principal_arns on a reader, the rotator or allowed_principal_arns for ${each.key}, or nobody could read it."
    }
  }
}
