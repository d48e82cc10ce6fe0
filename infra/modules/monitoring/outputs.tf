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
  value       = [for alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_name]
}
