variable "name" {
  description = "Deployment name, the prefix of every resource name."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's address range."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones with a private subnet (the internal ALB needs two)."
  type        = number
  default     = 2
  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4
    error_message = "az_count is 2 to 4: the internal ALB needs subnets in two zones."
  }
}

variable "endpoint_az_count" {
  description = "Zones that get an ENI of each interface endpoint. One is cheapest (every zone reaches it); use az_count for zone-failure tolerance."
  type        = number
  default     = 1
}

variable "interface_endpoints" {
  description = "AWS services reached privately through interface endpoints (service names as in com.amazonaws.<region>.<service>)."
  type        = list(string)
  default     = ["sns", "states", "logs", "secretsmanager"]
}

variable "enable_nat_gateway" {
  description = "One NAT gateway for the warehouse host's package installs and OS updates. Without it the host gets SSM endpoints and must install from S3-hosted repositories only."
  type        = bool
  default     = true
}

variable "flow_log_retention_days" {
  description = "Days rejected-traffic flow logs are kept."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "Customer managed key for the flow-log group."
  type        = string
}
