variable "repo_root" {
  description = "Path of the repository checkout: tasks/manifest.json and state_machines/ are read from it."
  type        = string
}

variable "resource_arns" {
  description = "ARN of every resource a manifest permission names: the buckets by layer (raw, processed, quarantine) and the database secret (database)."
  type        = map(string)
  default     = {}
}

variable "environment" {
  description = "Value of every environment variable a task may ask for in the manifest (RAW_BUCKET, DATABASE_SECRET_ARN, ...)."
  type        = map(string)
  default     = {}
}

variable "common_environment" {
  description = "Variables every function gets besides the ones its manifest entry lists (Powertools settings)."
  type        = map(string)
  default     = {}
}

variable "function_arns" {
  description = "ARN of each state-machine task's function, by task name. When set, the state machine definition is rendered with them."
  type        = map(string)
  default     = null
}

variable "placeholder_values" {
  description = "Values of the definition's other placeholders (the manifest's state_machine.placeholders), e.g. alerts_topic_arn."
  type        = map(string)
  default     = {}
}
