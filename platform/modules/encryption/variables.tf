variable "name" {
  type        = string
  description = "Prefix of the key aliases, e.g. \"knfn-dev\"."
}

variable "deletion_window_days" {
  type        = number
  description = "Waiting period before a deleted key is gone, 7 to 30 days."

  validation {
    condition     = var.deletion_window_days >= 7 && var.deletion_window_days <= 30
    error_message = "The KMS deletion window must be between 7 and 30 days."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
}
