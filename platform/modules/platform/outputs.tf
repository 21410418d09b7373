locals {
  # Everything the deploy flow reads, in one object: `tofu output -json deploy` for a
  # person with state access, the SSM parameter for CI.
  deploy_outputs = {
    environment              = var.environment
    region                   = var.aws_region
    cluster_name             = module.cluster.cluster_name
    kubernetes_version       = module.cluster.kubernetes_version
    node_architecture        = var.node_architecture
    ecr_repository_url       = module.function.ecr_repository_url
    namespace                = var.function_namespace
    service_name             = var.function_name
    service_account          = var.function_service_account
    function_role_arn        = module.function.role_arn
    secret_arns              = module.function.secret_arns
    knative_version          = module.knative.version
    knative_domain           = module.knative.domain
    function_url             = "https://${var.function_name}-${var.function_namespace}.${var.domain}"
    otel_collector_url       = module.observability.collector_otlp_http_url
    deploy_role_arn          = module.ci.deploy_role_arn
    grafana                  = module.observability.grafana
    jaeger                   = module.observability.jaeger
    prometheus               = module.observability.prometheus
    outputs_parameter_name   = local.outputs_parameter_name
    github_oidc_provider_arn = module.ci.github_oidc_provider_arn
    # The function chart's values that only the platform knows, as one object: the deploy
    # hands it to helm as a values file next to envs/<env>/function-values.yaml.
    chart_values = {
      fullnameOverride = var.function_name
      function = {
        awsRegion = var.aws_region
        secrets   = join(",", module.function.secret_arns)
      }
      serviceAccount = { name = var.function_service_account }
      telemetry      = { otlpEndpoint = module.observability.collector_otlp_http_url }
    }
  }
}

output "deploy" {
  description = "Everything the deploy flow needs, as one JSON object (also stored in the SSM parameter outputs_parameter_name)."
  value       = local.deploy_outputs
}

output "cluster_name" {
  description = "EKS cluster name."
  value       = module.cluster.cluster_name
}

output "region" {
  description = "AWS region."
  value       = var.aws_region
}

output "ecr_repository_url" {
  description = "ECR repository of the function image."
  value       = module.function.ecr_repository_url
}

output "ecr_repository_arn" {
  description = "ARN of the function's ECR repository (the other environment's ecr_pull_repository_arns when it promotes from here)."
  value       = module.function.ecr_repository_arn
}

output "function_role_arn" {
  description = "IAM role the function runs as (Pod Identity)."
  value       = module.function.role_arn
}

output "secret_arns" {
  description = "ARNs of the function's Secrets Manager secrets."
  value       = module.function.secret_arns
}

output "knative_domain" {
  description = "Domain Knative serves functions under."
  value       = module.knative.domain
}

output "deploy_role_arn" {
  description = "CI deploy role (GitHub OIDC)."
  value       = module.ci.deploy_role_arn
}

output "namespace" {
  description = "Namespace the function runs in."
  value       = var.function_namespace
}

output "service_account" {
  description = "ServiceAccount the function runs as (bound to function_role_arn by Pod Identity)."
  value       = var.function_service_account
}

output "node_architecture" {
  description = "CPU architecture of the workload nodes; build the image for it."
  value       = var.node_architecture
}

output "otel_collector_endpoint" {
  description = "OTLP/HTTP endpoint of the cluster's collector (the chart's OTEL_EXPORTER_OTLP_ENDPOINT)."
  value       = module.observability.collector_otlp_http_url
}

output "grafana" {
  description = "Grafana: namespace, service, port, port-forward command, admin secret ARN."
  value       = module.observability.grafana
}

output "jaeger" {
  description = "Jaeger: namespace, service, port, port-forward command."
  value       = module.observability.jaeger
}

output "cluster_endpoint" {
  description = "EKS API endpoint (the root's Helm provider connects to it)."
  value       = module.cluster.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the EKS API (the root's Helm provider trusts it)."
  value       = module.cluster.cluster_certificate_authority_data
}

output "tags" {
  description = "Tags every resource carries (the root's AWS provider sets them as default_tags)."
  value       = local.tags
}
