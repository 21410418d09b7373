# dev: cheap and disposable. Replace the account-specific values (ARNs, repository,
# domain, zone, your public IP) before the first `make plan-dev`.
#
# Only what differs between environments lives here: these values (module "platform"),
# the backend and the provider versions (versions.tf), and the function chart's values
# for this environment's deploy (function-values.yaml). The composition is
# platform/modules/platform; scripts/platform.sh and the deploy flow read project and
# aws_region from this block.
module "platform" {
  source = "../../modules/platform"

  project     = "knfn"
  environment = "dev"
  aws_region  = "eu-west-1"
  tags        = { cost-center = "knative-fn-dev" }

  vpc_cidr                   = "10.40.0.0/16"
  az_count                   = 2
  single_nat_gateway         = true
  enable_interface_endpoints = false
  enable_flow_logs           = false
  log_retention_days         = 7

  kms_deletion_window_days = 7

  cluster_endpoint_public_access       = true
  cluster_endpoint_public_access_cidrs = ["203.0.113.10/32"]
  # dev deploys over the public endpoint (restricted to the CIDRs above).
  cluster_endpoint_private_access_cidrs = []
  admin_principal_arns                  = ["arn:aws:iam::111111111111:role/platform-admin"]

  github_repository        = "example-org/knative-fn"
  github_oidc_provider_arn = null

  domain          = "dev.fn.example.com"
  route53_zone_id = "Z00000000000000000DEV"

  node_capacity_types      = ["spot", "on-demand"]
  node_instance_categories = ["c", "m"]
  node_instance_sizes      = ["large", "xlarge"]
  node_architecture        = "arm64"
  node_cpu_limit           = 16

  knative_replicas                   = 1
  scale_to_zero_grace_period         = "30s"
  scale_to_zero_pod_retention_period = "0s"
  knative_tracing_sampling_rate      = 1

  prometheus_persistent   = false
  prometheus_retention    = "3d"
  prometheus_storage_size = "10Gi"
  prometheus_replicas     = 1
  collector_replicas      = 1
  jaeger_persistent       = false
  jaeger_storage_size     = "5Gi"
  jaeger_retention        = "48h"

  grafana_admin_password_version = 1

  ecr_keep_images             = 20
  ecr_untagged_expiry_days    = 3
  ecr_force_delete            = true
  secret_recovery_window_days = 0
  # The secret's keys come from the function's values file (function.secretKeys of function_dir, default
  # function/example); secret_version = 2 would write a new initial document.

  # prod in another account: let prod's deploy role pull the images it promotes (after
  # prod is applied, since ECR refuses unknown principals). Pull only, nothing else.
  # ecr_pull_principal_arns = ["arn:aws:iam::222222222222:role/knfn-prod-deploy"]
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
