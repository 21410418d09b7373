# Stage 1: the operator (its CRDs, controller and conversion webhook). wait = true holds
# the next release until the webhook answers, so the KnativeServing object can be stored.
resource "helm_release" "operator" {
  name             = "knative-operator"
  namespace        = "knative-operator"
  create_namespace = true
  repository       = "https://knative.github.io/operator"
  chart            = "knative-operator"
  version          = var.operator_chart_version
  wait             = true
  timeout          = 600
}

# Stage 2: the KnativeServing resource and the NLB Service, shipped as a small local
# chart so that nothing needs the CRD at plan time (a helm_release is plain data until
# apply).
resource "helm_release" "serving" {
  name             = "knative-serving"
  namespace        = "knative-serving"
  create_namespace = true
  chart            = "${path.module}/../../charts/knative-serving"
  wait             = true
  timeout          = 600

  values = [yamlencode({
    version                  = var.knative_version
    domain                   = var.domain
    highAvailabilityReplicas = var.high_availability_replicas
    autoscaler = {
      scaleToZeroGracePeriod        = var.scale_to_zero_grace_period
      scaleToZeroPodRetentionPeriod = var.scale_to_zero_pod_retention_period
    }
    observability = {
      collectorUrl        = var.collector_url
      tracingSamplingRate = tostring(var.tracing_sampling_rate)
    }
    loadBalancer = {
      certificateArn = var.certificate_arn
    }
  })]

  depends_on = [helm_release.operator]
}
