output "alerts_topic_arn" {
  description = "The SNS topic every alarm and the ETL's NotifyFailure publish to."
  value       = aws_sns_topic.alerts.arn
}

output "kms_key_arn" {
  description = "Customer managed key of the alerts topic and the log groups."
  value       = aws_kms_key.this.arn
}

output "alarm_names" {
  description = "Every alarm."
  value = [
    aws_cloudwatch_metric_alarm.etl_failed.alarm_name,
    aws_cloudwatch_metric_alarm.etl_timed_out.alarm_name,
    aws_cloudwatch_metric_alarm.data_freshness.alarm_name,
    aws_cloudwatch_metric_alarm.scheduler_dlq.alarm_name,
    aws_cloudwatch_metric_alarm.quarantine_ratio.alarm_name,
    aws_cloudwatch_metric_alarm.ingest_5xx.alarm_name,
    aws_cloudwatch_metric_alarm.ingest_throttles.alarm_name,
    aws_cloudwatch_metric_alarm.ingest_4xx_rate.alarm_name,
    aws_cloudwatch_metric_alarm.warehouse_status.alarm_name,
    aws_cloudwatch_metric_alarm.dashboard_unhealthy.alarm_name,
  ]
}
