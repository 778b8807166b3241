output "ivsecrets_config" {
  description = "Write to a file and run `ivsecrets verify --config FILE`."
  value       = module.ivsecrets.ivsecrets_config
}

output "secret_arns" {
  description = "Environment key (platform/workspace) => secret ARN."
  value       = module.ivsecrets.secret_arns
}

output "kms_key_arn" {
  description = "KMS key encrypting the secrets."
  value       = module.ivsecrets.kms_key_arn
}

output "lease_table_name" {
  description = "DynamoDB table holding the rotation lease (the store option lease_table)."
  value       = module.ivsecrets.lease_table_name
}

output "backend_role_arns" {
  description = "Backend name => IAM role ARN to run it with."
  value       = { for name, role in aws_iam_role.backend : name => role.arn }
}
