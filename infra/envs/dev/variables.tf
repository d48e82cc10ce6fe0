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
