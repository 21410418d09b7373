# Grafana's admin password: generated as an ephemeral value, stored in Secrets Manager
# through a write-only argument and handed to the Helm release through set_wo, so it
# exists in Secrets Manager and in the cluster but never in the Terraform state or plan.
# Read it with: aws secretsmanager get-secret-value --secret-id <grafana_admin_secret_arn>
resource "aws_secretsmanager_secret" "grafana" {
  # checkov:skip=CKV2_AWS_57: rotated by increasing grafana_admin_password_version (a Lambda rotator cannot change Grafana's stored admin password)
  name                    = "${var.name}/grafana-admin"
  description             = "Grafana admin credentials (JSON: username, password)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

ephemeral "random_password" "grafana" {
  length  = 32
  special = false
}

resource "aws_secretsmanager_secret_version" "grafana" {
  secret_id                = aws_secretsmanager_secret.grafana.id
  secret_string_wo         = jsonencode({ username = "admin", password = ephemeral.random_password.grafana.result })
  secret_string_wo_version = var.grafana_admin_password_version
}

# Read back what was stored (the ephemeral generator yields a new value on every run).
ephemeral "aws_secretsmanager_secret_version" "grafana" {
  secret_id  = aws_secretsmanager_secret.grafana.id
  depends_on = [aws_secretsmanager_secret_version.grafana]
}
