# The container images of the tasks that are too large for a zip (tasks/manifest.json
# "package": "image"): one private ECR repository. make package writes their build context and
# the commands (dist/lambda/images/push.sh) that build, tag and push them here; Terraform deploys
# them by digest (variable lambda_image_uris) and never builds them.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

resource "aws_ecr_repository" "this" {
  name = "${var.name}/lambda"
  # Tags name the task and the hash of its build context (<task>-<hash>): a tag never moves.
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Untagged images (every push is tagged, so these are leftovers) after a day"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 1
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Only the newest ${var.images_kept} images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.images_kept
        }
        action = { type = "expire" }
      },
    ]
  })
}

# Lambda pulls the image when a function is created or updated; only this deployment's functions may.
data "aws_iam_policy_document" "lambda_pull" {
  statement {
    sid     = "ThisDeploymentsFunctionsPull"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:function:${var.name}-*"]
    }
  }
}

resource "aws_ecr_repository_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy     = data.aws_iam_policy_document.lambda_pull.json
}
