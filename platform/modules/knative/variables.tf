variable "knative_version" {
  type        = string
  description = "Knative Serving release, \"X.Y.Z\" (the root reads platform/versions.json knative.release)."

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.knative_version))
    error_message = "knative_version must be a release number like \"1.23.0\" (no leading v)."
  }
}

variable "operator_chart_version" {
  type        = string
  description = "Version of the knative-operator Helm chart, \"vX.Y.Z\" (platform/versions.json knative.operatorChart)."

  validation {
    condition     = can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+$", var.operator_chart_version))
    error_message = "operator_chart_version must look like \"v1.23.0\"."
  }
}

variable "domain" {
  type        = string
  description = "Domain the functions are served under (<service>-<namespace>.<domain>)."
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate ARN (wildcard of the domain) for the NLB TLS listener."
}

variable "high_availability_replicas" {
  type        = number
  description = "Replicas of each Knative component (activator, autoscaler, controller, webhook, Kourier gateway): 1 to 5."

  validation {
    condition     = var.high_availability_replicas >= 1 && var.high_availability_replicas <= 5
    error_message = "high_availability_replicas must be between 1 and 5."
  }
}

variable "scale_to_zero_grace_period" {
  type        = string
  description = "How long an idle revision keeps its last pod, a duration in seconds or minutes (\"30s\", \"2m\"), 6s to 10m."

  validation {
    condition     = can(regex("^[0-9]+(s|m)$", var.scale_to_zero_grace_period))
    error_message = "scale_to_zero_grace_period must be a duration like \"30s\" or \"2m\"."
  }
}

variable "scale_to_zero_pod_retention_period" {
  type        = string
  description = "Extra time the last pod stays after the grace period, a duration (\"0s\", \"5m\", \"1h\")."

  validation {
    condition     = can(regex("^[0-9]+(s|m|h)$", var.scale_to_zero_pod_retention_period))
    error_message = "scale_to_zero_pod_retention_period must be a duration like \"0s\", \"5m\" or \"1h\"."
  }
}

variable "tracing_sampling_rate" {
  type        = number
  description = "Fraction of requests Knative's activator and queue-proxy trace, 0 to 1."

  validation {
    condition     = var.tracing_sampling_rate >= 0 && var.tracing_sampling_rate <= 1
    error_message = "tracing_sampling_rate must be between 0 and 1."
  }
}

variable "collector_url" {
  type        = string
  description = "OTLP/HTTP base URL of the cluster's OpenTelemetry Collector (no path)."
}
