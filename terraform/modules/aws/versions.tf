terraform {
  # 1.5 for optional object attributes with defaults and lifecycle preconditions on data sources.
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }
}
