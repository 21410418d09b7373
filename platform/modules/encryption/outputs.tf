output "logs_key_arn" {
  description = "ARN of the KMS key for CloudWatch log groups."
  value       = aws_kms_key.logs.arn
}

output "secrets_key_arn" {
  description = "ARN of the KMS key for the platform's own secrets."
  value       = aws_kms_key.secrets.arn
}
