variable "name" {
  description = "Deployment name, the prefix of every bucket name (e.g. clickstream-dev)."
  type        = string
}

variable "raw_retention_days" {
  description = "Days raw events are kept. Raw is the source every re-run reads; keep it at least as long as you may re-process."
  type        = number
  default     = 400
}

variable "quarantine_retention_days" {
  description = "Days rejected events are kept for inspection."
  type        = number
  default     = 90
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted object version is kept (re-runs overwrite processed files)."
  type        = number
  default     = 30
}

variable "access_log_retention_days" {
  description = "Days S3 server access logs and ALB access logs are kept."
  type        = number
  default     = 90
}

variable "force_destroy" {
  description = "Let terraform destroy delete non-empty buckets (dev only)."
  type        = bool
  default     = false
}
