# Secret paths and access for ivsecrets on Vault / OpenBao KV version 2.
#
# Values never enter Terraform state: this module writes only each path's metadata (no
# vault_kv_secret_v2), the policies and the auth roles. Values are written by `ivsecrets rotate`.

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
      path = replace(replace(replace(replace(var.name_template,
        "{platform}", env.platform), "{workspace}", env.workspace),
      "{PLATFORM}", upper(env.platform)), "{WORKSPACE}", upper(replace(env.workspace, "-", "_")))
    })
  }

  auth_backend = coalesce(var.auth_backend_path, var.auth_method)

  reader_environments = {
    for name, reader in var.readers : name => sort([
      for pair in setproduct(reader.platforms, reader.workspaces) : "${pair[0]}/${pair[1]}"
    ])
  }

  # Policies in Vault's JSON syntax. KV v2 serves values under data/ and versions and metadata
  # under metadata/.
  reader_policies = {
    for name, environment_keys in local.reader_environments : name => jsonencode({
      path = merge([
        for key in environment_keys : {
          "${var.mount_path}/data/${local.environments[key].path}"     = { capabilities = ["read"] }
          "${var.mount_path}/metadata/${local.environments[key].path}" = { capabilities = ["read"] }
        } if contains(keys(local.environments), key)
      ]...)
    })
  }

  # `ivsecrets rotate` stages the new value at the sibling path <path>.pending (which readers
  # cannot see), writes it to <path> with check-and-set, records current and previous versions
  # in the custom_metadata of <path>, then destroys the pending version. The rotation record
  # (the lease two operators contend for, the journal of intent, promotion times) is the sibling
  # entry <path>.lease, written with check-and-set.
  rotator_policy = jsonencode({
    path = merge([
      for env in values(local.environments) : {
        "${var.mount_path}/data/${env.path}"             = { capabilities = ["create", "read", "update"] }
        "${var.mount_path}/metadata/${env.path}"         = { capabilities = ["read", "update"] }
        "${var.mount_path}/data/${env.path}.pending"     = { capabilities = ["create", "read", "update"] }
        "${var.mount_path}/metadata/${env.path}.pending" = { capabilities = ["read"] }
        "${var.mount_path}/destroy/${env.path}.pending"  = { capabilities = ["update"] }
        "${var.mount_path}/data/${env.path}.lease"       = { capabilities = ["create", "read", "update"] }
        "${var.mount_path}/metadata/${env.path}.lease"   = { capabilities = ["read"] }
      }
    ]...)
  })
}

resource "vault_mount" "kv" {
  count = var.create_mount ? 1 : 0

  path        = var.mount_path
  type        = "kv"
  options     = { version = "2" }
  description = "ivsecrets: Intercom identity-verification secrets"
}

resource "vault_kv_secret_backend_v2" "kv" {
  count = var.create_mount ? 1 : 0

  mount        = vault_mount.kv[0].path
  max_versions = var.max_versions
}

# The path of each environment, created through its metadata so that no value is written.
resource "vault_generic_endpoint" "secret" {
  for_each = local.environments

  path                 = "${var.mount_path}/metadata/${each.value.path}"
  data_json            = jsonencode({ max_versions = var.max_versions })
  ignore_absent_fields = true
  # Deleting KV v2 metadata destroys every version: `terraform destroy` must not take the values.
  disable_delete = true

  depends_on = [vault_mount.kv]
}

resource "vault_policy" "reader" {
  for_each = var.readers

  name   = "${var.name_prefix}-reader-${each.key}"
  policy = local.reader_policies[each.key]

  lifecycle {
    precondition {
      condition     = length(setsubtract(local.reader_environments[each.key], keys(local.environments))) == 0
      error_message = "Reader ${each.key} names a platform or workspace this module does not create a secret for."
    }
  }
}

resource "vault_policy" "rotator" {
  name   = "${var.name_prefix}-rotator"
  policy = local.rotator_policy
}

# --- Auth roles: one per consumer and one for the rotator -----------------------------------------

resource "vault_approle_auth_backend_role" "reader" {
  for_each = var.auth_method == "approle" ? var.readers : {}

  backend        = local.auth_backend
  role_name      = "${var.name_prefix}-${each.key}"
  token_policies = [vault_policy.reader[each.key].name]
  token_ttl      = var.token_ttl
  token_max_ttl  = var.token_max_ttl
}

resource "vault_approle_auth_backend_role" "rotator" {
  count = var.auth_method == "approle" ? 1 : 0

  backend        = local.auth_backend
  role_name      = "${var.name_prefix}-rotator"
  token_policies = [vault_policy.rotator.name]
  token_ttl      = var.token_ttl
  token_max_ttl  = var.token_max_ttl
}

resource "vault_kubernetes_auth_backend_role" "reader" {
  for_each = var.auth_method == "kubernetes" ? var.readers : {}

  backend                          = local.auth_backend
  role_name                        = "${var.name_prefix}-${each.key}"
  bound_service_account_names      = each.value.kubernetes_service_accounts
  bound_service_account_namespaces = each.value.kubernetes_namespaces
  token_policies                   = [vault_policy.reader[each.key].name]
  token_ttl                        = var.token_ttl
  token_max_ttl                    = var.token_max_ttl

  lifecycle {
    precondition {
      condition     = length(each.value.kubernetes_service_accounts) > 0 && length(each.value.kubernetes_namespaces) > 0
      error_message = "Reader ${each.key} needs kubernetes_service_accounts and kubernetes_namespaces with auth_method = \"kubernetes\"."
    }
  }
}

resource "vault_kubernetes_auth_backend_role" "rotator" {
  count = var.auth_method == "kubernetes" ? 1 : 0

  backend                          = local.auth_backend
  role_name                        = "${var.name_prefix}-rotator"
  bound_service_account_names      = var.rotator.kubernetes_service_accounts
  bound_service_account_namespaces = var.rotator.kubernetes_namespaces
  token_policies                   = [vault_policy.rotator.name]
  token_ttl                        = var.token_ttl
  token_max_ttl                    = var.token_max_ttl

  lifecycle {
    precondition {
      condition     = length(var.rotator.kubernetes_service_accounts) > 0 && length(var.rotator.kubernetes_namespaces) > 0
      error_message = "The rotator needs kubernetes_service_accounts and kubernetes_namespaces with auth_method = \"kubernetes\"."
    }
  }
}
