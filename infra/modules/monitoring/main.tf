# Alerts: one customer managed key (SNS topic, log groups), the alerts topic, and the alarms
# the operations section of the README lists. Every alarm notifies the topic.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id
  region  = data.aws_region.current.name
}

data "aws_iam_policy_document" "key" {
  # checkov:skip=CKV_AWS_109:A key policy's Resource "*" means this key; the account root statement is AWS's default that delegates access to IAM.
  # checkov:skip=CKV_AWS_111:A key policy's Resource "*" means this key; write access is limited to the account and the named services.
  # checkov:skip=CKV_AWS_356:A key policy's Resource "*" means this key.
  statement {
    sid       = "AccountAdministersThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsLogGroups"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${local.region}:${local.account}:log-group:*"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublishToTheEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: alerts topic and log groups"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  kms_master_key_id = aws_kms_key.this.arn
}

data "aws_iam_policy_document" "alerts" {
  statement {
    sid       = "CloudWatchAlarms"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }

  statement {
    sid       = "AccountPrincipalsWithIamPermission"
    actions   = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes"]
    resources = [aws_sns_topic.alerts.arn]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account}:root"]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alert_emails)
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

# ---- the hourly ETL

resource "aws_cloudwatch_metric_alarm" "etl_failed" {
  alarm_name          = "${var.name}-etl-failed-executions"
  alarm_description   = "An hourly ETL execution failed, timed out or was aborted (NotifyFailure also publishes the details)."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsFailed"
  dimensions          = { StateMachineArn = var.state_machine_arn }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "etl_timed_out" {
  alarm_name          = "${var.name}-etl-timed-out-executions"
  alarm_description   = "An hourly ETL execution timed out or was aborted."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = 1
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]

  metric_query {
    id          = "stopped"
    expression  = "timedout + aborted"
    label       = "Executions timed out or aborted"
    return_data = true
  }
  metric_query {
    id = "timedout"
    metric {
      namespace   = "AWS/States"
      metric_name = "ExecutionsTimedOut"
      dimensions  = { StateMachineArn = var.state_machine_arn }
      stat        = "Sum"
      period      = 3600
    }
  }
  metric_query {
    id = "aborted"
    metric {
      namespace   = "AWS/States"
      metric_name = "ExecutionsAborted"
      dimensions  = { StateMachineArn = var.state_machine_arn }
      stat        = "Sum"
      period      = 3600
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "data_freshness" {
  alarm_name          = "${var.name}-data-freshness"
  alarm_description   = "No hourly ETL run has succeeded for ${var.freshness_hours} hours: the dashboard's data is stale."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsSucceeded"
  dimensions          = { StateMachineArn = var.state_machine_arn }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = var.freshness_hours
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "scheduler_dlq" {
  alarm_name          = "${var.name}-scheduler-dead-letters"
  alarm_description   = "EventBridge Scheduler could not start the state machine after its retries; the hour is in the dead-letter queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.scheduler_dlq_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}

# ---- ingest

resource "aws_cloudwatch_metric_alarm" "quarantine_ratio" {
  alarm_name          = "${var.name}-quarantine-ratio"
  alarm_description   = "More than ${var.quarantine_ratio_percent}% of the events received in an hour were rejected (quarantined): a broken tracker release or abuse."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  threshold           = var.quarantine_ratio_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]

  metric_query {
    id          = "ratio"
    expression  = "IF(accepted + rejected > 0, 100 * rejected / (accepted + rejected), 0)"
    label       = "Rejected events (%)"
    return_data = true
  }
  metric_query {
    id = "accepted"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "EventsAccepted"
      dimensions  = { service = var.metrics_service }
      stat        = "Sum"
      period      = 3600
    }
  }
  metric_query {
    id = "rejected"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "EventsRejected"
      dimensions  = { service = var.metrics_service }
      stat        = "Sum"
      period      = 3600
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "ingest_5xx" {
  alarm_name          = "${var.name}-ingest-5xx"
  alarm_description   = "The ingest API answered 5xx; its contract is never 5xx for any input, so this is a fault (or S3 unavailable)."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  dimensions          = { ApiId = var.ingest_api_id, Stage = var.ingest_api_stage }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "ingest_throttles" {
  alarm_name          = "${var.name}-ingest-throttles"
  alarm_description   = "The ingest Lambda was throttled (account concurrency); the API answered 429/5xx and browsers retried."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = var.ingest_function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "ingest_4xx_rate" {
  alarm_name          = "${var.name}-ingest-4xx-rate"
  alarm_description   = "More than 20% of ingest requests were answered 4xx for 15 minutes (API throttling answers 429, which counts here), e.g. the stage throttle is too low."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 3
  threshold           = 20
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * client_errors / requests, 0)"
    label       = "4xx answers (%)"
    return_data = true
  }
  metric_query {
    id = "client_errors"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "4xx"
      dimensions  = { ApiId = var.ingest_api_id, Stage = var.ingest_api_stage }
      stat        = "Sum"
      period      = 300
    }
  }
  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "Count"
      dimensions  = { ApiId = var.ingest_api_id, Stage = var.ingest_api_stage }
      stat        = "Sum"
      period      = 300
    }
  }
}

# ---- warehouse host and dashboard

resource "aws_cloudwatch_metric_alarm" "warehouse_status" {
  alarm_name          = "${var.name}-warehouse-status-check"
  alarm_description   = "The warehouse host failed its system status check; EC2 recovers it onto healthy hardware (same volume, same address)."
  namespace           = "AWS/EC2"
  metric_name         = "StatusCheckFailed_System"
  dimensions          = { InstanceId = var.warehouse_instance_id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  alarm_actions       = ["arn:${data.aws_partition.current.partition}:automate:${local.region}:ec2:recover", aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "dashboard_unhealthy" {
  alarm_name          = "${var.name}-dashboard-unhealthy"
  alarm_description   = "The internal ALB sees no healthy Shiny Server target."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.target_group_arn_suffix }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}
