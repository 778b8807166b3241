terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }

  # Keep state remote and encrypted in real use, e.g.:
  # backend "s3" {
  #   bucket       = "acme-terraform-state"
  #   key          = "ivsecrets/terraform.tfstate"
  #   region       = "eu-west-1"
  #   encrypt      = true
  #   use_lockfile = true
  # }
}
