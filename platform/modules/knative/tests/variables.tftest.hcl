# The knative module's own validations, with the values the composition passes for dev
# (platform/test/validation.test.ts runs it on a copy of variables.tf, no provider needed).

variables {
  knative_version                    = "1.23.0"
  operator_chart_version             = "v1.23.0"
  domain                             = "dev.fn.example.com"
  certificate_arn                    = "arn:aws:acm:eu-west-1:111111111111:certificate/x"
  high_availability_replicas         = 2
  scale_to_zero_grace_period         = "30s"
  scale_to_zero_pod_retention_period = "0s"
  tracing_sampling_rate              = 0.1
  collector_url                      = "http://otel-collector.observability.svc.cluster.local:4318"
}

run "good_values_pass" {
  command = plan
}

run "knative_version_with_a_leading_v_is_rejected" {
  command = plan

  variables {
    knative_version = "v1.23.0"
  }

  expect_failures = [var.knative_version]
}
