variable "name" {
  description = "Deployment name: the repository is <name>/lambda, and only functions named <name>-* may pull from it."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer managed key that encrypts the images at rest."
  type        = string
}

variable "images_kept" {
  description = "Images the repository keeps, newest first (each make package + push adds one per image task, 6 today). Keep it above the number of images the deployed functions use, or a function may lose its image."
  type        = number
  default     = 60
  validation {
    condition     = var.images_kept >= 20
    error_message = "Keep at least 20 images, so the images the deployed functions use never expire while a new build is pushed."
  }
}

variable "force_delete" {
  description = "Let terraform destroy delete the repository with its images (dev only)."
  type        = bool
  default     = false
}
