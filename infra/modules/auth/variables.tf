variable "name" {
  description = "Deployment name, the prefix of every resource name."
  type        = string
}

variable "self_signup" {
  description = "Let shoppers create their own accounts (the demo shop's sign-in page). false: only administrators create users."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Refuse to delete the user pool (its users are the shop's customers)."
  type        = bool
  default     = true
}

variable "callback_urls" {
  description = "Sign-in redirect URLs of the web app, if it uses the hosted UI. Empty: SRP sign-in from the pages only."
  type        = list(string)
  default     = []
}
