variable "alias" {
  type        = string
  description = "Alias of the key without the alias/ prefix, e.g. \"knfn-dev-logs\"."

  validation {
    condition     = can(regex("^[a-zA-Z0-9/_-]+$", var.alias)) && !startswith(var.alias, "alias/") && !startswith(var.alias, "aws/")
    error_message = "alias must be letters, digits, /, _ or - without the alias/ prefix, and must not start with aws/ (reserved for AWS keys)."
  }
}

variable "description" {
  type        = string
  description = "What the key encrypts (shown in the KMS console)."
}

variable "deletion_window_days" {
  type        = number
  description = "Waiting period before a deleted key is gone, 7 to 30 days."

  validation {
    condition     = var.deletion_window_days >= 7 && var.deletion_window_days <= 30
    error_message = "deletion_window_days must be between 7 and 30."
  }
}

variable "service_statements" {
  type = list(object({
    sid       = string
    service   = string
    actions   = list(string)
    condition = object({ test = string, variable = string, values = list(string) })
  }))
  description = "Extra key policy statements for AWS services that use the key themselves (e.g. CloudWatch Logs), each bound by one condition."
  default     = []
}

variable "tags" {
  type        = map(string)
  description = "Tags of the key."
}
