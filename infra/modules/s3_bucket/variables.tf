variable "bucket" {
  description = "The bucket's name."
  type        = string
}

variable "force_destroy" {
  description = "Let terraform destroy delete the bucket while it holds objects."
  type        = bool
  default     = false
}

variable "access_log_bucket" {
  description = "Bucket receiving this bucket's server access logs; null for the log bucket itself."
  type        = string
  default     = null
}

variable "access_log_prefix" {
  description = "Key prefix of this bucket's server access logs."
  type        = string
  default     = ""
}

variable "expire_days" {
  description = "Days after which current objects expire; 0 keeps them."
  type        = number
  default     = 0
}

variable "infrequent_access_days" {
  description = "Days after which objects move to STANDARD_IA; 0 never."
  type        = number
  default     = 0
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted version is kept."
  type        = number
  default     = 30
}

variable "policy_documents" {
  description = "Extra bucket policy documents (JSON) merged after the TLS-only statements."
  type        = list(string)
  default     = []
}
