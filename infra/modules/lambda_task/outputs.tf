output "function_name" {
  description = "The function's name."
  value       = aws_lambda_function.this.function_name
}

output "arn" {
  description = "The function's ARN."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "ARN API Gateway uses to invoke the function."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_arn" {
  description = "The function's execution role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "The function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "package_type" {
  description = "How the function is deployed: Zip (make package's zip on the runtime) or Image (a container image)."
  value       = aws_lambda_function.this.package_type
}
