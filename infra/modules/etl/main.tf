# The hourly ETL: the manifest's "state_machine" tasks as Lambdas (for_each; in_vpc ones in the
# private subnets; zips or container images as the manifest's "package" says), the Step Functions
# Standard state machine from state_machines/ (templatefile through the manifest module), and the
# EventBridge Scheduler schedule that starts it hourly.

data "aws_partition" "current" {}

locals {
  build    = jsondecode(file("${var.repo_root}/dist/lambda/build.json"))
  sm_tasks = { for name, task in module.manifest.tasks : name => task if task.trigger == "state_machine" }
  # Zip tasks run make package's zip (build.json maps each to its zip); image tasks run the image
  # var.image_uris pins.
  zips    = toset([for name, task in local.sm_tasks : local.build.tasks[name] if task.package == "zip"])
  sm_name = "${var.name}-${module.manifest.state_machine.name}"
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

resource "aws_security_group" "tasks" {
  # checkov:skip=CKV2_AWS_5:Attached to the in_vpc task functions through modules/lambda_task (vpc_config), which checkov does not follow across modules.
  name        = "${var.name}-etl-tasks"
  description = "ETL Lambdas: out to AWS endpoints, S3 and the warehouse only"
  vpc_id      = var.vpc_id

  egress {
    description = "Interface endpoints (SNS, Step Functions, Logs, Secrets Manager)"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr_block]
  }

  egress {
    description     = "S3 through the gateway endpoint"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    prefix_list_ids = [var.s3_prefix_list_id]
  }

  egress {
    description = "PostgreSQL on the warehouse host"
    from_port   = var.warehouse_port
    to_port     = var.warehouse_port
    protocol    = "tcp"
    cidr_blocks = ["${var.warehouse_host}/32"]
  }
}

module "function" {
  source   = "../lambda_task"
  for_each = local.sm_tasks

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
  subnet_ids           = var.private_subnet_ids
  security_group_ids   = [aws_security_group.tasks.id]
  # One execution an hour: trace all of it.
  tracing_mode       = "Active"
  log_retention_days = var.log_retention_days
  kms_key_arn        = var.kms_key_arn
}

# The definition with its placeholders filled: ${<task>_function_arn} for every state-machine
# task and the manifest's other placeholders (alerts_topic_arn). Same module, evaluated by the
# contract tests, so the placeholders and the variables cannot drift apart.
module "definition" {
  source             = "../manifest"
  repo_root          = var.repo_root
  resource_arns      = var.resource_arns # the module derives every task's statements and environment too:
  environment        = var.environment   # without these its lookups fail the plan
  function_arns      = { for name, f in module.function : name => f.arn }
  placeholder_values = { alerts_topic_arn = var.alerts_topic_arn }
}

# ---- Step Functions

resource "aws_cloudwatch_log_group" "state_machine" {
  # /aws/vendedlogs/ keeps Step Functions' log delivery policy small.
  name              = "/aws/vendedlogs/states/${local.sm_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  name               = "${local.sm_name}-states"
  description        = "Runs ${module.manifest.state_machine.definition}"
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
}

data "aws_iam_policy_document" "state_machine" {
  # checkov:skip=CKV_AWS_111:Resource "*" only for Step Functions' log delivery and X-Ray actions, which support no resource-level permissions.
  # checkov:skip=CKV_AWS_356:Resource "*" only for Step Functions' log delivery and X-Ray actions, which support no resource-level permissions.
  statement {
    sid       = "InvokeTaskFunctions"
    actions   = ["lambda:InvokeFunction"]
    resources = flatten([for f in module.function : [f.arn, "${f.arn}:*"]])
  }

  statement {
    sid       = "NotifyFailure"
    actions   = ["sns:Publish"]
    resources = [var.alerts_topic_arn]
  }

  statement {
    sid       = "PublishToTheEncryptedTopic"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid = "ExecutionLogs"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "run-hourly-etl"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}

resource "aws_sfn_state_machine" "this" {
  name       = local.sm_name
  type       = "STANDARD"
  role_arn   = aws_iam_role.state_machine.arn
  definition = module.definition.definition

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    include_execution_data = true # payloads carry S3 keys and counts, never events
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  depends_on = [aws_iam_role_policy.state_machine]
}

# ---- EventBridge Scheduler: hourly, retried, dead-lettered

resource "aws_sqs_queue" "scheduler_dlq" {
  name                      = "${var.name}-etl-schedule-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${local.sm_name}-scheduler"
  description        = "Starts ${local.sm_name} every hour"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "StartHourlyRun"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.this.arn]
  }

  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.scheduler_dlq.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "start-hourly-etl"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "hourly" {
  # checkov:skip=CKV_AWS_297:The schedule holds no data but a constant input template ({"scheduled_time": ...}); the AWS owned key suffices.
  name                         = "${local.sm_name}-hourly"
  description                  = "Runs the previous full hour through the ETL (ResolveWindow turns the scheduled time into that hour)"
  schedule_expression          = module.manifest.state_machine.schedule
  schedule_expression_timezone = "UTC"
  state                        = var.schedule_enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_sfn_state_machine.this.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ scheduled_time = "<aws.scheduler.scheduled-time>" })

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 10
    }

    dead_letter_config {
      arn = aws_sqs_queue.scheduler_dlq.arn
    }
  }
}
