data "aws_region" "current" {}

# The whole deployment, wired to the code: every component of the design, in one module that
# envs/dev and envs/prod instantiate with their own settings.

locals {
  cors_origins = distinct(concat([module.web_hosting.origin], var.extra_cors_origins))

  # Values of every environment variable a task may list in tasks/manifest.json
  # (names: clickstream.settings.Env). A task gets only the ones its entry lists.
  environment = {
    RAW_BUCKET          = module.storage.bucket_names["raw"]
    PROCESSED_BUCKET    = module.storage.bucket_names["processed"]
    QUARANTINE_BUCKET   = module.storage.bucket_names["quarantine"]
    CORS_ALLOW_ORIGINS  = join(",", local.cors_origins)
    AUTH_JWKS_URL       = module.auth.jwks_url
    AUTH_ISSUER         = module.auth.issuer
    AUTH_CLIENT_IDS     = module.auth.client_id
    AUTH_TOKEN_USE      = "access"
    DATABASE_SECRET_ARN = module.warehouse.secret_arn
    ALERTS_TOPIC_ARN    = module.monitoring.alerts_topic_arn
  }

  # What a manifest permission's target names ("raw/*" -> the raw bucket, "database" -> the secret).
  resource_arns = {
    raw        = module.storage.bucket_arns["raw"]
    processed  = module.storage.bucket_arns["processed"]
    quarantine = module.storage.bucket_arns["quarantine"]
    database   = module.warehouse.secret_arn
  }

  dashboard_bundle = "${var.repo_root}/dist/dashboard/dashboard.zip"
}

module "network" {
  source             = "../network"
  name               = var.name
  cidr_block         = var.vpc_cidr_block
  enable_nat_gateway = var.enable_nat_gateway
  endpoint_az_count  = var.endpoint_az_count
  kms_key_arn        = module.monitoring.kms_key_arn
}

module "storage" {
  source             = "../storage"
  name               = var.name
  raw_retention_days = var.raw_retention_days
  force_destroy      = var.force_destroy
}

module "auth" {
  source              = "../auth"
  name                = var.name
  self_signup         = var.self_signup
  deletion_protection = var.deletion_protection
}

module "web_hosting" {
  source = "../web_hosting"
  name   = var.name
}

# The container images of the tasks too large for a zip (tasks/manifest.json "package": "image").
module "lambda_images" {
  source       = "../lambda_images"
  name         = var.name
  kms_key_arn  = module.monitoring.kms_key_arn
  force_delete = var.force_destroy
}

module "ingest_api" {
  source                 = "../ingest_api"
  name                   = var.name
  repo_root              = var.repo_root
  artifacts_bucket       = module.storage.bucket_names["artifacts"]
  image_uris             = var.lambda_image_uris
  image_repository_url   = module.lambda_images.repository_url
  resource_arns          = local.resource_arns
  environment            = local.environment
  cors_allow_origins     = local.cors_origins
  throttling_rate_limit  = var.ingest_rate_limit
  throttling_burst_limit = var.ingest_burst_limit
  log_retention_days     = var.log_retention_days
  kms_key_arn            = module.monitoring.kms_key_arn
}

module "etl" {
  source               = "../etl"
  name                 = var.name
  repo_root            = var.repo_root
  artifacts_bucket     = module.storage.bucket_names["artifacts"]
  image_uris           = var.lambda_image_uris
  image_repository_url = module.lambda_images.repository_url
  resource_arns        = local.resource_arns
  environment          = local.environment
  vpc_id               = module.network.vpc_id
  vpc_cidr_block       = module.network.vpc_cidr_block
  private_subnet_ids   = module.network.private_subnet_ids
  s3_prefix_list_id    = module.network.s3_prefix_list_id
  warehouse_host       = module.warehouse.host
  warehouse_port       = module.warehouse.port
  alerts_topic_arn     = module.monitoring.alerts_topic_arn
  kms_key_arn          = module.monitoring.kms_key_arn
  schedule_enabled     = var.schedule_enabled
  log_retention_days   = var.log_retention_days
}

module "warehouse" {
  source                             = "../warehouse"
  name                               = var.name
  vpc_id                             = module.network.vpc_id
  vpc_cidr_block                     = module.network.vpc_cidr_block
  private_subnet_ids                 = module.network.private_subnet_ids
  private_subnet_cidr_blocks         = module.network.private_subnet_cidr_blocks
  instance_type                      = var.warehouse_instance_type
  data_volume_gb                     = var.warehouse_data_volume_gb
  password_version                   = var.warehouse_password_version
  database_client_security_group_ids = [module.etl.tasks_security_group_id]
  dashboard_allowed_cidrs            = var.dashboard_allowed_cidrs
  certificate_arn                    = var.dashboard_certificate_arn
  dashboard_bundle                   = { path = local.dashboard_bundle, sha256 = filesha256(local.dashboard_bundle) }
  artifacts_bucket                   = module.storage.bucket_names["artifacts"]
  artifacts_bucket_arn               = module.storage.bucket_arns["artifacts"]
  logs_bucket                        = module.storage.logs_bucket_name
  deletion_protection                = var.deletion_protection
  setup_script_path                  = "${var.repo_root}/infra/scripts/ec2-setup.sh"
  log_retention_days                 = var.log_retention_days
  kms_key_arn                        = module.monitoring.kms_key_arn
}

module "monitoring" {
  source                  = "../monitoring"
  name                    = var.name
  alert_emails            = var.alert_emails
  state_machine_arn       = module.etl.state_machine_arn
  ingest_api_id           = module.ingest_api.api_id
  ingest_api_stage        = module.ingest_api.stage_name
  ingest_function_name    = module.ingest_api.function_name
  scheduler_dlq_name      = module.etl.scheduler_dlq_name
  warehouse_instance_id   = module.warehouse.instance_id
  alb_arn_suffix          = module.warehouse.alb_arn_suffix
  target_group_arn_suffix = module.warehouse.target_group_arn_suffix
}
