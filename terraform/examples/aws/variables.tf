variable "region" {
  description = "Region of the secrets."
  type        = string
  default     = "eu-west-1"
}

variable "verifier_role_name" {
  description = "Existing IAM role of the deploy pipeline, which runs `ivsecrets verify` after `terraform apply` and so reads every secret."
  type        = string
  default     = "ivsecrets-deploy"
}

variable "rotation_lambda_arn" {
  description = "Rotation Lambda (see the rotation docs); null to rotate with `ivsecrets rotate` only."
  type        = string
  default     = null
}
