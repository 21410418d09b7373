variable "name" {
  type        = string
  description = "Prefix of the AWS resources, e.g. \"knfn-dev\"."
}

variable "namespace" {
  type        = string
  description = "Namespace of the observability stack."
  default     = "observability"
}

variable "chart_versions" {
  type = object({
    kube_prometheus_stack   = string
    opentelemetry_collector = string
  })
  description = "Helm chart versions (platform/versions.json charts)."
}

variable "jaeger_image_tag" {
  type        = string
  description = "Jaeger v2 image tag (platform/versions.json images.jaeger)."
}

variable "storage_class" {
  type        = string
  description = "StorageClass for Prometheus, Grafana and Jaeger volumes."
}

variable "prometheus_retention" {
  type        = string
  description = "How long Prometheus keeps samples, e.g. \"3d\", \"30d\"."
}

variable "prometheus_persistent" {
  type        = bool
  description = "true: Prometheus keeps its data on a volume per replica (prod; the volumes outlive a destroy); false: on the node (dev; lost when the pod moves, nothing left behind)."
}

variable "prometheus_storage_size" {
  type        = string
  description = "Size of each Prometheus volume, e.g. \"20Gi\"."
}

variable "prometheus_replicas" {
  type        = number
  description = "Prometheus replicas (2 in prod: scrapes survive a node loss)."
}

variable "collector_replicas" {
  type        = number
  description = "OpenTelemetry Collector replicas."
}

variable "jaeger_persistent" {
  type        = bool
  description = "true: Jaeger stores traces in Badger on a volume that survives restarts; false: in memory."
}

variable "jaeger_storage_size" {
  type        = string
  description = "Size of the Jaeger volume when persistent, e.g. \"20Gi\"."
}

variable "jaeger_retention" {
  type        = string
  description = "How long Jaeger keeps spans when persistent, in hours, e.g. \"168h\"."
}

variable "grafana_admin_password_version" {
  type        = number
  description = "Version of the generated Grafana admin password; increase it to rotate (the value never enters the state)."
}

variable "kms_key_arn" {
  type        = string
  description = "Customer KMS key that encrypts the Grafana admin secret."
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Days a deleted secret can still be restored: 0 or 7 to 30."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
}
