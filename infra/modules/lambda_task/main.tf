# One task Lambda from its manifest entry: role and policy from the entry's statements, its log
# group, the function itself. Used with for_each over the manifest (modules/ingest_api, modules/etl).

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  function_name = "${var.name_prefix}-${replace(var.task.name, "_", "-")}"
  # tasks/manifest.json "package": a zip from make package on the Python runtime, or a container
  # image (tasks whose libraries exceed Lambda's 250 MB for a zip), pinned by digest.
  is_image = var.task.package == "image"

  platform_statements = concat(
    [{
      sid       = "OwnLogs"
      actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
    }],
    var.tracing_mode == "Active" ? [{
      sid       = "Tracing"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }] : [],
    # Lambda manages the function's network interfaces with the execution role. AWS requires
    # Resource "*" for these (docs: "Configuring a Lambda function to access resources in a VPC").
    var.task.in_vpc ? [{
      sid = "VpcNetworkInterfaces"
      actions = [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"]
    }] : [],
  )
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = local.function_name
  description        = "Runs ${var.task.handler}; permissions from tasks/manifest.json"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "this" {
  # checkov:skip=CKV_AWS_111:The only write actions on "*" are the Lambda VPC network-interface actions, which AWS requires on all resources for a function in a VPC.
  # checkov:skip=CKV_AWS_356:Resource "*" appears only for X-Ray and the Lambda VPC network-interface actions, which support no narrower resource.
  dynamic "statement" {
    for_each = concat(var.task.statements, local.platform_statements)
    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "task-permissions"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_116:Invoked synchronously only (API Gateway, Step Functions); a dead-letter queue applies to asynchronous invocations. Failures reach the caller, and the state machine's Catch alerts.
  # checkov:skip=CKV_AWS_115:Reserved concurrency fails on new accounts (10 concurrent executions, none reservable); API Gateway throttling and the Map state's MaxConcurrency bound concurrency instead.
  # checkov:skip=CKV_AWS_117:in_vpc comes from the manifest: ingest and resolve_window call only public AWS APIs, so a VPC would add endpoints or NAT for nothing; every task that reaches the warehouse runs in private subnets.
  # checkov:skip=CKV_AWS_173:The environment holds only bucket names, ARNs and settings; the database password is read from Secrets Manager at run time.
  # checkov:skip=CKV_AWS_272:Artifacts are reproducible builds (make package): zips pinned by source_code_hash, images by digest in an immutable-tag repository. Code signing (AWS Signer, zips only) is an optional hardening step.
  function_name = local.function_name
  description   = "${var.task.handler} (tasks/manifest.json: ${var.task.name})"
  role          = aws_iam_role.this.arn
  architectures = ["x86_64"]
  timeout       = var.task.timeout_s
  memory_size   = var.task.memory_mb
  package_type  = local.is_image ? "Image" : "Zip"

  # Zip: the runtime, the handler and the uploaded zip (make package).
  runtime           = local.is_image ? null : var.runtime
  handler           = local.is_image ? null : var.task.handler
  s3_bucket         = local.is_image ? null : var.artifact.bucket
  s3_key            = local.is_image ? null : var.artifact.key
  s3_object_version = local.is_image ? null : var.artifact.version_id
  source_code_hash  = local.is_image ? null : var.artifact.sha256_base64

  # Image: the image by digest; the handler is its command (the Dockerfile's CMD says the same).
  image_uri = local.is_image ? var.image_uri : null

  dynamic "image_config" {
    for_each = local.is_image ? [var.task.handler] : []
    content {
      command = [image_config.value]
    }
  }

  environment {
    variables = var.task.environment
  }

  tracing_config {
    mode = var.tracing_mode
  }

  dynamic "vpc_config" {
    for_each = var.task.in_vpc ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  lifecycle {
    precondition {
      condition     = !var.task.in_vpc || (length(var.subnet_ids) > 0 && length(var.security_group_ids) > 0)
      error_message = "Task ${var.task.name} runs in the VPC (in_vpc in tasks/manifest.json) but no subnets or security groups were given."
    }
    precondition {
      condition     = local.is_image || var.artifact != null
      error_message = "Task ${var.task.name} is deployed as a zip (tasks/manifest.json \"package\": \"zip\") but has no artifact: run make package (dist/lambda/build.json)."
    }
    precondition {
      condition     = !local.is_image || (var.image_uri == null ? false : startswith(var.image_uri, "${var.image_repository_url}@sha256:"))
      error_message = "Task ${var.task.name} is deployed as a container image (tasks/manifest.json \"package\": \"image\") but lambda_image_uris has no image for it in ${var.image_repository_url} (pinned by digest, repository@sha256:...). Run make package, then the push script it prints (dist/lambda/images/push.sh), which pushes the images and writes lambda_images.auto.tfvars.json."
    }
  }

  depends_on = [aws_iam_role_policy.this]
}
