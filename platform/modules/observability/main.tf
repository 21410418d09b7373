locals {
  prometheus_url = "http://kps-prometheus.${var.namespace}.svc.cluster.local:9090"
  jaeger_host    = "jaeger.${var.namespace}.svc.cluster.local"
  # fullnameOverride renames the parent chart's objects only; the grafana subchart takes
  # its own (kube-prometheus-stack values.yaml, grafana block). The outputs print this name.
  grafana_service = "kps-grafana"

  # Prometheus' volume when persistent (prod). Without one (dev) nothing outlives a
  # destroy: Helm never deletes a StatefulSet's volume claims, so their EBS volumes would.
  prometheus_storage = var.prometheus_persistent ? {
    storageSpec = {
      volumeClaimTemplate = {
        spec = {
          storageClassName = var.storage_class
          accessModes      = ["ReadWriteOnce"]
          resources        = { requests = { storage = var.prometheus_storage_size } }
        }
      }
    }
  } : {}
}

# Grafana has no volume: dashboards and data sources are provisioned from ConfigMaps, so
# its database holds only the admin user. Grafana applies the admin password only when it
# creates its database; without a volume it does so at every start, and a new password
# (grafana_admin_password_version) changes the chart's Secret, whose checksum annotation
# restarts the pod: the rotation takes effect. Nothing is left behind by a destroy.
#
# Prometheus (picks up PodMonitors and PrometheusRules from every namespace, accepts
# OTLP metrics from the collector), Alertmanager and Grafana (dashboards from
# ConfigMaps labelled grafana_dashboard in any namespace).
resource "helm_release" "kube_prometheus_stack" {
  name             = "kube-prometheus-stack"
  namespace        = var.namespace
  create_namespace = true
  repository       = "https://prometheus-community.github.io/helm-charts"
  chart            = "kube-prometheus-stack"
  version          = var.chart_versions.kube_prometheus_stack
  wait             = true
  timeout          = 900

  values = [yamlencode({
    fullnameOverride = "kps"
    prometheus = {
      prometheusSpec = merge({
        replicas                                = var.prometheus_replicas
        retention                               = var.prometheus_retention
        enableOTLPReceiver                      = true
        podMonitorSelectorNilUsesHelmValues     = false
        serviceMonitorSelectorNilUsesHelmValues = false
        ruleSelectorNilUsesHelmValues           = false
        podMonitorNamespaceSelector             = {}
        ruleNamespaceSelector                   = {}
      }, local.prometheus_storage)
    }
    # The control plane's scheduler, controller manager and etcd, and kube-proxy, are
    # managed by EKS (Auto Mode) and not scrapeable: their targets would only fire
    # "down" alerts.
    kubeControllerManager = { enabled = false }
    kubeScheduler         = { enabled = false }
    kubeEtcd              = { enabled = false }
    kubeProxy             = { enabled = false }
    grafana = {
      fullnameOverride = local.grafana_service
      sidecar = {
        dashboards = {
          enabled         = true
          label           = "grafana_dashboard"
          searchNamespace = "ALL"
        }
      }
      persistence = { enabled = false }
    }
  })]

  set_wo = [{
    name  = "grafana.adminPassword"
    value = jsondecode(ephemeral.aws_secretsmanager_secret_version.grafana.secret_string).password
  }]
  set_wo_revision = var.grafana_admin_password_version
}

# Jaeger v2: one process; OTLP in, query API/UI out. Badger on a volume when persistent.
resource "helm_release" "jaeger" {
  name             = "jaeger"
  namespace        = var.namespace
  create_namespace = true
  chart            = "${path.module}/../../charts/jaeger"
  wait             = true

  values = [yamlencode({
    image = { tag = var.jaeger_image_tag }
    storage = {
      type             = var.jaeger_persistent ? "badger" : "memory"
      size             = var.jaeger_storage_size
      storageClassName = var.storage_class
      retention        = var.jaeger_retention
    }
  })]
}

# The collector every function and Knative component sends OTLP to: traces go to
# Jaeger, metrics to Prometheus' OTLP endpoint.
resource "helm_release" "otel_collector" {
  name             = "otel-collector"
  namespace        = var.namespace
  create_namespace = true
  repository       = "https://open-telemetry.github.io/opentelemetry-helm-charts"
  chart            = "opentelemetry-collector"
  version          = var.chart_versions.opentelemetry_collector
  wait             = true

  values = [yamlencode({
    fullnameOverride = "otel-collector"
    mode             = "deployment"
    replicaCount     = var.collector_replicas
    image            = { repository = "otel/opentelemetry-collector-k8s" }
    # memory_limiter's limit_percentage is a share of the container's memory limit.
    resources = {
      requests = { cpu = "100m", memory = "256Mi" }
      limits   = { memory = "512Mi" }
    }
    command = { name = "otelcol-k8s" }
    ports = {
      jaeger-compact = { enabled = false }
      jaeger-thrift  = { enabled = false }
      jaeger-grpc    = { enabled = false }
      zipkin         = { enabled = false }
    }
    config = {
      receivers = {
        jaeger     = null
        zipkin     = null
        prometheus = null
        otlp = {
          protocols = {
            grpc = { endpoint = "0.0.0.0:4317" }
            http = { endpoint = "0.0.0.0:4318" }
          }
        }
      }
      processors = {
        memory_limiter = { check_interval = "1s", limit_percentage = 80, spike_limit_percentage = 20 }
        batch          = {}
      }
      exporters = {
        "otlp/jaeger" = {
          endpoint = "${local.jaeger_host}:4317"
          tls      = { insecure = true }
        }
        "otlphttp/prometheus" = {
          endpoint = "${local.prometheus_url}/api/v1/otlp"
          tls      = { insecure = true }
        }
      }
      service = {
        pipelines = {
          traces = {
            receivers  = ["otlp"]
            processors = ["memory_limiter", "batch"]
            exporters  = ["otlp/jaeger"]
          }
          metrics = {
            receivers  = ["otlp"]
            processors = ["memory_limiter", "batch"]
            exporters  = ["otlphttp/prometheus"]
          }
          logs = null
        }
      }
    }
  })]

  depends_on = [helm_release.jaeger, helm_release.kube_prometheus_stack]
}
