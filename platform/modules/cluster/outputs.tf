output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks.cluster_name
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = module.eks.cluster_arn
}

output "cluster_endpoint" {
  description = "URL of the Kubernetes API server."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA bundle of the API server."
  value       = module.eks.cluster_certificate_authority_data
}

output "kubernetes_version" {
  description = "Kubernetes version of the control plane."
  value       = module.eks.cluster_version
}

output "node_iam_role_name" {
  description = "Name of the IAM role of the Auto Mode nodes."
  value       = module.eks.node_iam_role_name
}

output "secrets_kms_key_arn" {
  description = "ARN of the KMS key that envelope-encrypts Kubernetes Secrets."
  value       = module.kms_key.arn
}
