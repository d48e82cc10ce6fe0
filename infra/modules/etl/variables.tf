variable "name" {
  description = "Deployment name, the prefix of every resource name."
  type        = string
}

variable "repo_root" {
  description = "Path of the repository checkout (tasks/manifest.json, state_machines/, dist/lambda/ from make package)."
  type        = string
}

variable "artifacts_bucket" {
  description = "Bucket the Lambda zips are uploaded to."
  type        = string
}

variable "image_uris" {
  description = "Container image of each image task (tasks/manifest.json \"package\": \"image\"), by task name, pinned by digest: <image_repository_url>@sha256:<digest>."
  type        = map(string)
  default     = {}
}

variable "image_repository_url" {
  description = "The ECR repository the images come from (modules/lambda_images)."
  type        = string
}

variable "resource_arns" {
  description = "ARN of every resource a manifest permission names (raw, processed, quarantine buckets; database secret)."
  type        = map(string)
}

variable "environment" {
  description = "Value of every environment variable a task may ask for in the manifest."
  type        = map(string)
}

variable "vpc_id" {
  description = "The VPC of the in_vpc tasks."
  type        = string
}

variable "vpc_cidr_block" {
  description = "The VPC's range (interface endpoints answer inside it)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets for the in_vpc tasks."
  type        = list(string)
}

variable "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint (egress rule for the in_vpc tasks)."
  type        = string
}

variable "warehouse_host" {
  description = "Private address of the PostgreSQL warehouse."
  type        = string
}

variable "warehouse_port" {
  description = "PostgreSQL port of the warehouse."
  type        = number
  default     = 5432
}

variable "alerts_topic_arn" {
  description = "SNS topic NotifyFailure publishes to (the ASL placeholder alerts_topic_arn)."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer managed key of the alerts topic and the log groups."
  type        = string
}

variable "schedule_enabled" {
  description = "Start the state machine every hour (the manifest's schedule). false: only manual runs."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days function and execution logs are kept."
  type        = number
}
