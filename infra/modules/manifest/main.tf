# The task manifest as Terraform data: every Lambda's settings, environment and IAM statements,
# and the state machine definition with its placeholders filled. One place turns the manifest's
# permission strings into IAM, so the functions' policies are exactly what the manifest says.

locals {
  manifest      = jsondecode(file("${var.repo_root}/tasks/manifest.json"))
  state_machine = local.manifest.state_machine

  # "s3:PutObject raw/*"             -> s3:PutObject on arn:aws:s3:::<raw bucket>/raw/*
  # "s3:ListBucket processed"        -> s3:ListBucket on the processed bucket itself
  # "secretsmanager:GetSecretValue database" -> on the database secret
  # The first path segment of an S3 target is its layer: keys carry the layer prefix in
  # every bucket (src/clickstream/layout.py), so one bucket per layer or one for all both work.
  grants = {
    for task in local.manifest.tasks : task.name => [
      for permission in task.permissions : {
        action = split(" ", permission)[0]
        target = split(" ", permission)[1]
        scope  = split("/", split(" ", permission)[1])[0]
      }
    ]
  }

  statements = {
    for name, grants in local.grants : name => [
      for index, grant in grants : {
        sid     = "Manifest${index}"
        actions = [grant.action]
        resources = [
          startswith(grant.action, "s3:") && grant.action != "s3:ListBucket"
          ? "${var.resource_arns[grant.scope]}/${grant.target}"
          : var.resource_arns[grant.target]
        ]
      }
    ]
  }

  tasks = {
    for task in local.manifest.tasks : task.name => {
      name        = task.name
      handler     = task.handler
      package     = task.package
      trigger     = task.trigger
      state       = try(task.state, null)
      timeout_s   = task.timeout_s
      memory_mb   = task.memory_mb
      in_vpc      = task.in_vpc
      env         = task.env
      permissions = task.permissions
      environment = merge(var.common_environment, { for key in task.env : key => var.environment[key] })
      statements  = local.statements[task.name]
    }
  }

  # The ASL's placeholders: ${<task>_function_arn} for every state-machine task, plus the
  # manifest's extra placeholders. templatefile() fails on a placeholder it is not given.
  definition_function_keys = {
    for name, task in local.tasks : name => "${name}_function_arn" if task.trigger == "state_machine"
  }
  definition_variable_names = sort(concat(values(local.definition_function_keys), local.state_machine.placeholders))
  definition_variables = var.function_arns == null ? null : merge(
    { for name, key in local.definition_function_keys : key => var.function_arns[name] },
    { for key in local.state_machine.placeholders : key => var.placeholder_values[key] },
  )
  definition = var.function_arns == null ? null : templatefile(
    "${var.repo_root}/${local.state_machine.definition}", local.definition_variables
  )
}
