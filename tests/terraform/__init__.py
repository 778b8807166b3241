"""Offline checks of the Terraform modules in terraform/."""
