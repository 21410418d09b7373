output "namespace" {
  description = "Namespace of the observability stack."
  value       = var.namespace
}

output "collector_otlp_http_url" {
  description = "OTLP/HTTP base URL of the collector (functions set OTEL_EXPORTER_OTLP_ENDPOINT to it)."
  value       = "http://otel-collector.${var.namespace}.svc.cluster.local:4318"
}

output "grafana" {
  description = "How to reach Grafana and where its admin password lives."
  value = {
    service            = local.grafana_service
    namespace          = var.namespace
    port               = 80
    port_forward       = "kubectl -n ${var.namespace} port-forward svc/${local.grafana_service} 3000:80"
    admin_secret_arn   = aws_secretsmanager_secret.grafana.arn
    admin_secret_field = "password"
  }
}

output "jaeger" {
  description = "How to reach Jaeger's UI and query API."
  value = {
    service      = "jaeger"
    namespace    = var.namespace
    port         = 16686
    port_forward = "kubectl -n ${var.namespace} port-forward svc/jaeger 16686:16686"
  }
}

output "prometheus" {
  description = "How to reach Prometheus."
  value = {
    service      = "kps-prometheus"
    namespace    = var.namespace
    port         = 9090
    port_forward = "kubectl -n ${var.namespace} port-forward svc/kps-prometheus 9090:9090"
  }
}
