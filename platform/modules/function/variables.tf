variable "name" {
  type        = string
  description = "Prefix of the function's AWS resources, e.g. \"knfn-dev\"."
}

variable "function_name" {
  type        = string
  description = "Name of the function (Knative Service and Helm release), e.g. \"fn\"."
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace the function runs in."
}

variable "service_account" {
  type        = string
  description = "Kubernetes ServiceAccount the function runs as (the chart names it after the release)."
}

variable "cluster_name" {
  type        = string
  description = "EKS cluster the Pod Identity association belongs to."
}

variable "ecr_keep_images" {
  type        = number
  description = "How many tagged images the ECR lifecycle policy keeps, 5 to 1000."
}

variable "ecr_untagged_expiry_days" {
  type        = number
  description = "Days after which untagged images are expired, 1 to 90."
}

variable "ecr_force_delete" {
  type        = bool
  description = "Allow destroying the repository while it still holds images (dev: true, prod: false)."
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Days a deleted secret can still be restored: 0 (delete at once) or 7 to 30."
}

variable "secret_keys" {
  type        = list(string)
  description = "Keys of the secret's initial document (the function's values file, function.secretKeys), each with a random value."
  default     = []

  validation {
    condition     = alltrue([for k in var.secret_keys : can(regex("^[A-Za-z0-9_.-]{1,128}$", k))])
    error_message = "secret_keys are names of letters, digits, _ . - (at most 128)."
  }
}

variable "secret_version" {
  type        = number
  description = "Version of the initial secret document; increase it to write it again (new random values, the values themselves never enter the state)."
  default     = 1
}

variable "kms_deletion_window_days" {
  type        = number
  description = "Waiting period before the function's KMS key is deleted, 7 to 30 days."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
}

variable "ecr_pull_principal_arns" {
  type        = list(string)
  description = "IAM principals of other accounts that may pull from the repository (BatchGetImage, GetDownloadUrlForLayer, BatchCheckLayerAvailability only), e.g. prod's deploy role promoting dev's images. Empty: no repository policy."
  default     = []

  validation {
    condition     = alltrue([for a in var.ecr_pull_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/[A-Za-z0-9+=,.@_/-]+|user/[A-Za-z0-9+=,.@_/-]+)$", a))])
    error_message = "ecr_pull_principal_arns must hold IAM role, user or account root ARNs like \"arn:aws:iam::222222222222:role/knfn-prod-deploy\" (no wildcard, no account ID alone)."
  }
}
