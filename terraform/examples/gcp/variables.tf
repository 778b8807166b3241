variable "project" {
  description = "Project holding the secrets and the KMS key."
  type        = string
  default     = "acme-identity"
}

variable "verifier_member" {
  description = "Identity of the deploy pipeline, which runs `ivsecrets verify` after `terraform apply` and so reads every secret."
  type        = string
  default     = "serviceAccount:ivsecrets-deploy@acme-identity.iam.gserviceaccount.com"
}
