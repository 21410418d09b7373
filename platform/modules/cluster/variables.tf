variable "name" {
  type        = string
  description = "EKS cluster name, e.g. \"knfn-dev\"."
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of the control plane, \"1.NN\" (the root reads it from platform/versions.json)."

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "The Kubernetes version must look like \"1.35\" (major.minor, no patch)."
  }
}

variable "vpc_id" {
  type        = string
  description = "ID of the VPC the cluster runs in."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnet IDs for the control plane ENIs and the nodes."
}

variable "endpoint_public_access" {
  type        = bool
  description = "true: the API endpoint is also reachable from the internet, limited to endpoint_public_access_cidrs; false: private only (reach it from the VPC, a VPN or a bastion)."
}

variable "endpoint_public_access_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to reach the public API endpoint when it is enabled. Never 0.0.0.0/0."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the control-plane log group in days."
}

variable "log_kms_key_arn" {
  type        = string
  description = "ARN of the customer KMS key that encrypts the control-plane log group."
}

variable "admin_principal_arns" {
  type        = list(string)
  description = "IAM role ARNs given cluster-admin through EKS access entries (the people and the pipeline that run Terraform)."
}

variable "deploy_role_arn" {
  type        = string
  description = "IAM role ARN of the CI deploy role, given edit rights in deploy_namespaces only."
}

variable "deploy_namespaces" {
  type        = list(string)
  description = "Namespaces the deploy role may edit (the function's namespace)."
}

variable "kms_deletion_window_days" {
  type        = number
  description = "Waiting period before the secrets-encryption KMS key is deleted, 7 to 30 days."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
}

variable "deploy_kubernetes_group" {
  type        = string
  description = "Kubernetes group of the deploy role's access entry; platform/charts/cluster-config binds its Role for Knative and Prometheus objects to it."
}

variable "endpoint_private_access_cidrs" {
  type        = list(string)
  description = "CIDRs inside the VPC (or routed to it) allowed to reach the private API endpoint: the self-hosted deploy runner's subnet, a bastion, a VPN range."
}
