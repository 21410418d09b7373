data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
  log_arn_base = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}"
}

data "aws_iam_policy_document" "logs" {
  # checkov:skip=CKV_AWS_109: a key policy's "*" resource is the key itself; the account root must administer its own key (AWS default key policy)
  # checkov:skip=CKV_AWS_111: same: "*" in a key policy means this key only
  # checkov:skip=CKV_AWS_356: same: "*" in a key policy means this key only
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }

  # CloudWatch Logs encrypts this account's log groups in this region, nothing else.
  statement {
    sid       = "CloudWatchLogsUse"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["${local.log_arn_base}:log-group:*"]
    }
  }
}

# One customer key for the platform's CloudWatch log groups (control plane, flow logs).
resource "aws_kms_key" "logs" {
  description             = "${var.name} CloudWatch log groups"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_days
  policy                  = data.aws_iam_policy_document.logs.json
  tags                    = var.tags
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${var.name}-logs"
  target_key_id = aws_kms_key.logs.key_id
}

data "aws_iam_policy_document" "secrets" {
  # checkov:skip=CKV_AWS_109: a key policy's "*" resource is the key itself; the account root must administer its own key (AWS default key policy)
  # checkov:skip=CKV_AWS_111: same: "*" in a key policy means this key only
  # checkov:skip=CKV_AWS_356: same: "*" in a key policy means this key only
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }
}

# Customer key for the platform's own secrets (Grafana admin password).
resource "aws_kms_key" "secrets" {
  description             = "${var.name} platform secrets"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_days
  policy                  = data.aws_iam_policy_document.secrets.json
  tags                    = var.tags
}

resource "aws_kms_alias" "secrets" {
  name          = "alias/${var.name}-platform-secrets"
  target_key_id = aws_kms_key.secrets.key_id
}
