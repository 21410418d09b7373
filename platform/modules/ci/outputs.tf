output "deploy_role_arn" {
  description = "ARN of the CI deploy role (aws-actions/configure-aws-credentials role-to-assume)."
  value       = aws_iam_role.deploy.arn
}

output "github_oidc_provider_arn" {
  description = "ARN of the GitHub OIDC provider used by the trust policy."
  value       = local.provider_arn
}
