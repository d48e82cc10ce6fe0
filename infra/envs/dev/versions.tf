terraform {
  # 1.11: write-only arguments (the database password never reaches the state).
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }

  # State is local by default. For a team, keep it in S3 with locking, e.g.:
  # backend "s3" {
  #   bucket       = "<your-terraform-state-bucket>"
  #   key          = "clickstream/dev/terraform.tfstate"
  #   region       = "<region>"
  #   use_lockfile = true
  # }
}
