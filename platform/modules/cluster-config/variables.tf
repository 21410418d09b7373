variable "function_namespace" {
  type        = string
  description = "Namespace the function runs in; created here with Pod Security \"restricted\"."
}

variable "node_capacity_types" {
  type        = list(string)
  description = "Capacity types of the workload node pool: any of \"spot\", \"on-demand\"."

  validation {
    condition     = length(var.node_capacity_types) > 0 && alltrue([for t in var.node_capacity_types : contains(["spot", "on-demand"], t)])
    error_message = "node_capacity_types must be a non-empty list of \"spot\" and/or \"on-demand\"."
  }
}

variable "node_instance_categories" {
  type        = list(string)
  description = "EC2 instance categories of the workload pool: any of \"c\", \"m\", \"r\", \"t\"."

  validation {
    condition     = length(var.node_instance_categories) > 0 && alltrue([for c in var.node_instance_categories : contains(["c", "m", "r", "t"], c)])
    error_message = "node_instance_categories must be a non-empty list of \"c\", \"m\", \"r\" or \"t\"."
  }
}

variable "node_instance_sizes" {
  type        = list(string)
  description = "EC2 instance sizes of the workload pool: any of \"medium\", \"large\", \"xlarge\", \"2xlarge\", \"4xlarge\"."

  validation {
    condition     = length(var.node_instance_sizes) > 0 && alltrue([for s in var.node_instance_sizes : contains(["medium", "large", "xlarge", "2xlarge", "4xlarge"], s)])
    error_message = "node_instance_sizes must be a non-empty list of \"medium\", \"large\", \"xlarge\", \"2xlarge\" or \"4xlarge\" (no nano/micro/small: Knative's data plane does not fit)."
  }
}

variable "node_architecture" {
  type        = string
  description = "CPU architecture of the workload nodes: \"arm64\" or \"amd64\". The function image is built for it."

  validation {
    condition     = contains(["arm64", "amd64"], var.node_architecture)
    error_message = "node_architecture must be \"arm64\" or \"amd64\"."
  }
}

variable "node_cpu_limit" {
  type        = number
  description = "Upper bound on the total vCPUs of the workload pool (a cost guard), 4 to 1000."

  validation {
    condition     = var.node_cpu_limit >= 4 && var.node_cpu_limit <= 1000
    error_message = "node_cpu_limit must be between 4 and 1000 vCPUs."
  }
}

variable "deploy_kubernetes_group" {
  type        = string
  description = "Kubernetes group of the CI deploy role (its access entry); gets the Role that may manage the function's Knative and Prometheus objects."
}
