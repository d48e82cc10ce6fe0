# S3: one bucket per data layer (raw, processed, quarantine), one for the Lambda artifacts and the
# dashboard bundle, one for access logs; each a hardened modules/s3_bucket.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_elb_service_account" "current" {}

locals {
  suffix = "${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"

  # Layer -> lifecycle. expire_days = 0 keeps current objects.
  buckets = {
    raw        = { expire_days = var.raw_retention_days, infrequent_access_days = 30 }
    processed  = { expire_days = 0, infrequent_access_days = 0 }
    quarantine = { expire_days = var.quarantine_retention_days, infrequent_access_days = 0 }
    artifacts  = { expire_days = 0, infrequent_access_days = 0 }
  }
  logs_bucket = "${var.name}-logs-${local.suffix}"
}

module "bucket" {
  source   = "../s3_bucket"
  for_each = local.buckets

  bucket                  = "${var.name}-${each.key}-${local.suffix}"
  force_destroy           = var.force_destroy
  access_log_bucket       = module.logs.id
  access_log_prefix       = "s3/${each.key}/"
  expire_days             = each.value.expire_days
  infrequent_access_days  = each.value.infrequent_access_days
  noncurrent_version_days = var.noncurrent_version_days
}

# The log bucket receives S3 server access logs (s3/) and the internal ALB's access logs (alb/).
data "aws_iam_policy_document" "log_delivery" {
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::${local.logs_bucket}/s3/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  statement {
    sid       = "AlbAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::${local.logs_bucket}/alb/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.current.arn]
    }
  }
}

module "logs" {
  # checkov:skip=CKV_AWS_18:This is the access-log target; logging it into itself would loop.
  source                  = "../s3_bucket"
  bucket                  = local.logs_bucket
  force_destroy           = var.force_destroy
  expire_days             = var.access_log_retention_days
  noncurrent_version_days = 1
  policy_documents        = [data.aws_iam_policy_document.log_delivery.json]
}
