variable "name_prefix" {
  description = "Prefix of every name (the deployment name, e.g. clickstream-dev)."
  type        = string
}

variable "task" {
  description = "One task as the manifest module outputs it: name, handler, package (zip or image), timeout_s, memory_mb, in_vpc, environment, statements."
  type = object({
    name        = string
    handler     = string
    package     = string
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
  validation {
    condition     = contains(["zip", "image"], var.task.package)
    error_message = "A task's package (tasks/manifest.json) is \"zip\" or \"image\"."
  }
}

variable "runtime" {
  description = "Lambda runtime of a zip task; must be the one dist/lambda/build.json was built for (make package). Unused by image tasks (the image brings its runtime)."
  type        = string
}

variable "artifact" {
  description = "A zip task's uploaded zip (make package, then aws_s3_object in the caller): bucket, key, object version and base64 SHA-256 of the zip. null for an image task."
  type = object({
    bucket        = string
    key           = string
    version_id    = string
    sha256_base64 = string
  })
  default = null
}

variable "image_uri" {
  description = "An image task's container image, pinned by digest: <image_repository_url>@sha256:<digest>. null for a zip task."
  type        = string
  default     = null
}

variable "image_repository_url" {
  description = "The ECR repository an image task's image must come from (modules/lambda_images; its policy lets this deployment's functions pull)."
  type        = string
  default     = ""
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
