output "shop_url" {
  description = "The demo shop on Amplify Hosting (deploy it with infra/scripts/deploy-web.sh)."
  value       = module.web_hosting.url
}

output "amplify_app_id" {
  description = "The Amplify app."
  value       = module.web_hosting.app_id
}

output "amplify_branch" {
  description = "The Amplify branch serving the shop."
  value       = module.web_hosting.branch_name
}

output "ingest_endpoint" {
  description = "The SDK's endpoint: POST <ingest_endpoint>/v1/events, GET <ingest_endpoint>/v1/health."
  value       = module.ingest_api.endpoint
}

output "cognito_user_pool_id" {
  description = "The Cognito user pool."
  value       = module.auth.user_pool_id
}

output "cognito_client_id" {
  description = "The browser app client."
  value       = module.auth.client_id
}

output "shop_config" {
  description = "The shop's window.CLICKSTREAM_CONFIG (deploy-web.sh writes it to config.js)."
  value = {
    endpoint = module.ingest_api.endpoint
    appId    = "demo-shop"
    cognito = {
      region     = data.aws_region.current.name
      userPoolId = module.auth.user_pool_id
      clientId   = module.auth.client_id
    }
  }
}

output "state_machine_arn" {
  description = "The hourly ETL (start an execution with {\"hour\": \"YYYY-MM-DDTHH\"} to re-run an hour)."
  value       = module.etl.state_machine_arn
}

output "buckets" {
  description = "Bucket by layer."
  value       = module.storage.bucket_names
}

output "warehouse_instance_id" {
  description = "The warehouse host (SSM sessions and port forwarding)."
  value       = module.warehouse.instance_id
}

output "warehouse_secret_arn" {
  description = "The database credentials (DATABASE_SECRET_ARN)."
  value       = module.warehouse.secret_arn
}

output "dashboard_internal_url" {
  description = "The dashboard through the internal ALB (inside the VPC only)."
  value       = "http://${module.warehouse.dashboard_alb_dns_name}"
}

output "dashboard_port_forward_command" {
  description = "Opens the dashboard on http://127.0.0.1:8000 from your machine through SSM (AWS CLI + Session Manager plugin)."
  value       = "aws ssm start-session --region ${data.aws_region.current.name} --target ${module.warehouse.instance_id} --document-name AWS-StartPortForwardingSessionToRemoteHost --parameters '{\"host\":[\"${module.warehouse.dashboard_alb_dns_name}\"],\"portNumber\":[\"80\"],\"localPortNumber\":[\"8000\"]}'"
}

output "alerts_topic_arn" {
  description = "SNS topic of every alarm and of failed ETL runs."
  value       = module.monitoring.alerts_topic_arn
}

output "lambda_image_repository_url" {
  description = "ECR repository of the tasks deployed as container images (dist/lambda/images/push.sh pushes there)."
  value       = module.lambda_images.repository_url
}
