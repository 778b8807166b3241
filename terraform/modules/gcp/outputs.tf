locals {
  ivsecrets_store_options = merge({ project = var.project }, var.ivsecrets_store_options)

  # TOML for `ivsecrets verify --config`; strings are written with jsonencode, whose escapes are
  # valid in TOML basic strings. Built with join rather than templatefile so that offline tests
  # (tfparse) can render it.
  ivsecrets_config = join("\n", concat(
    [
      "# Written by the ivsecrets Terraform module for Google Secret Manager.",
      "# Regenerated on every apply: write it to generated.toml and keep pins, known_hashes and",
      "# [workspace.*] settings in a committed ivsecrets.toml that starts with",
      "# extends = \"generated.toml\" (its keys win over these), then check the deployment with:",
      "# ivsecrets verify --config ivsecrets.toml",
      "platforms = ${jsonencode(var.platforms)}",
      "workspaces = ${jsonencode(var.workspaces)}",
      "store = \"gcp\"",
      "reference = ${jsonencode(var.name_template)}",
      "",
      "[stores.gcp]",
      "plugin = \"gcp\"",
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
  description = "Environment key (platform/workspace) => platform, workspace and secret id."
  value       = local.environments
}

output "secret_ids" {
  description = "Environment key (platform/workspace) => secret id."
  value       = { for key, secret in google_secret_manager_secret.this : key => secret.secret_id }
}

output "secret_names" {
  description = "Environment key (platform/workspace) => full resource name (projects/P/secrets/ID)."
  value       = { for key, secret in google_secret_manager_secret.this : key => secret.name }
}

output "rotator_role" {
  description = "Name of the rotator's custom role (null without rotator.members)."
  value       = length(var.rotator.members) > 0 ? local.rotator_role : null
}
