locals {
  ivsecrets_store_options = merge(
    {
      for key, value in {
        url       = var.vault_address
        namespace = var.vault_namespace
        mount     = var.mount_path
        key       = var.value_key
        auth      = var.ivsecrets_auth
      } : key => value if value != null
    },
    var.ivsecrets_store_options,
  )

  # TOML for `ivsecrets verify --config`; strings are written with jsonencode, whose escapes are
  # valid in TOML basic strings. Built with join rather than templatefile so that offline tests
  # (tfparse) can render it.
  ivsecrets_config = join("\n", concat(
    [
      "# Written by the ivsecrets Terraform module for Vault / OpenBao.",
      "# Regenerated on every apply: write it to generated.toml and keep pins, known_hashes and",
      "# [workspace.*] settings in a committed ivsecrets.toml that starts with",
      "# extends = \"generated.toml\" (its keys win over these), then check the deployment with:",
      "# ivsecrets verify --config ivsecrets.toml",
      "platforms = ${jsonencode(var.platforms)}",
      "workspaces = ${jsonencode(var.workspaces)}",
      "store = \"vault\"",
      "reference = ${jsonencode(var.name_template)}",
      "",
      "[stores.vault]",
      "plugin = \"vault\"",
      "kv_version = 2",
    ],
    [for key, value in local.ivsecrets_store_options : "${key} = ${jsonencode(value)}"],
    [""],
  ))
}

output "ivsecrets_config" {
  description = "ivsecrets configuration (TOML) naming these paths; write it to a file for `ivsecrets verify --config`."
  value       = local.ivsecrets_config
}

output "environments" {
  description = "Environment key (platform/workspace) => platform, workspace and path inside the mount."
  value       = local.environments
}

output "mount_path" {
  description = "Path of the KV v2 mount."
  value       = var.mount_path
}

output "secret_paths" {
  description = "Environment key (platform/workspace) => path inside the mount (the `reference`)."
  value       = { for key, env in local.environments : key => env.path }
}

output "reader_policies" {
  description = "Reader name => Vault policy name."
  value       = { for name, policy in vault_policy.reader : name => policy.name }
}

output "rotator_policy" {
  description = "Name of the rotator's Vault policy."
  value       = vault_policy.rotator.name
}

output "auth_roles" {
  description = "Consumer name (and \"rotator\") => auth role name on auth_backend_path; empty with auth_method = \"none\"."
  value = var.auth_method == "none" ? {} : merge(
    { for name in keys(var.readers) : name => "${var.name_prefix}-${name}" },
    { rotator = "${var.name_prefix}-rotator" },
  )
}
