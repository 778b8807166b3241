output "ivsecrets_config" {
  description = "Write to a file and run `ivsecrets verify --config FILE`."
  value       = module.ivsecrets.ivsecrets_config
}

output "secret_paths" {
  description = "Environment key (platform/workspace) => path inside the mount."
  value       = module.ivsecrets.secret_paths
}

output "auth_roles" {
  description = "Consumer name => AppRole role name on the ivsecrets-approle backend."
  value       = module.ivsecrets.auth_roles
}
