output "tasks" {
  description = "Every task by name: handler, package (zip or image), trigger, timeout_s, memory_mb, in_vpc, environment (map) and IAM statements ({sid, actions, resources})."
  value       = local.tasks
}

output "state_machine" {
  description = "The manifest's state_machine entry: name, definition path, placeholders, schedule."
  value       = local.state_machine
}

output "definition_variable_names" {
  description = "The exact set of variables templatefile() is given for the state machine definition."
  value       = local.definition_variable_names
}

output "definition" {
  description = "The state machine definition (ASL JSON) with every placeholder filled; null until function_arns is set."
  value       = local.definition
}
