variable "name_prefix" {
  description = "Prefix of every name (the deployment name, e.g. clickstream-dev)."
  type        = string
}

variable "task" {
  description = "One task as the manifest module outputs it: name, handler, timeout_s, memory_mb, in_vpc, environment, statements."
  type = object({
    name        = string
    handler     = string
    timeout_s   = number
    memory_mb   = number
    in_vpc      = bool
    environment = map(string)
    statements = list(object({
      sid       = string
      actions   = list(string)
      resources = list(string)
    }))
  })
}

variable "runtime" {
  description = "Lambda runtime; must be the one dist/lambda/build.json was built for (make package)."
  type        = string
}

variable "artifact" {
  description = "The uploaded zip (make package, then aws_s3_object in the caller): bucket, key, object version and base64 SHA-256 of the zip."
  type = object({
    bucket        = string
    key           = string
    version_id    = string
    sha256_base64 = string
  })
}

variable "subnet_ids" {
  description = "Private subnets for a task with in_vpc = true."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups for a task with in_vpc = true."
  type        = list(string)
  default     = []
}

variable "tracing_mode" {
  description = "X-Ray tracing: Active records every invocation, PassThrough only what the caller samples."
  type        = string
  default     = "PassThrough"
  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode is Active or PassThrough."
  }
}

variable "log_retention_days" {
  description = "Days the function's CloudWatch logs are kept."
  type        = number
}

variable "kms_key_arn" {
  description = "Customer managed key that encrypts the function's log group."
  type        = string
}
