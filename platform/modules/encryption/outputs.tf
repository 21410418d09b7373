output "logs_key_arn" {
  description = "ARN of the KMS key for CloudWatch log groups."
  value       = module.logs_key.arn
}

output "secrets_key_arn" {
  description = "ARN of the KMS key for the platform's own secrets."
  value       = module.secrets_key.arn
}
