# A full Vault / OpenBao stack: a KV v2 mount with the six paths, a read policy and an AppRole
# per backend and workspace, and a rotator policy and AppRole for the rotation job.

provider "vault" {
  address = var.vault_address
}

resource "vault_auth_backend" "approle" {
  type        = "approle"
  path        = "ivsecrets-approle"
  description = "ivsecrets: backends and the rotation job"
}

module "ivsecrets" {
  source = "../../modules/vault"

  platforms     = ["web", "ios", "android"]
  workspaces    = ["test", "prod"]
  mount_path    = "ivsecrets-kv"
  create_mount  = true
  name_template = "ivsecrets/{workspace}/{platform}"

  # A web backend reads only the web secret of its workspace; a mobile backend iOS and Android.
  # The deploy pipeline runs `ivsecrets verify` with its own token and policy (verifier).
  readers = {
    web-backend-prod    = { platforms = ["web"], workspaces = ["prod"] }
    web-backend-test    = { platforms = ["web"], workspaces = ["test"] }
    mobile-backend-prod = { platforms = ["ios", "android"], workspaces = ["prod"] }
    mobile-backend-test = { platforms = ["ios", "android"], workspaces = ["test"] }
    verifier            = { platforms = ["web", "ios", "android"], workspaces = ["test", "prod"] }
  }

  auth_method       = "approle"
  auth_backend_path = vault_auth_backend.approle.path

  vault_address  = var.vault_address
  ivsecrets_auth = "token"
}
