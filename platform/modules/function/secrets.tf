# The function's secret: one JSON document whose keys the function reads (app.secrets.get). Its values never enter
# the Terraform state or plan: the initial document (each of secret_keys with a random value) is written once
# through the write-only argument secret_string_wo. Put real values with `aws secretsmanager put-secret-value`
# (Terraform does not read them back); increasing secret_version writes a new initial document (new random values
# for every key, replacing what was put).
resource "aws_secretsmanager_secret" "this" {
  # checkov:skip=CKV2_AWS_57: the function's keys have no rotation Lambda; rotation is put-secret-value (or the secret_version bump), documented in platform/README.md
  name                    = "${var.name}/${var.function_name}"
  description             = "Secrets of the ${var.function_name} function (JSON object: keys become app.secrets)"
  kms_key_id              = module.kms_key.arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

ephemeral "random_password" "initial" {
  for_each = toset(var.secret_keys)
  length   = 64
  special  = false
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id                = aws_secretsmanager_secret.this.id
  secret_string_wo         = jsonencode({ for k in var.secret_keys : k => ephemeral.random_password.initial[k].result })
  secret_string_wo_version = var.secret_version
}
