terraform {
  # No provider: this module only reads tasks/manifest.json and the ASL file, so the contract
  # tests evaluate it for real (terraform apply on an empty state) without AWS.
  required_version = ">= 1.11.0"
}
