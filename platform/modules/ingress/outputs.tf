output "certificate_arn" {
  description = "ARN of the validated wildcard certificate."
  value       = aws_acm_certificate_validation.this.certificate_arn
}

output "external_dns_role_arn" {
  description = "ARN of the IAM role external-dns runs as."
  value       = aws_iam_role.external_dns.arn
}
