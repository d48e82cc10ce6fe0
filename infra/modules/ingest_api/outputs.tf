output "api_id" {
  description = "The HTTP API's id."
  value       = aws_apigatewayv2_api.this.id
}

output "stage_name" {
  description = "The stage serving the API."
  value       = aws_apigatewayv2_stage.default.name
}

output "endpoint" {
  description = "Base URL of the ingest API (the SDK's endpoint): POST {endpoint}/v1/events."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "function_name" {
  description = "The ingest Lambda's name."
  value       = one(values(module.function)).function_name
}

output "function_names" {
  description = "Every http task's function, by task name."
  value       = { for name, f in module.function : name => f.function_name }
}
