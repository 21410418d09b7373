# The platform of one environment: network, keys, EKS (Auto Mode), cluster settings,
# Knative, ingress and DNS, observability, the function's AWS resources, CI's role.
# platform/envs/<env> calls it with that environment's values; the providers are
# configured there (the Helm provider from this module's cluster outputs).
locals {
  versions = jsondecode(file("${path.module}/../../versions.json"))

  name = "${var.project}-${var.environment}"
  # The keys of the function's secret document: its values file's function.secretKeys (the file make dev seeds from).
  secret_keys = try(yamldecode(file("${path.module}/../../../${var.function_dir}/values.yaml")).function.secretKeys, [])
  tags = merge(var.tags, {
    project     = var.project
    environment = var.environment
    managed-by  = "terraform"
  })

  outputs_parameter_name = "/${var.project}/${var.environment}/platform-outputs"

  # The deploy role's Kubernetes group: its access entry carries it, cluster-config's
  # RoleBinding names it.
  deploy_kubernetes_group = "function-deployers"
}

module "encryption" {
  source = "../encryption"

  name                 = local.name
  deletion_window_days = var.kms_deletion_window_days
  tags                 = local.tags
}

module "network" {
  source = "../network"

  name                       = local.name
  cidr                       = var.vpc_cidr
  az_count                   = var.az_count
  single_nat_gateway         = var.single_nat_gateway
  enable_flow_logs           = var.enable_flow_logs
  enable_interface_endpoints = var.enable_interface_endpoints
  log_retention_days         = var.log_retention_days
  log_kms_key_arn            = module.encryption.logs_key_arn
  cluster_name               = local.name
  tags                       = local.tags
}

module "ci" {
  source = "../ci"

  name                     = local.name
  github_repository        = var.github_repository
  github_environment       = var.environment
  github_oidc_provider_arn = var.github_oidc_provider_arn
  cluster_name             = local.name
  ecr_repository_arn       = module.function.ecr_repository_arn
  ecr_pull_repository_arns = var.ecr_pull_repository_arns
  outputs_parameter_name   = local.outputs_parameter_name
  tags                     = local.tags
}

module "cluster" {
  source = "../cluster"

  name                          = local.name
  kubernetes_version            = local.versions.kubernetes.version
  vpc_id                        = module.network.vpc_id
  subnet_ids                    = module.network.private_subnet_ids
  endpoint_public_access        = var.cluster_endpoint_public_access
  endpoint_public_access_cidrs  = var.cluster_endpoint_public_access_cidrs
  endpoint_private_access_cidrs = var.cluster_endpoint_private_access_cidrs
  log_retention_days            = var.log_retention_days
  log_kms_key_arn               = module.encryption.logs_key_arn
  admin_principal_arns          = var.admin_principal_arns
  deploy_role_arn               = module.ci.deploy_role_arn
  deploy_namespaces             = [var.function_namespace]
  deploy_kubernetes_group       = local.deploy_kubernetes_group
  kms_deletion_window_days      = var.kms_deletion_window_days
  tags                          = local.tags
}

module "cluster_config" {
  source = "../cluster-config"

  function_namespace       = var.function_namespace
  deploy_kubernetes_group  = local.deploy_kubernetes_group
  node_capacity_types      = var.node_capacity_types
  node_instance_categories = var.node_instance_categories
  node_instance_sizes      = var.node_instance_sizes
  node_architecture        = var.node_architecture
  node_cpu_limit           = var.node_cpu_limit

  depends_on = [module.cluster]
}

module "function" {
  source = "../function"

  name                        = local.name
  function_name               = var.function_name
  namespace                   = var.function_namespace
  service_account             = var.function_service_account
  cluster_name                = module.cluster.cluster_name
  ecr_keep_images             = var.ecr_keep_images
  ecr_untagged_expiry_days    = var.ecr_untagged_expiry_days
  ecr_force_delete            = var.ecr_force_delete
  ecr_pull_principal_arns     = var.ecr_pull_principal_arns
  secret_recovery_window_days = var.secret_recovery_window_days
  secret_keys                 = local.secret_keys
  secret_version              = var.secret_version
  kms_deletion_window_days    = var.kms_deletion_window_days
  tags                        = local.tags
}

module "observability" {
  source = "../observability"

  name = local.name
  chart_versions = {
    kube_prometheus_stack   = local.versions.charts.kubePrometheusStack
    opentelemetry_collector = local.versions.charts.opentelemetryCollector
  }
  jaeger_image_tag               = local.versions.images.jaeger
  storage_class                  = module.cluster_config.storage_class
  prometheus_retention           = var.prometheus_retention
  prometheus_persistent          = var.prometheus_persistent
  prometheus_storage_size        = var.prometheus_storage_size
  prometheus_replicas            = var.prometheus_replicas
  collector_replicas             = var.collector_replicas
  jaeger_persistent              = var.jaeger_persistent
  jaeger_storage_size            = var.jaeger_storage_size
  jaeger_retention               = var.jaeger_retention
  grafana_admin_password_version = var.grafana_admin_password_version
  kms_key_arn                    = module.encryption.secrets_key_arn
  secret_recovery_window_days    = var.secret_recovery_window_days
  tags                           = local.tags

  depends_on = [module.cluster_config]
}

module "ingress" {
  source = "../ingress"

  name                       = local.name
  domain                     = var.domain
  route53_zone_id            = var.route53_zone_id
  cluster_name               = module.cluster.cluster_name
  external_dns_chart_version = local.versions.charts.externalDns
  tags                       = local.tags

  depends_on = [module.cluster_config]
}

module "knative" {
  source = "../knative"

  knative_version                    = local.versions.knative.release
  operator_chart_version             = local.versions.knative.operatorChart
  domain                             = var.domain
  certificate_arn                    = module.ingress.certificate_arn
  high_availability_replicas         = var.knative_replicas
  scale_to_zero_grace_period         = var.scale_to_zero_grace_period
  scale_to_zero_pod_retention_period = var.scale_to_zero_pod_retention_period
  tracing_sampling_rate              = var.knative_tracing_sampling_rate
  collector_url                      = module.observability.collector_otlp_http_url

  depends_on = [module.cluster_config]
}

# The outputs the deploy flow needs, readable by the CI role without state access.
resource "aws_ssm_parameter" "outputs" {
  # checkov:skip=CKV2_AWS_34: resource names and URLs only, nothing secret; a plain String keeps the CI role free of KMS grants
  name        = local.outputs_parameter_name
  description = "Platform outputs for the deploy flow (JSON)"
  type        = "String"
  value       = jsonencode(local.deploy_outputs)
}
