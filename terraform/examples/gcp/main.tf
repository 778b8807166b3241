# A full GCP stack: the six secrets encrypted with a Cloud KMS key (CMEK), one service account per
# backend and workspace, and one for the rotation job.

provider "google" {
  project = var.project
}

data "google_project" "this" {
  project_id = var.project
}

resource "google_project_service" "secretmanager" {
  project            = var.project
  service            = "secretmanager.googleapis.com"
  disable_on_destroy = false
}

# --- CMEK: a key in "global" for automatic replication -------------------------------------------

resource "google_kms_key_ring" "ivsecrets" {
  project  = var.project
  name     = "ivsecrets"
  location = "global"
}

resource "google_kms_crypto_key" "secrets" {
  name            = "secrets"
  key_ring        = google_kms_key_ring.ivsecrets.id
  rotation_period = "7776000s" # 90 days

  lifecycle {
    prevent_destroy = true
  }
}

# Secret Manager encrypts with the key as its service agent.
resource "google_kms_crypto_key_iam_member" "secretmanager_agent" {
  crypto_key_id = google_kms_crypto_key.secrets.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-secretmanager.iam.gserviceaccount.com"

  depends_on = [google_project_service.secretmanager]
}

# --- Identities ------------------------------------------------------------------------------------

locals {
  # A web backend reads only the web secret of its workspace; a mobile backend iOS and Android.
  backends = {
    web-backend-prod    = { platforms = ["web"], workspaces = ["prod"] }
    web-backend-test    = { platforms = ["web"], workspaces = ["test"] }
    mobile-backend-prod = { platforms = ["ios", "android"], workspaces = ["prod"] }
    mobile-backend-test = { platforms = ["ios", "android"], workspaces = ["test"] }
  }
}

resource "google_service_account" "backend" {
  for_each = local.backends

  project      = var.project
  account_id   = "ivs-${each.key}"
  display_name = "ivsecrets example: ${each.key}"
}

resource "google_service_account" "rotator" {
  project      = var.project
  account_id   = "ivs-rotator" # also in local.rotator_member
  display_name = "ivsecrets example: rotation job"
}

locals {
  # Members are spelled out (known at plan time) rather than read from the computed email,
  # because they key the module's IAM bindings.
  backend_members = {
    for name, account in google_service_account.backend :
    name => "serviceAccount:${account.account_id}@${var.project}.iam.gserviceaccount.com"
  }
  rotator_member = "serviceAccount:ivs-rotator@${var.project}.iam.gserviceaccount.com"
}

module "ivsecrets" {
  source = "../../modules/gcp"

  project      = var.project
  platforms    = ["web", "ios", "android"]
  workspaces   = ["test", "prod"]
  kms_key_name = google_kms_crypto_key.secrets.id

  readers = merge(
    {
      for name, backend in local.backends : name => merge(backend, {
        members = [local.backend_members[name]]
      })
    },
    {
      verifier = {
        platforms  = ["web", "ios", "android"]
        workspaces = ["test", "prod"]
        members    = [var.verifier_member]
      }
    },
  )

  rotator = { members = [local.rotator_member] }

  tags = { team = "identity" }

  # The rotator's member is spelled out above, so its account is an explicit dependency.
  depends_on = [
    google_kms_crypto_key_iam_member.secretmanager_agent,
    google_service_account.rotator,
  ]
}
