output "shop_url" {
  description = "The demo shop on Amplify Hosting."
  value       = module.clickstream.shop_url
}

output "amplify_app_id" {
  description = "The Amplify app (infra/scripts/deploy-web.sh)."
  value       = module.clickstream.amplify_app_id
}

output "amplify_branch" {
  description = "The Amplify branch serving the shop."
  value       = module.clickstream.amplify_branch
}

output "ingest_endpoint" {
  description = "The SDK's endpoint (POST /v1/events, GET /v1/health)."
  value       = module.clickstream.ingest_endpoint
}

output "cognito_user_pool_id" {
  description = "The Cognito user pool."
  value       = module.clickstream.cognito_user_pool_id
}

output "cognito_client_id" {
  description = "The browser app client."
  value       = module.clickstream.cognito_client_id
}

output "shop_config" {
  description = "The shop's window.CLICKSTREAM_CONFIG."
  value       = module.clickstream.shop_config
}

output "state_machine_arn" {
  description = "The hourly ETL state machine."
  value       = module.clickstream.state_machine_arn
}

output "buckets" {
  description = "Bucket by layer."
  value       = module.clickstream.buckets
}

output "warehouse_instance_id" {
  description = "The warehouse host."
  value       = module.clickstream.warehouse_instance_id
}

output "warehouse_secret_arn" {
  description = "The database credentials' secret."
  value       = module.clickstream.warehouse_secret_arn
}

output "dashboard_internal_url" {
  description = "The dashboard inside the VPC."
  value       = module.clickstream.dashboard_internal_url
}

output "dashboard_port_forward_command" {
  description = "Opens the dashboard on http://127.0.0.1:8000 through SSM."
  value       = module.clickstream.dashboard_port_forward_command
}

output "alerts_topic_arn" {
  description = "The alerts topic."
  value       = module.clickstream.alerts_topic_arn
}

output "lambda_image_repository_url" {
  description = "ECR repository of the tasks deployed as container images (dist/lambda/images/push.sh pushes there)."
  value       = module.clickstream.lambda_image_repository_url
}
