# Alerts: one customer managed key (SNS topic, log groups, EBS volumes, the ETL's container
# images), the alerts topic, and the alarms the operations section of the README lists. Every
# alarm notifies the topic.

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
  description             = "${var.name}: alerts topic, log groups, volumes and Lambda container images"
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

# ---- alarms, as data: one entry per alarm, all created by aws_cloudwatch_metric_alarm.this.
# An entry has either `metric` (one metric and its statistic) or `math` (an expression over the
# named `metrics`); settings it does not list come from local.alarm_defaults.

locals {
  alerts        = [aws_sns_topic.alerts.arn]
  state_machine = { StateMachineArn = var.state_machine_arn }
  ingest_stage  = { ApiId = var.ingest_api_id, Stage = var.ingest_api_stage }
  app_metrics   = { service = var.metrics_service }

  # What an alarm has unless its entry says otherwise (null: none / the provider's default).
  alarm_defaults = {
    evaluation_periods  = 1
    threshold           = 1
    comparison_operator = "GreaterThanOrEqualToThreshold"
    treat_missing_data  = "notBreaching"
    alarm_actions       = local.alerts
    ok_actions          = local.alerts
  }

  alarms = {
    # the hourly ETL
    etl_failed = {
      name        = "etl-failed-executions"
      description = "An hourly ETL execution failed, timed out or was aborted (NotifyFailure also publishes the details)."
      metric      = { namespace = "AWS/States", metric_name = "ExecutionsFailed", dimensions = local.state_machine, statistic = "Sum", period = 3600 }
    }
    etl_timed_out = {
      name        = "etl-timed-out-executions"
      description = "An hourly ETL execution timed out or was aborted."
      math = {
        id         = "stopped"
        expression = "timedout + aborted"
        label      = "Executions timed out or aborted"
        metrics = {
          timedout = { namespace = "AWS/States", metric_name = "ExecutionsTimedOut", dimensions = local.state_machine, stat = "Sum", period = 3600 }
          aborted  = { namespace = "AWS/States", metric_name = "ExecutionsAborted", dimensions = local.state_machine, stat = "Sum", period = 3600 }
        }
      }
      ok_actions = null
    }
    data_freshness = {
      name                = "data-freshness"
      description         = "No hourly ETL run has succeeded for ${var.freshness_hours} hours: the dashboard's data is stale."
      metric              = { namespace = "AWS/States", metric_name = "ExecutionsSucceeded", dimensions = local.state_machine, statistic = "Sum", period = 3600 }
      evaluation_periods  = var.freshness_hours
      comparison_operator = "LessThanThreshold"
      treat_missing_data  = "breaching"
    }
    scheduler_dlq = {
      name        = "scheduler-dead-letters"
      description = "EventBridge Scheduler could not start the state machine after its retries; the hour is in the dead-letter queue."
      metric      = { namespace = "AWS/SQS", metric_name = "ApproximateNumberOfMessagesVisible", dimensions = { QueueName = var.scheduler_dlq_name }, statistic = "Maximum", period = 300 }
      ok_actions  = null
    }

    # ingest
    quarantine_ratio = {
      name        = "quarantine-ratio"
      description = "More than ${var.quarantine_ratio_percent}% of the events received in an hour were rejected (quarantined): a broken tracker release or abuse."
      math = {
        id         = "ratio"
        expression = "IF(accepted + rejected > 0, 100 * rejected / (accepted + rejected), 0)"
        label      = "Rejected events (%)"
        metrics = {
          accepted = { namespace = var.metrics_namespace, metric_name = "EventsAccepted", dimensions = local.app_metrics, stat = "Sum", period = 3600 }
          rejected = { namespace = var.metrics_namespace, metric_name = "EventsRejected", dimensions = local.app_metrics, stat = "Sum", period = 3600 }
        }
      }
      threshold           = var.quarantine_ratio_percent
      comparison_operator = "GreaterThanThreshold"
    }
    ingest_5xx = {
      name        = "ingest-5xx"
      description = "The ingest API answered 5xx; its contract is never 5xx for any input, so this is a fault (or S3 unavailable)."
      metric      = { namespace = "AWS/ApiGateway", metric_name = "5xx", dimensions = local.ingest_stage, statistic = "Sum", period = 300 }
    }
    ingest_throttles = {
      name        = "ingest-throttles"
      description = "The ingest Lambda was throttled (account concurrency); the API answered 429/5xx and browsers retried."
      metric      = { namespace = "AWS/Lambda", metric_name = "Throttles", dimensions = { FunctionName = var.ingest_function_name }, statistic = "Sum", period = 300 }
    }
    ingest_4xx_rate = {
      name        = "ingest-4xx-rate"
      description = "More than 20% of ingest requests were answered 4xx for 15 minutes (API throttling answers 429, which counts here), e.g. the stage throttle is too low."
      math = {
        id         = "rate"
        expression = "IF(requests > 0, 100 * client_errors / requests, 0)"
        label      = "4xx answers (%)"
        metrics = {
          client_errors = { namespace = "AWS/ApiGateway", metric_name = "4xx", dimensions = local.ingest_stage, stat = "Sum", period = 300 }
          requests      = { namespace = "AWS/ApiGateway", metric_name = "Count", dimensions = local.ingest_stage, stat = "Sum", period = 300 }
        }
      }
      evaluation_periods  = 3
      threshold           = 20
      comparison_operator = "GreaterThanThreshold"
      ok_actions          = null
    }

    # warehouse host and dashboard
    warehouse_status = {
      name               = "warehouse-status-check"
      description        = "The warehouse host failed its system status check; EC2 recovers it onto healthy hardware (same volume, same address)."
      metric             = { namespace = "AWS/EC2", metric_name = "StatusCheckFailed_System", dimensions = { InstanceId = var.warehouse_instance_id }, statistic = "Maximum", period = 60 }
      evaluation_periods = 2
      alarm_actions      = ["arn:${data.aws_partition.current.partition}:automate:${local.region}:ec2:recover", aws_sns_topic.alerts.arn]
      treat_missing_data = null
      ok_actions         = null
    }
    dashboard_unhealthy = {
      name                = "dashboard-unhealthy"
      description         = "The internal ALB sees no healthy Shiny Server target."
      metric              = { namespace = "AWS/ApplicationELB", metric_name = "HealthyHostCount", dimensions = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.target_group_arn_suffix }, statistic = "Minimum", period = 300 }
      evaluation_periods  = 2
      comparison_operator = "LessThanThreshold"
      treat_missing_data  = "breaching"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = { for key, alarm in local.alarms : key => merge(local.alarm_defaults, alarm) }

  alarm_name          = "${var.name}-${each.value.name}"
  alarm_description   = each.value.description
  evaluation_periods  = each.value.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison_operator
  treat_missing_data  = each.value.treat_missing_data
  alarm_actions       = each.value.alarm_actions
  ok_actions          = each.value.ok_actions

  # a single metric
  namespace   = try(each.value.metric.namespace, null)
  metric_name = try(each.value.metric.metric_name, null)
  dimensions  = try(each.value.metric.dimensions, null)
  statistic   = try(each.value.metric.statistic, null)
  period      = try(each.value.metric.period, null)

  # or an expression over named metrics
  dynamic "metric_query" {
    for_each = try([each.value.math], [])
    content {
      id          = metric_query.value.id
      expression  = metric_query.value.expression
      label       = metric_query.value.label
      return_data = true
    }
  }
  dynamic "metric_query" {
    for_each = try(each.value.math.metrics, {})
    content {
      id = metric_query.key
      metric {
        namespace   = metric_query.value.namespace
        metric_name = metric_query.value.metric_name
        dimensions  = metric_query.value.dimensions
        stat        = metric_query.value.stat
        period      = metric_query.value.period
      }
    }
  }
}
