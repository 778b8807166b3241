# Vault Agent: one login per node (auto-auth, token renewed by the agent), the KV v2 secrets that
# the `vault` store writes (mount "secret", paths ivsecrets/<workspace>/<platform>, field "value")
# rendered to files that ivsecrets' `file` store reads. Templates are written atomically (a
# temporary file renamed over the old one).
pid_file = "/run/vault-agent/pid"

vault {
  address = "https://vault.example.com:8200"
}

auto_auth {
  method "approle" {
    mount_path = "auth/approle"
    config = {
      role_id_file_path                   = "/etc/vault-agent/role-id"
      secret_id_file_path                 = "/etc/vault-agent/secret-id"
      remove_secret_id_file_after_reading = false
    }
  }

  sink "file" {
    config = {
      path = "/run/vault-agent/token"
      mode = 0600
    }
  }
}

template_config {
  # KV secrets are static: the agent re-reads them at this interval.
  static_secret_render_interval = "5m"
}

template {
  contents    = "{{ with secret \"secret/data/ivsecrets/prod/web\" }}{{ .Data.data.value }}{{ end }}"
  destination = "/run/ivsecrets/web_prod"
  perms       = "0400"
}

template {
  contents    = "{{ with secret \"secret/data/ivsecrets/prod/ios\" }}{{ .Data.data.value }}{{ end }}"
  destination = "/run/ivsecrets/ios_prod"
  perms       = "0400"
}

template {
  contents    = "{{ with secret \"secret/data/ivsecrets/prod/android\" }}{{ .Data.data.value }}{{ end }}"
  destination = "/run/ivsecrets/android_prod"
  perms       = "0400"
}
