variable "project" {
  description = "Project that holds the secrets."
  type        = string
}

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
  description = "Secret id template, also written as `reference` into ivsecrets_config. Placeholders, expanded as the library does: {platform} {workspace}, {PLATFORM} upper-case, {WORKSPACE} upper-case with - as _ (eu-prod => EU_PROD); see terraform/README.md#naming."
  type        = string
  default     = "ivsecrets-{workspace}-{platform}"

  validation {
    # Secret ids allow only [A-Za-z0-9_-]; the braces are the placeholders.
    condition     = can(regex("^[A-Za-z0-9_{}-]+$", var.name_template))
    error_message = "name_template may only contain A-Z a-z 0-9 _ - and placeholders (secret ids allow no other characters)."
  }

  validation {
    condition = (
      length(regexall("\\{(platform|PLATFORM)\\}", var.name_template)) > 0 &&
      length(regexall("\\{(workspace|WORKSPACE)\\}", var.name_template)) > 0
    )
    error_message = "name_template must contain a {platform} and a {workspace} placeholder, or two environments would share a secret."
  }
}

variable "kms_key_name" {
  description = "Cloud KMS key (projects/P/locations/global/keyRings/R/cryptoKeys/K) encrypting automatically replicated secrets. Ignored when replicas is set."
  type        = string
  default     = null
}

variable "replicas" {
  description = "User-managed replication: location => { kms_key_name = key in that location }. Empty: automatic replication."
  type = map(object({
    kms_key_name = optional(string)
  }))
  default = {}
}

variable "require_cmek" {
  description = "Refuse to create a secret that is not encrypted with a customer-managed key."
  type        = bool
  default     = true
}

variable "readers" {
  description = <<-EOT
    Consumers that read secrets, by name. Each member (e.g. "serviceAccount:web@P.iam.gserviceaccount.com")
    gets roles/secretmanager.secretAccessor and roles/secretmanager.viewer on exactly the secrets of
    its platforms x workspaces.
  EOT
  type = map(object({
    platforms  = list(string)
    workspaces = list(string)
    members    = list(string)
  }))
  default = {}

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
  description = <<-EOT
    Who rotates the secrets (ivsecrets rotate): members (e.g. "serviceAccount:rotator@P.iam.gserviceaccount.com")
    may add versions, move the current/previous/pending aliases, disable or destroy old versions of
    every secret, through a project custom role with id role_id, granted per secret.
  EOT
  type = object({
    members = optional(list(string), [])
    role_id = optional(string, "ivsecretsRotator")
  })
  default = {}

  validation {
    condition     = can(regex("^[A-Za-z0-9_.]{3,64}$", var.rotator.role_id))
    error_message = "rotator.role_id must be 3-64 characters of A-Z a-z 0-9 _ ."
  }
}

variable "ivsecrets_store_options" {
  description = "Extra options for the [stores.gcp] table of ivsecrets_config."
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
  description = "Tags for every secret, applied as GCP labels (the managed-by, platform and workspace labels are added)."
  type        = map(string)
  default     = {}
}
