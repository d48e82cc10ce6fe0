output "app_id" {
  description = "The Amplify app (deploy-web.sh deploys to it)."
  value       = aws_amplify_app.this.id
}

output "branch_name" {
  description = "The branch serving the site."
  value       = aws_amplify_branch.this.branch_name
}

output "url" {
  description = "The shop's URL."
  value       = local.url
}

output "origin" {
  description = "The shop's origin, for the ingest API's CORS allow-list."
  value       = local.url
}
