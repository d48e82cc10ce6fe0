output "state_machine_arn" {
  description = "The hourly ETL state machine (start a re-run of an hour here)."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_name" {
  description = "The hourly ETL state machine's name."
  value       = aws_sfn_state_machine.this.name
}

output "function_names" {
  description = "Every state-machine task's function, by task name."
  value       = { for name, f in module.function : name => f.function_name }
}

output "tasks_security_group_id" {
  description = "Security group of the in_vpc task functions (the warehouse admits it on PostgreSQL's port)."
  value       = aws_security_group.tasks.id
}

output "scheduler_dlq_name" {
  description = "Dead-letter queue of the hourly schedule."
  value       = aws_sqs_queue.scheduler_dlq.name
}

output "schedule_name" {
  description = "The EventBridge Scheduler schedule."
  value       = aws_scheduler_schedule.hourly.name
}
