data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

# One customer key for the platform's CloudWatch log groups (control plane, flow logs).
# CloudWatch Logs encrypts this account's log groups in this region, nothing else: the
# statement of AWS's CloudWatch Logs key policy, bound by the log group encryption context
# (a string key, so StringLike), without kms:Describe*, which carries no encryption context
# and so could never match that condition.
module "logs_key" {
  source = "../kms-key"

  alias                = "${var.name}-logs"
  description          = "${var.name} CloudWatch log groups"
  deletion_window_days = var.deletion_window_days
  service_statements = [{
    sid       = "CloudWatchLogsUse"
    service   = "logs.${data.aws_region.current.region}.amazonaws.com"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"]
    condition = { test = "StringLike", variable = "kms:EncryptionContext:aws:logs:arn", values = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:log-group:*"] }
  }]
  tags = var.tags
}

# Customer key for the platform's own secrets (Grafana admin password).
module "secrets_key" {
  source = "../kms-key"

  alias                = "${var.name}-platform-secrets"
  description          = "${var.name} platform secrets"
  deletion_window_days = var.deletion_window_days
  tags                 = var.tags
}
