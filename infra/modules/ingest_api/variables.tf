variable "name" {
  description = "Deployment name, the prefix of every resource name."
  type        = string
}

variable "repo_root" {
  description = "Path of the repository checkout (tasks/manifest.json, dist/lambda/ from make package)."
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

variable "cors_allow_origins" {
  description = "Origins allowed to call the API from a browser (the shop's URL, e.g. https://main.d1234.amplifyapp.com). No wildcard."
  type        = list(string)
  validation {
    condition     = alltrue([for o in var.cors_allow_origins : can(regex("^https?://[^*/]+$", o))])
    error_message = "Each origin is scheme://host[:port], with no path and no wildcard."
  }
}

variable "throttling_rate_limit" {
  description = "Steady-state requests per second the API accepts before answering 429."
  type        = number
  default     = 100
}

variable "throttling_burst_limit" {
  description = "Burst of requests the API accepts before answering 429."
  type        = number
  default     = 200
}

variable "log_retention_days" {
  description = "Days access logs and function logs are kept."
  type        = number
}

variable "kms_key_arn" {
  description = "Customer managed key for the log groups."
  type        = string
}
