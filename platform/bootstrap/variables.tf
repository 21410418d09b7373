variable "aws_region" {
  type        = string
  description = "Region of the state bucket, e.g. \"eu-west-1\" (the environments' backend region)."

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be an AWS region code such as \"eu-west-1\"."
  }
}

variable "bucket_name" {
  type        = string
  description = "Globally unique name of the state bucket; scripts/platform.sh expects \"<project>-tfstate-<account id>-<region>\" unless TF_STATE_BUCKET says otherwise."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots and dashes."
  }
}

variable "noncurrent_version_days" {
  type        = number
  description = "Days old state versions are kept (recovery from a bad apply), 7 to 365."
  default     = 90

  validation {
    condition     = var.noncurrent_version_days >= 7 && var.noncurrent_version_days <= 365
    error_message = "noncurrent_version_days must be between 7 and 365."
  }
}
