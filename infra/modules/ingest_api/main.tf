# The ingest API: API Gateway HTTP API (POST /v1/events, GET /v1/health; CORS allow-list,
# throttling, access logs) in front of the manifest's "http" task Lambda.

locals {
  build      = jsondecode(file("${var.repo_root}/dist/lambda/build.json"))
  http_tasks = { for name, task in module.manifest.tasks : name => task if task.trigger == "http" }
  zips       = toset([for name, task in local.http_tasks : local.build.tasks[name] if task.package == "zip"])
  routes     = toset(["POST /v1/events", "GET /v1/health"])
}

module "manifest" {
  source        = "../manifest"
  repo_root     = var.repo_root
  resource_arns = var.resource_arns
  environment   = var.environment
}

resource "aws_s3_object" "artifact" {
  for_each    = local.zips
  bucket      = var.artifacts_bucket
  key         = "lambda/${each.key}"
  source      = "${var.repo_root}/dist/lambda/${each.key}"
  source_hash = local.build.zips[each.key].sha256
}

module "function" {
  source   = "../lambda_task"
  for_each = local.http_tasks

  name_prefix = var.name
  task        = each.value
  runtime     = local.build.runtime
  artifact = each.value.package == "zip" ? {
    bucket        = aws_s3_object.artifact[local.build.tasks[each.key]].bucket
    key           = aws_s3_object.artifact[local.build.tasks[each.key]].key
    version_id    = aws_s3_object.artifact[local.build.tasks[each.key]].version_id
    sha256_base64 = local.build.zips[local.build.tasks[each.key]].sha256_base64
  } : null
  image_uri            = each.value.package == "image" ? lookup(var.image_uris, each.key, null) : null
  image_repository_url = var.image_repository_url
  # Every invocation is an HTTP request: trace only what API Gateway samples.
  tracing_mode       = "PassThrough"
  log_retention_days = var.log_retention_days
  kms_key_arn        = var.kms_key_arn
}

resource "aws_apigatewayv2_api" "this" {
  name          = "${var.name}-ingest"
  description   = "Clickstream ingest: POST /v1/events, GET /v1/health (docs/openapi.json)"
  protocol_type = "HTTP"

  # The handler answers CORS too (same allow-list, CORS_ALLOW_ORIGINS); API Gateway answers
  # preflights itself so they never reach the function.
  cors_configuration {
    allow_origins = var.cors_allow_origins
    allow_methods = ["GET", "POST", "OPTIONS"]
    allow_headers = ["content-type", "authorization"]
    max_age       = 3600
  }
}

resource "aws_apigatewayv2_integration" "ingest" {
  for_each               = local.http_tasks
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = module.function[each.key].invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = min(30000, each.value.timeout_s * 1000 + 1000)
}

resource "aws_apigatewayv2_route" "this" {
  # checkov:skip=CKV_AWS_309:Tracking is anonymous by design: browsers post events without signing in. A Cognito access token is optional and verified by the handler, which takes user_id only from a valid token.
  # One http task serves both routes (one() fails the plan if the manifest ever has two).
  for_each           = local.routes
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.key
  target             = "integrations/${one(values(aws_apigatewayv2_integration.ingest)).id}"
  authorization_type = "NONE"
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/clickstream/${var.name}/ingest-api-access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit    = var.throttling_rate_limit
    throttling_burst_limit   = var.throttling_burst_limit
    detailed_metrics_enabled = true
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    # No IP address and no user agent: the handler stores only a truncated IP; logs must not undo that.
    format = jsonencode({
      requestId        = "$context.requestId"
      requestTime      = "$context.requestTime"
      routeKey         = "$context.routeKey"
      status           = "$context.status"
      protocol         = "$context.protocol"
      responseLength   = "$context.responseLength"
      latencyMs        = "$context.responseLatency"
      integrationError = "$context.integrationErrorMessage"
      integrationMs    = "$context.integrationLatency"
    })
  }
}

resource "aws_lambda_permission" "api" {
  for_each      = local.http_tasks
  statement_id  = "AllowIngestApi"
  action        = "lambda:InvokeFunction"
  function_name = module.function[each.key].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*/v1/*"
}
