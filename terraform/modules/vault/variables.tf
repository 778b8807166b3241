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
  description = "Secret path template inside the KV mount, also written as `reference` into ivsecrets_config. Placeholders, expanded as the library does: {platform} {workspace}, {PLATFORM} upper-case, {WORKSPACE} upper-case with - as _ (eu-prod => EU_PROD); see terraform/README.md#naming."
  type        = string
  default     = "ivsecrets/{workspace}/{platform}"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.{}-]+(/[A-Za-z0-9_.{}-]+)*$", var.name_template))
    error_message = "name_template must be a relative path (segments of A-Z a-z 0-9 _ . - and placeholders, no leading, trailing or double slash)."
  }

  validation {
    condition = (
      length(regexall("\\{(platform|PLATFORM)\\}", var.name_template)) > 0 &&
      length(regexall("\\{(workspace|WORKSPACE)\\}", var.name_template)) > 0
    )
    error_message = "name_template must contain a {platform} and a {workspace} placeholder, or two environments would share a secret."
  }
}

variable "mount_path" {
  description = "Path of the KV version 2 mount holding the secrets."
  type        = string
  default     = "secret"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.mount_path))
    error_message = "mount_path must be a path without leading or trailing slash."
  }
}

variable "create_mount" {
  description = "Create the KV v2 mount at mount_path. Set false to use an existing KV v2 mount (e.g. `secret` on a dev server)."
  type        = bool
  default     = true
}

variable "max_versions" {
  description = "Versions kept per secret. Rotation needs at least the current and previous value."
  type        = number
  default     = 10

  validation {
    condition     = var.max_versions >= 3
    error_message = "max_versions must be at least 3 (pending, current and previous)."
  }
}

variable "value_key" {
  description = "Field of the KV data that holds the secret (the library's `key` option)."
  type        = string
  default     = "value"
}

variable "name_prefix" {
  description = "Prefix of the policy and auth role names the module creates."
  type        = string
  default     = "ivsecrets"

  validation {
    condition     = can(regex("^[a-z0-9_-]+$", var.name_prefix))
    error_message = "name_prefix may only use a-z 0-9 _ -."
  }
}

variable "readers" {
  description = <<-EOT
    Consumers that read secrets, by name. Each gets a policy granting read on exactly the secrets of
    its platforms x workspaces and an auth role carrying it. With auth_method = "kubernetes",
    kubernetes_service_accounts and kubernetes_namespaces bind the role.
  EOT
  type = map(object({
    platforms                   = list(string)
    workspaces                  = list(string)
    kubernetes_service_accounts = optional(list(string), [])
    kubernetes_namespaces       = optional(list(string), [])
  }))
  default = {}

  validation {
    condition     = alltrue([for name in keys(var.readers) : can(regex("^[a-z0-9_-]+$", name))])
    error_message = "reader names may only use a-z 0-9 _ -."
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
  description = "Kubernetes binding of the rotator's role (auth_method = \"kubernetes\"); the AppRole needs none."
  type = object({
    kubernetes_service_accounts = optional(list(string), [])
    kubernetes_namespaces       = optional(list(string), [])
  })
  default = {}
}

variable "auth_method" {
  description = "Auth roles to create per consumer and for the rotator: approle, kubernetes, or none."
  type        = string
  default     = "approle"

  validation {
    condition     = contains(["approle", "kubernetes", "none"], var.auth_method)
    error_message = "auth_method must be approle, kubernetes or none."
  }
}

variable "auth_backend_path" {
  description = "Path of the (existing) auth backend for the roles. Null: the auth_method's default path."
  type        = string
  default     = null
}

variable "token_ttl" {
  description = "TTL in seconds of tokens issued to the roles."
  type        = number
  default     = 900
}

variable "token_max_ttl" {
  description = "Maximum TTL in seconds of tokens issued to the roles."
  type        = number
  default     = 3600
}

variable "vault_address" {
  description = "Vault URL written into ivsecrets_config as `url`. Null: the library reads VAULT_ADDR."
  type        = string
  default     = null
}

variable "vault_namespace" {
  description = "Vault Enterprise / HCP namespace written into ivsecrets_config. Null for none."
  type        = string
  default     = null
}

variable "ivsecrets_auth" {
  description = "How the process reading ivsecrets_config logs in (`auth` option): token, approle, kubernetes or jwt."
  type        = string
  default     = "token"

  validation {
    condition     = contains(["token", "approle", "kubernetes", "jwt"], var.ivsecrets_auth)
    error_message = "ivsecrets_auth must be token, approle, kubernetes or jwt."
  }
}

variable "ivsecrets_store_options" {
  description = "Extra options for the [stores.vault] table of ivsecrets_config, e.g. { role_id_env = \"VAULT_ROLE_ID\" }."
  type        = any
  default     = {}

  validation {
    condition = try(alltrue([
      for key, value in var.ivsecrets_store_options :
      can(regex("^[A-Za-z0-9_-]+$", key)) && !contains(["plugin", "kv_version"], key) && can(tostring(value))
    ]), false)
    error_message = "ivsecrets_store_options must map bare TOML keys (A-Z a-z 0-9 _ -, not plugin, kv_version) to strings, numbers or booleans."
  }
}
