terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 5.0"
    }
  }

  # Keep state remote in real use, e.g.:
  # backend "gcs" {
  #   bucket = "acme-terraform-state"
  #   prefix = "ivsecrets"
  # }
}
