terraform {
  # 1.5 for optional object attributes with defaults and lifecycle preconditions.
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 5.0"
    }
  }
}
