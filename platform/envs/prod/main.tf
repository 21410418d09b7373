# prod: highly available. Replace the account-specific values (ARNs, repository,
# domain, zone) before the first `make plan-prod`.
#
# Only what differs between environments lives here: these values (module "platform"),
# the backend and the provider versions (versions.tf), and the function chart's values
# for this environment's deploy (function-values.yaml). The composition is
# platform/modules/platform; scripts/platform.sh and the deploy flow read project and
# aws_region from this block.
module "platform" {
  source = "../../modules/platform"

  project     = "knfn"
  environment = "prod"
  aws_region  = "eu-west-1"
  tags        = { cost-center = "knative-fn-prod" }

  vpc_cidr                   = "10.50.0.0/16"
  az_count                   = 3
  single_nat_gateway         = false
  enable_interface_endpoints = true
  enable_flow_logs           = true
  log_retention_days         = 90

  kms_deletion_window_days = 30

  cluster_endpoint_public_access       = false
  cluster_endpoint_public_access_cidrs = []
  # The API endpoint is private: deploy-prod runs on a self-hosted runner inside this VPC
  # (label knfn-prod, docs/deploy.md), and scripts/platform.sh apply prod from a host that
  # reaches it (bastion, VPN). Narrow this to the runner subnet once it exists.
  cluster_endpoint_private_access_cidrs = ["10.50.0.0/16"]
  admin_principal_arns                  = ["arn:aws:iam::222222222222:role/platform-admin"]

  github_repository        = "example-org/knative-fn"
  github_oidc_provider_arn = null

  domain          = "fn.example.com"
  route53_zone_id = "Z0000000000000000PROD"

  node_capacity_types      = ["on-demand"]
  node_instance_categories = ["c", "m"]
  node_instance_sizes      = ["large", "xlarge", "2xlarge"]
  node_architecture        = "arm64"
  node_cpu_limit           = 64

  knative_replicas                   = 2
  scale_to_zero_grace_period         = "60s"
  scale_to_zero_pod_retention_period = "5m"
  knative_tracing_sampling_rate      = 0.1

  prometheus_persistent   = true
  prometheus_retention    = "30d"
  prometheus_storage_size = "100Gi"
  prometheus_replicas     = 2
  collector_replicas      = 2
  jaeger_persistent       = true
  jaeger_storage_size     = "50Gi"
  jaeger_retention        = "168h"

  grafana_admin_password_version = 1

  ecr_keep_images             = 100
  ecr_untagged_expiry_days    = 14
  ecr_force_delete            = false
  secret_recovery_window_days = 30
  # The secret's keys come from the function's values file (function.secretKeys of function_dir, default
  # function/example); secret_version = 2 would write a new initial document.

  # dev in another account: let this environment's deploy role pull dev's repository (dev's
  # ecr_repository_arn output) to promote its images. Pull only.
  # ecr_pull_repository_arns = ["arn:aws:ecr:eu-west-1:111111111111:repository/knfn-dev/fn"]
}

provider "aws" {
  region = module.platform.region

  default_tags {
    tags = module.platform.tags
  }
}

# The cluster is created in the same apply: the Helm provider is configured from the
# platform's cluster outputs and only connects when a release is applied, after the
# cluster exists. Credentials come from `aws eks get-token` (the caller must be one of
# admin_principal_arns).
provider "helm" {
  kubernetes = {
    host                   = module.platform.cluster_endpoint
    cluster_ca_certificate = base64decode(module.platform.cluster_certificate_authority_data)
    exec = {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.platform.cluster_name, "--region", module.platform.region]
    }
  }
}

output "deploy" {
  description = "Everything the deploy flow needs, as one JSON object (also stored in the SSM parameter outputs_parameter_name)."
  value       = module.platform.deploy
}

output "ecr_repository_arn" {
  description = "ARN of the function's ECR repository (the other environment's ecr_pull_repository_arns when it promotes from here)."
  value       = module.platform.ecr_repository_arn
}
