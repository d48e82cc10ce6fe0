variable "name" {
  description = "Deployment name, the prefix of every resource name."
  type        = string
}

variable "alert_emails" {
  description = "Addresses subscribed to the alerts topic (each must confirm the subscription e-mail)."
  type        = list(string)
  default     = []
}

variable "state_machine_arn" {
  description = "The hourly ETL state machine."
  type        = string
}

variable "ingest_api_id" {
  description = "The ingest HTTP API's id."
  type        = string
}

variable "ingest_api_stage" {
  description = "The ingest HTTP API's stage name."
  type        = string
}

variable "ingest_function_name" {
  description = "The ingest Lambda's name."
  type        = string
}

variable "scheduler_dlq_name" {
  description = "The scheduler's dead-letter queue."
  type        = string
}

variable "warehouse_instance_id" {
  description = "The warehouse host (PostgreSQL + Shiny Server)."
  type        = string
}

variable "alb_arn_suffix" {
  description = "The internal ALB's ARN suffix (CloudWatch dimension)."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "The dashboard target group's ARN suffix (CloudWatch dimension)."
  type        = string
}

variable "metrics_namespace" {
  description = "Namespace of the application's own metrics (clickstream.observability.METRICS_NAMESPACE)."
  type        = string
  default     = "Clickstream"
}

variable "metrics_service" {
  description = "The service dimension of the application's metrics (clickstream.observability.SERVICE)."
  type        = string
  default     = "clickstream"
}

variable "quarantine_ratio_percent" {
  description = "Alarm when more than this share of the events received in an hour is rejected."
  type        = number
  default     = 5
}

variable "freshness_hours" {
  description = "Alarm when no hourly run has succeeded for this many hours."
  type        = number
  default     = 3
}
