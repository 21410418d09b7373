data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_iam_policy_document" "kms" {
  # checkov:skip=CKV_AWS_109: a key policy's "*" resource is the key itself; the account root must administer its own key (AWS default key policy)
  # checkov:skip=CKV_AWS_111: same: "*" in a key policy means this key only
  # checkov:skip=CKV_AWS_356: same: "*" in a key policy means this key only
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

# Customer key for the function's secret and its image repository.
resource "aws_kms_key" "this" {
  description             = "${var.name} ${var.function_name} secrets and images"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-${var.function_name}"
  target_key_id = aws_kms_key.this.key_id
}
