output "host" {
  description = "Fixed private address of the warehouse (PostgreSQL)."
  value       = local.host
}

output "port" {
  description = "PostgreSQL's port."
  value       = local.port
}

output "secret_arn" {
  description = "Secrets Manager secret with host, port, username, password, dbname (DATABASE_SECRET_ARN)."
  value       = aws_secretsmanager_secret.database.arn
}

output "instance_id" {
  description = "The warehouse host (target of SSM sessions and port forwarding)."
  value       = aws_instance.host.id
}

output "dashboard_alb_dns_name" {
  description = "Internal DNS name of the dashboard's ALB (resolves inside the VPC only)."
  value       = aws_lb.dashboard.dns_name
}

output "alb_arn_suffix" {
  description = "The ALB's ARN suffix (CloudWatch dimension)."
  value       = aws_lb.dashboard.arn_suffix
}

output "target_group_arn_suffix" {
  description = "The dashboard target group's ARN suffix (CloudWatch dimension)."
  value       = aws_lb_target_group.shiny.arn_suffix
}

output "host_security_group_id" {
  description = "Security group of the warehouse host."
  value       = aws_security_group.host.id
}
