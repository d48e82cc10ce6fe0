variable "name" {
  description = "Deployment name, the prefix of every resource name."
  type        = string
}

variable "branch_name" {
  description = "The Amplify branch that serves the site (https://<branch>.<app default domain>)."
  type        = string
  default     = "main"
}

variable "environment_variables" {
  description = "Build-time variables for a repository-connected app (unused by manual deployments)."
  type        = map(string)
  default     = {}
}
