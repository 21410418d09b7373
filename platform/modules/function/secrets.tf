# The function's secret. Its value never enters the Terraform state or plan: the
# initial SIGNING_KEY is an ephemeral value written through the write-only argument
# secret_string_wo. Rotate by increasing signing_key_version, or put a new value
# with `aws secretsmanager put-secret-value` (Terraform does not read it back).
resource "aws_secretsmanager_secret" "this" {
  # checkov:skip=CKV2_AWS_57: an HMAC signing key has no rotation Lambda; rotation is the signing_key_version bump or put-secret-value, documented in platform/README.md
  name                    = "${var.name}/${var.function_name}"
  description             = "Secrets of the ${var.function_name} function (JSON object: keys become context.secrets)"
  kms_key_id              = module.kms_key.arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

ephemeral "random_password" "signing_key" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id                = aws_secretsmanager_secret.this.id
  secret_string_wo         = jsonencode({ SIGNING_KEY = ephemeral.random_password.signing_key.result })
  secret_string_wo_version = var.signing_key_version
}
