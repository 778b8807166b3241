# Secret containers and access for ivsecrets on Google Secret Manager.
#
# Values never enter Terraform state: this module creates the six secrets (no
# google_secret_manager_secret_version) and who may read or rotate them. Values are written by
# `ivsecrets rotate`, which also moves the current/previous/pending version aliases.

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

  # Replication as data, so the dynamic blocks below only project it.
  replication = {
    automatic     = length(var.replicas) == 0
    kms_key_names = var.kms_key_name == null ? [] : [var.kms_key_name]
    replicas      = var.replicas
  }
  encrypted_with_cmek = (
    local.replication.automatic
    ? var.kms_key_name != null
    : alltrue([for replica in values(var.replicas) : replica.kms_key_name != null])
  )

  reader_environments = {
    for name, reader in var.readers : name => sort([
      for pair in setproduct(reader.platforms, reader.workspaces) : "${pair[0]}/${pair[1]}"
    ])
  }

  # Metadata only (aliases, versions list), never the payload: lets `ivsecrets verify` see which
  # version is current without a write right.
  reader_roles = ["roles/secretmanager.secretAccessor", "roles/secretmanager.viewer"]

  reader_bindings = merge([
    for name, reader in var.readers : merge([
      for environment in local.reader_environments[name] : {
        for pair in setproduct(reader.members, local.reader_roles) :
        "${name}|${environment}|${pair[1]}|${pair[0]}" => {
          reader      = name
          environment = environment
          member      = pair[0]
          role        = pair[1]
        }
      }
    ]...)
  ]...)

  # Exactly what `ivsecrets rotate` calls, granted per secret through one custom role. No
  # predefined role fits: secretVersionManager cannot move aliases (secrets.update).
  rotator_permissions = [
    "secretmanager.secrets.get",      # aliases, annotations and the etag
    "secretmanager.secrets.update",   # move aliases, record Intercom secret ids in annotations
    "secretmanager.versions.access",  # read the staged and current values
    "secretmanager.versions.add",     # the new version
    "secretmanager.versions.destroy", # discard an abandoned pending version
    "secretmanager.versions.disable", # retire the previous version
    "secretmanager.versions.get",     # version state and creation time
  ]
  # Spelled out rather than read from the resource, so that the binding keys are known at plan
  # time.
  rotator_role = "projects/${var.project}/roles/${var.rotator.role_id}"

  rotator_bindings = {
    for pair in setproduct(keys(local.environments), var.rotator.members) :
    "${pair[0]}|${pair[1]}" => {
      environment = pair[0]
      member      = pair[1]
    }
  }
}

resource "google_secret_manager_secret" "this" {
  for_each = local.environments

  project   = var.project
  secret_id = each.value.name

  labels = merge(var.tags, {
    "managed-by"          = "terraform"
    "ivsecrets-platform"  = each.value.platform
    "ivsecrets-workspace" = each.value.workspace
  })

  # Kept above the dynamic block: tfparse, which the offline tests use, does not expand dynamic
  # blocks that follow a lifecycle block in a called module.
  lifecycle {
    # `ivsecrets rotate` moves the current/previous/pending aliases and records each version's
    # Intercom secret id in annotations; Terraform must not undo either.
    ignore_changes = [version_aliases, annotations]

    precondition {
      condition     = !var.require_cmek || local.encrypted_with_cmek
      error_message = "require_cmek is set: give kms_key_name (automatic replication) or a kms_key_name for every replica."
    }
  }

  dynamic "replication" {
    for_each = [local.replication]

    content {
      dynamic "auto" {
        for_each = replication.value.automatic ? [replication.value] : []

        content {
          dynamic "customer_managed_encryption" {
            for_each = auto.value.kms_key_names

            content {
              kms_key_name = customer_managed_encryption.value
            }
          }
        }
      }

      dynamic "user_managed" {
        for_each = replication.value.automatic ? [] : [replication.value]

        content {
          dynamic "replicas" {
            for_each = user_managed.value.replicas

            content {
              location = replicas.key

              dynamic "customer_managed_encryption" {
                for_each = replicas.value.kms_key_name == null ? [] : [replicas.value.kms_key_name]

                content {
                  kms_key_name = customer_managed_encryption.value
                }
              }
            }
          }
        }
      }
    }
  }
}

resource "google_project_iam_custom_role" "rotator" {
  count = length(var.rotator.members) > 0 ? 1 : 0

  project     = var.project
  role_id     = var.rotator.role_id
  title       = "ivsecrets rotator"
  description = "Rotate the ivsecrets secrets (granted per secret, never on the project)."
  permissions = local.rotator_permissions
}

resource "google_secret_manager_secret_iam_member" "reader" {
  for_each = local.reader_bindings

  project   = var.project
  secret_id = google_secret_manager_secret.this[each.value.environment].secret_id
  role      = each.value.role
  member    = each.value.member

  lifecycle {
    precondition {
      condition     = contains(keys(local.environments), each.value.environment)
      error_message = "Reader ${each.value.reader} names a platform or workspace this module does not create a secret for."
    }
  }
}

resource "google_secret_manager_secret_iam_member" "rotator" {
  for_each = local.rotator_bindings

  project   = var.project
  secret_id = google_secret_manager_secret.this[each.value.environment].secret_id
  role      = local.rotator_role
  member    = each.value.member

  depends_on = [google_project_iam_custom_role.rotator]
}
