# Amplify Hosting (CloudFront in front) for web/: the demo shop and the SDK bundle. The site is
# deployed as a zip (infra/scripts/deploy-web.sh) rather than from a connected repository, so no
# Git token ever enters Terraform; connect a repository in the console if you prefer CI/CD.

resource "aws_amplify_app" "this" {
  name                  = "${var.name}-web"
  description           = "Clickstream demo shop and browser SDK (web/)"
  platform              = "WEB"
  environment_variables = var.environment_variables

  # Clean URLs onto the shop's pages (what src/clickstream/local/static.py does locally).
  custom_rule {
    source = "/products/<*>"
    target = "/product.html"
    status = "200"
  }
  custom_rule {
    source = "/category/<*>"
    target = "/index.html"
    status = "200"
  }
  custom_rule {
    source = "/search"
    target = "/search.html"
    status = "200"
  }
  custom_rule {
    source = "/cart"
    target = "/cart.html"
    status = "200"
  }
  custom_rule {
    source = "/checkout/complete"
    target = "/complete.html"
    status = "200"
  }
  custom_rule {
    source = "/checkout"
    target = "/checkout.html"
    status = "200"
  }
  custom_rule {
    source = "/signin"
    target = "/signin.html"
    status = "200"
  }
  custom_rule {
    source = "/<*>"
    target = "/404.html"
    status = "404-200"
  }

  custom_headers = <<-YAML
    customHeaders:
      - pattern: '**/*'
        headers:
          - key: Strict-Transport-Security
            value: max-age=31536000; includeSubDomains
          - key: X-Content-Type-Options
            value: nosniff
          - key: X-Frame-Options
            value: DENY
          - key: Referrer-Policy
            value: strict-origin-when-cross-origin
  YAML
}

resource "aws_amplify_branch" "this" {
  app_id      = aws_amplify_app.this.id
  branch_name = var.branch_name
  stage       = "PRODUCTION"
  framework   = "Web"
}

locals {
  url = "https://${aws_amplify_branch.this.branch_name}.${aws_amplify_app.this.default_domain}"
}
