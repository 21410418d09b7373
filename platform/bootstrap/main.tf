provider "aws" {
  region = var.aws_region
}

# The state bucket's customer key (the platform's one key-making module).
module "state_key" {
  source = "../modules/kms-key"

  alias                = replace(var.bucket_name, ".", "-")
  description          = "Terraform state bucket ${var.bucket_name}"
  deletion_window_days = 30
  tags                 = {}
}

# trivy AWS-0089 (access logging): a second bucket only for this bucket's logs is not worth it for a bucket only
# Terraform touches; CloudTrail records its API calls (as checkov CKV_AWS_18 below).
#trivy:ignore:AWS-0089
resource "aws_s3_bucket" "state" {
  # checkov:skip=CKV_AWS_18: access logging would need a second bucket for a bucket only Terraform touches; CloudTrail records its API calls
  # checkov:skip=CKV_AWS_144: cross-region replication is out of scope for state that can be rebuilt from the repository; versioning covers bad applies
  # checkov:skip=CKV2_AWS_62: nothing consumes event notifications for state objects
  bucket = var.bucket_name

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = module.state_key.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    id     = "expire-old-state-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "state" {
  # State and lock objects take the bucket's default encryption (this key). A client that
  # asks for SSE-S3 instead (the S3 backend does with `encrypt = true` and no kms_key_id)
  # is refused, so a downgrade fails loudly instead of silently.
  statement {
    sid       = "DenySseS3Uploads"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.state.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["AES256"]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state.json
}
