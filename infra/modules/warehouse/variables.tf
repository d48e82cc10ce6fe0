variable "name" {
  description = "Deployment name, the prefix of every resource name."
  type        = string
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "vpc_cidr_block" {
  description = "The VPC's range (who may open the dashboard through the internal ALB)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets: the host goes in the first, the internal ALB spans all."
  type        = list(string)
}

variable "private_subnet_cidr_blocks" {
  description = "Ranges of the private subnets, same order (the host's fixed address is taken from the first)."
  type        = list(string)
}

variable "host_number" {
  description = "Host number of the warehouse's fixed private address in the first private subnet (cidrhost)."
  type        = number
  default     = 10
}

variable "instance_type" {
  description = "EC2 instance type of the warehouse host (PostgreSQL + Shiny Server)."
  type        = string
  default     = "t3.small"
}

variable "root_volume_gb" {
  description = "Size of the encrypted root volume (OS, Shiny Server, the dashboard's venv)."
  type        = number
  default     = 20
}

variable "data_volume_gb" {
  description = "Size of the encrypted data volume mounted at /var/lib/pgsql (the warehouse). Survives instance replacement."
  type        = number
  default     = 20
}

variable "ami_ssm_parameter" {
  description = "SSM public parameter naming the AMI (Amazon Linux 2023). The AMI is read once; later AMI releases do not replace the host."
  type        = string
  default     = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

variable "database_name" {
  description = "PostgreSQL database of the warehouse."
  type        = string
  default     = "clickstream"
}

variable "database_user" {
  description = "PostgreSQL role the ETL and the dashboard use."
  type        = string
  default     = "clickstream"
}

variable "password_version" {
  description = "Bump to rotate the database password: a new random one is written to the secret (write-only; never in state), then re-run ec2-setup.sh on the host (infra/README.md)."
  type        = number
  default     = 1
}

variable "database_client_security_group_ids" {
  description = "Security groups admitted on PostgreSQL's port (the ETL task functions)."
  type        = list(string)
}

variable "dashboard_allowed_cidrs" {
  description = "Ranges that may open the dashboard through the internal ALB (default: the VPC, i.e. SSM port forwarding or a VPN into it)."
  type        = list(string)
  default     = []
}

variable "certificate_arn" {
  description = "ACM certificate for an HTTPS listener on the internal ALB. Empty: HTTP inside the VPC only."
  type        = string
  default     = ""
}

variable "dashboard_bundle" {
  description = "The dashboard bundle from make package (dist/dashboard/dashboard.zip): local path and base64 SHA-256."
  type = object({
    path   = string
    sha256 = string
  })
}

variable "artifacts_bucket" {
  description = "Bucket the dashboard bundle is uploaded to."
  type        = string
}

variable "artifacts_bucket_arn" {
  description = "ARN of the artifacts bucket."
  type        = string
}

variable "logs_bucket" {
  description = "Bucket for the ALB's access logs (prefix alb/)."
  type        = string
}

variable "deletion_protection" {
  description = "Protect the ALB and the host from deletion."
  type        = bool
  default     = true
}

variable "setup_script_path" {
  description = "The provisioning script the host runs at first boot (infra/scripts/ec2-setup.sh)."
  type        = string
}

variable "log_retention_days" {
  description = "Days the host's setup log is kept in CloudWatch."
  type        = number
}

variable "kms_key_arn" {
  description = "Customer managed key for the host's log group and its EBS volumes."
  type        = string
}
