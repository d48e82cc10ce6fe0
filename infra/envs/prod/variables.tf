variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "alert_emails" {
  description = "Addresses that receive the alarms and failed-run notices (each confirms a subscription e-mail)."
  type        = list(string)
  default     = []
}

variable "extra_cors_origins" {
  description = "Origins besides the Amplify shop allowed to post events from a browser (e.g. https://www.example.com)."
  type        = list(string)
  default     = []
}

variable "warehouse_password_version" {
  description = "Bump to rotate the database password, then re-run ec2-setup.sh on the host (infra/README.md)."
  type        = number
  default     = 1
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
