output "ivsecrets_config" {
  description = "Write to a file and run `ivsecrets verify --config FILE`."
  value       = module.ivsecrets.ivsecrets_config
}

output "secret_ids" {
  description = "Environment key (platform/workspace) => secret id."
  value       = module.ivsecrets.secret_ids
}

output "backend_service_accounts" {
  description = "Backend name => service account to run it as."
  value       = { for name, account in google_service_account.backend : name => account.email }
}
