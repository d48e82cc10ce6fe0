# Development: cheapest settings, easy to tear down (terraform destroy empties the buckets).

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = "clickstream"
      Environment = "dev"
      ManagedBy   = "terraform"
    }
  }
}

module "clickstream" {
  source    = "../../modules/deployment"
  name      = "clickstream-dev"
  repo_root = abspath("${path.root}/../../..")

  alert_emails               = var.alert_emails
  extra_cors_origins         = var.extra_cors_origins
  warehouse_password_version = var.warehouse_password_version
  lambda_image_uris          = var.lambda_image_uris

  warehouse_instance_type = "t3.small"
  endpoint_az_count       = 1
  deletion_protection     = false
  force_destroy           = true
  log_retention_days      = 14
  raw_retention_days      = 90
}
