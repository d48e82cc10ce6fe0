output "bucket_names" {
  description = "Bucket name by layer: raw, processed, quarantine, artifacts."
  value       = { for k, b in module.bucket : k => b.id }
}

output "bucket_arns" {
  description = "Bucket ARN by layer: raw, processed, quarantine, artifacts."
  value       = { for k, b in module.bucket : k => b.arn }
}

output "logs_bucket_name" {
  description = "The access-log bucket (S3 server access logs under s3/, ALB access logs under alb/)."
  value       = module.logs.id
}
