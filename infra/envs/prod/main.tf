# Production: deletion protection, longer retention, interface endpoints in every zone.

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = "clickstream"
      Environment = "prod"
      ManagedBy   = "terraform"
    }
  }
}

module "clickstream" {
  source    = "../../modules/deployment"
  name      = "clickstream-prod"
  repo_root = abspath("${path.root}/../../..")

  alert_emails               = var.alert_emails
  extra_cors_origins         = var.extra_cors_origins
  warehouse_password_version = var.warehouse_password_version
  lambda_image_uris          = var.lambda_image_uris

  warehouse_instance_type  = "t3.medium"
  warehouse_data_volume_gb = 50
  endpoint_az_count        = 2
  deletion_protection      = true
  force_destroy            = false
  log_retention_days       = 365
  raw_retention_days       = 400
}
