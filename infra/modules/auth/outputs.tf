output "user_pool_id" {
  description = "The Cognito user pool."
  value       = aws_cognito_user_pool.this.id
}

output "user_pool_arn" {
  description = "The Cognito user pool's ARN."
  value       = aws_cognito_user_pool.this.arn
}

output "client_id" {
  description = "The browser app client (public, no secret)."
  value       = aws_cognito_user_pool_client.web.id
}

output "issuer" {
  description = "Expected `iss` of the pool's tokens (AUTH_ISSUER)."
  value       = local.issuer
}

output "jwks_url" {
  description = "Where the pool publishes its signing keys (AUTH_JWKS_URL)."
  value       = "${local.issuer}/.well-known/jwks.json"
}
