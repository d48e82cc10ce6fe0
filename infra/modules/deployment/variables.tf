variable "name" {
  description = "Deployment name, the prefix of every resource name (lowercase letters, digits, dashes; at most 20 characters so bucket names fit)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name))
    error_message = "name is 2-20 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "repo_root" {
  description = "Path of the repository checkout: tasks/manifest.json, state_machines/, infra/scripts/ and dist/ (make package) are read from it."
  type        = string
}

variable "extra_cors_origins" {
  description = "Origins besides the Amplify site allowed to post events from a browser (your own shop, e.g. https://www.example.com)."
  type        = list(string)
  default     = []
}

variable "alert_emails" {
  description = "Addresses subscribed to the alerts topic."
  type        = list(string)
  default     = []
}

variable "vpc_cidr_block" {
  description = "The VPC's address range."
  type        = string
  default     = "10.40.0.0/16"
}

variable "enable_nat_gateway" {
  description = "One NAT gateway (about $33 a month plus data) so the warehouse host can install packages and updates. false: SSM endpoints instead, and installs must come from S3-hosted repositories."
  type        = bool
  default     = true
}

variable "endpoint_az_count" {
  description = "Zones holding an ENI of each interface endpoint (each costs about $7.30 a month per zone)."
  type        = number
  default     = 1
}

variable "warehouse_instance_type" {
  description = "EC2 type of the warehouse host (PostgreSQL + Shiny Server)."
  type        = string
  default     = "t3.small"
}

variable "warehouse_data_volume_gb" {
  description = "Size of the warehouse's encrypted data volume."
  type        = number
  default     = 20
}

variable "warehouse_password_version" {
  description = "Bump to rotate the database password (then re-run ec2-setup.sh on the host)."
  type        = number
  default     = 1
}

variable "dashboard_allowed_cidrs" {
  description = "Ranges that may open the dashboard through the internal ALB (default: the VPC)."
  type        = list(string)
  default     = []
}

variable "dashboard_certificate_arn" {
  description = "ACM certificate for HTTPS on the internal ALB (optional)."
  type        = string
  default     = ""
}

variable "self_signup" {
  description = "Shoppers may create their own Cognito accounts."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the user pool, the ALB and the warehouse host from deletion."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let terraform destroy delete non-empty buckets (dev only)."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Days CloudWatch log groups are kept."
  type        = number
  default     = 30
}

variable "raw_retention_days" {
  description = "Days raw events are kept in S3 (re-runs read them)."
  type        = number
  default     = 400
}

variable "schedule_enabled" {
  description = "Run the ETL every hour."
  type        = bool
  default     = true
}

variable "ingest_rate_limit" {
  description = "Requests per second the ingest API accepts before answering 429."
  type        = number
  default     = 100
}

variable "ingest_burst_limit" {
  description = "Request burst the ingest API accepts before answering 429."
  type        = number
  default     = 200
}

variable "lambda_image_uris" {
  description = "Container image of each task deployed as an image (tasks/manifest.json \"package\": \"image\"), by task name, pinned by digest in the repository this stack creates (output lambda_image_repository_url): <account>.dkr.ecr.<region>.amazonaws.com/<name>/lambda@sha256:<digest>. The push script make package prints (dist/lambda/images/push.sh) writes them to lambda_images.auto.tfvars.json."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for uri in values(var.lambda_image_uris) : can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[a-z0-9][a-z0-9._/-]*@sha256:[0-9a-f]{64}$", uri))])
    error_message = "Each image is an ECR image pinned by digest, <account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex digits>; a tag could change without a plan."
  }
}
