output "ecr_repository_url" {
  description = "URL of the function's ECR repository (push <url>:<git sha>, deploy by digest)."
  value       = aws_ecr_repository.this.repository_url
}

output "ecr_repository_arn" {
  description = "ARN of the function's ECR repository."
  value       = aws_ecr_repository.this.arn
}

output "secret_arns" {
  description = "ARNs of the function's secrets (the chart's SECRETS value, comma-joined)."
  value       = [aws_secretsmanager_secret.this.arn]
}

output "secret_arn_pattern" {
  description = "Resource pattern the function role may read."
  value       = local.secret_arn_pattern
}

output "role_arn" {
  description = "ARN of the function's runtime role (bound by Pod Identity)."
  value       = aws_iam_role.this.arn
}

output "kms_key_arn" {
  description = "ARN of the function's customer KMS key."
  value       = module.kms_key.arn
}
