variable "platforms" {
  description = "Platforms that get a secret: any of web, ios, android."
  type        = list(string)
  default     = ["web", "ios", "android"]

  validation {
    condition     = length(var.platforms) > 0 && length(setsubtract(var.platforms, ["web", "ios", "android"])) == 0
    error_message = "platforms must be a non-empty subset of web, ios, android."
  }

  validation {
    condition     = length(distinct(var.platforms)) == length(var.platforms)
    error_message = "platforms must not repeat a platform."
  }
}

variable "workspaces" {
  description = "Workspaces (Intercom workspaces, usually one per stage) that get a secret per platform."
  type        = list(string)
  default     = ["test", "prod"]

  validation {
    condition     = length(var.workspaces) > 0 && alltrue([for w in var.workspaces : can(regex("^[a-z][a-z0-9_-]*$", w))])
    error_message = "workspaces must be a non-empty list of names matching ^[a-z][a-z0-9_-]*$."
  }

  validation {
    condition     = length(distinct(var.workspaces)) == length(var.workspaces)
    error_message = "workspaces must not repeat a workspace."
  }
}

variable "name_template" {
  description = "Secret name template, also written as `reference` into ivsecrets_config. Placeholders, expanded as the library does: {platform} {workspace}, {PLATFORM} upper-case, {WORKSPACE} upper-case with - as _ (eu-prod => EU_PROD); see terraform/README.md#naming."
  type        = string
  default     = "ivsecrets-{workspace}-{platform}"

  validation {
    condition     = can(regex("^[A-Za-z0-9/_+=.@{}-]+$", var.name_template))
    error_message = "name_template may only contain the characters Secrets Manager allows in a name (A-Z a-z 0-9 / _ + = . @ -) and placeholders."
  }

  validation {
    condition = (
      length(regexall("\\{(platform|PLATFORM)\\}", var.name_template)) > 0 &&
      length(regexall("\\{(workspace|WORKSPACE)\\}", var.name_template)) > 0
    )
    error_message = "name_template must contain a {platform} and a {workspace} placeholder, or two environments would share a secret."
  }
}

variable "kms_key_arn" {
  description = "ARN of an existing customer-managed KMS key for the secrets. When null, the module creates one with rotation enabled."
  type        = string
  default     = null
}

variable "kms_key_alias" {
  description = "Alias for the key the module creates (ignored when kms_key_arn is given). Null for no alias."
  type        = string
  default     = "alias/ivsecrets"

  validation {
    condition     = var.kms_key_alias == null || can(regex("^alias/[A-Za-z0-9/_-]+$", var.kms_key_alias))
    error_message = "kms_key_alias must start with alias/ and use A-Z a-z 0-9 / _ -."
  }
}

variable "kms_key_deletion_window_in_days" {
  description = "Waiting period before the created KMS key is deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_in_days >= 7 && var.kms_key_deletion_window_in_days <= 30
    error_message = "kms_key_deletion_window_in_days must be between 7 and 30."
  }
}

variable "recovery_window_in_days" {
  description = "Days Secrets Manager keeps a deleted secret recoverable (7-30)."
  type        = number
  default     = 30

  validation {
    condition     = var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30
    error_message = "recovery_window_in_days must be between 7 and 30: a secret deleted by mistake must stay recoverable."
  }
}

variable "name_prefix" {
  description = "Prefix of the IAM policy names the module creates."
  type        = string
  default     = "ivsecrets"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]+$", var.name_prefix))
    error_message = "name_prefix may only use the characters IAM allows in a policy name."
  }
}

variable "lease_table_name" {
  description = "Name of the DynamoDB table holding the rotation lease (the store option lease_table; written into ivsecrets_config)."
  type        = string
  default     = "ivsecrets-rotation"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.lease_table_name))
    error_message = "lease_table_name must be 3-255 characters of A-Z a-z 0-9 _ . - (a DynamoDB table name)."
  }
}

variable "iam_path" {
  description = "Path of the IAM policies the module creates."
  type        = string
  default     = "/"
}

variable "readers" {
  description = <<-EOT
    Consumers that read secrets, by name. Each gets an IAM policy granting exactly the secrets of
    its platforms x workspaces. role_names: IAM roles to attach the policy to. principal_arns: the
    role ARNs, needed only with deny_other_principals.
  EOT
  type = map(object({
    platforms      = list(string)
    workspaces     = list(string)
    role_names     = optional(list(string), [])
    principal_arns = optional(list(string), [])
  }))
  default = {}

  validation {
    condition     = alltrue([for name in keys(var.readers) : can(regex("^[A-Za-z0-9+=,.@_-]+$", name))])
    error_message = "reader names may only use the characters IAM allows in a policy name."
  }

  validation {
    condition = alltrue([
      for reader in values(var.readers) :
      length(reader.platforms) > 0 && length(setsubtract(reader.platforms, ["web", "ios", "android"])) == 0
    ])
    error_message = "each reader's platforms must be a non-empty subset of web, ios, android."
  }

  validation {
    condition = alltrue([
      for reader in values(var.readers) :
      length(reader.workspaces) > 0 && alltrue([for w in reader.workspaces : can(regex("^[a-z][a-z0-9_-]*$", w))])
    ])
    error_message = "each reader's workspaces must be a non-empty list of names matching ^[a-z][a-z0-9_-]*$."
  }
}

variable "rotator" {
  description = "Who rotates the secrets (ivsecrets rotate, or the rotation Lambda's role): IAM roles to attach the rotator policy to, and their ARNs for deny_other_principals."
  type = object({
    role_names     = optional(list(string), [])
    principal_arns = optional(list(string), [])
  })
  default = {}
}

variable "deny_other_principals" {
  description = "Attach a resource policy to each secret denying GetSecretValue, PutSecretValue and UpdateSecretVersionStage to every principal other than its readers, the rotator and allowed_principal_arns."
  type        = bool
  default     = false
}

variable "allowed_principal_arns" {
  description = "Extra principals (break-glass, the deploy role running ivsecrets verify) let through the deny_other_principals resource policy on every secret."
  type        = list(string)
  default     = []
}

variable "rotation_lambda_arn" {
  description = "ARN of the rotation Lambda. When set, Secrets Manager rotates every secret on a schedule through it."
  type        = string
  default     = null
}

variable "intercom_token_secret_arn" {
  description = "ARN of the secret holding the Intercom API tokens (JSON by workspace) that the rotation Lambda reads; the rotator policy may read it."
  type        = string
  default     = null
}

variable "rotation_days" {
  description = "Days between scheduled rotations (with rotation_lambda_arn)."
  type        = number
  default     = 90

  validation {
    condition     = var.rotation_days >= 1 && var.rotation_days <= 1000
    error_message = "rotation_days must be between 1 and 1000."
  }
}

variable "create_lambda_permission" {
  description = "Allow Secrets Manager to invoke rotation_lambda_arn for exactly these secrets. Turn off when the Lambda's own module grants it."
  type        = bool
  default     = true
}

variable "region" {
  description = "Region written into ivsecrets_config and the kms:ViaService condition. Null: the provider's region."
  type        = string
  default     = null
}

variable "ivsecrets_store_options" {
  description = "Extra options for the [stores.aws] table of ivsecrets_config, e.g. { profile = \"prod\" }."
  type        = any
  default     = {}

  validation {
    condition = try(alltrue([
      for key, value in var.ivsecrets_store_options :
      can(regex("^[A-Za-z0-9_-]+$", key)) && !contains(["plugin"], key) && can(tostring(value))
    ]), false)
    error_message = "ivsecrets_store_options must map bare TOML keys (A-Z a-z 0-9 _ -, not plugin) to strings, numbers or booleans."
  }
}

variable "tags" {
  description = "Tags for every resource that takes them."
  type        = map(string)
  default     = {}
}
