output "repository_url" {
  description = "Where the push script pushes the images: <account>.dkr.ecr.<region>.amazonaws.com/<name>/lambda."
  value       = aws_ecr_repository.this.repository_url
}

output "repository_name" {
  description = "The repository's name (<name>/lambda)."
  value       = aws_ecr_repository.this.name
}

output "repository_arn" {
  description = "The repository's ARN."
  value       = aws_ecr_repository.this.arn
}
