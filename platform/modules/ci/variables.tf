variable "name" {
  type        = string
  description = "Prefix of the role name, e.g. \"knfn-dev\"."
}

variable "github_repository" {
  type        = string
  description = "GitHub repository allowed to assume the deploy role, \"owner/name\"."
}

variable "github_environment" {
  type        = string
  description = "GitHub Actions environment whose jobs may assume the role (the OIDC subject is repo:<owner/name>:environment:<this>)."
}

variable "github_oidc_provider_arn" {
  type        = string
  description = "ARN of an existing IAM OIDC provider for token.actions.githubusercontent.com; null creates one (an account holds at most one, so the second environment in the same account passes the first one's ARN)."
  nullable    = true
}

variable "cluster_name" {
  type        = string
  description = "EKS cluster the deploy role may describe (for kubeconfig)."
}

variable "ecr_repository_arn" {
  type        = string
  description = "ARN of the function's ECR repository the role may push to."
}

variable "ecr_pull_repository_arns" {
  type        = list(string)
  description = "ECR repositories of another account the role may pull from (pull only), e.g. dev's repository for prod's promotion. Empty: none."
  default     = []

  validation {
    condition     = alltrue([for a in var.ecr_pull_repository_arns : can(regex("^arn:aws[a-z-]*:ecr:[a-z]{2}(-gov)?-[a-z]+-[0-9]:[0-9]{12}:repository/[a-z0-9][a-z0-9._/-]*$", a))])
    error_message = "ecr_pull_repository_arns must hold ECR repository ARNs like \"arn:aws:ecr:eu-west-1:111111111111:repository/knfn-dev/fn\" (no wildcard)."
  }
}

variable "outputs_parameter_name" {
  type        = string
  description = "SSM parameter holding the platform outputs JSON the deploy flow reads."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
}
