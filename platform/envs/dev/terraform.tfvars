# dev: cheap and disposable. Replace the account-specific values (ARNs, repository,
# domain, zone, your public IP) before the first `make plan-dev`.
project     = "knfn"
environment = "dev"
aws_region  = "eu-west-1"
tags        = { cost-center = "knative-fn-dev" }

vpc_cidr           = "10.40.0.0/16"
az_count           = 2
single_nat_gateway = true
enable_flow_logs   = false
log_retention_days = 7

kms_deletion_window_days = 7

cluster_endpoint_public_access       = true
cluster_endpoint_public_access_cidrs = ["203.0.113.10/32"]
admin_principal_arns                 = ["arn:aws:iam::111111111111:role/platform-admin"]

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
signing_key_version         = 1

# prod in another account: let prod's deploy role pull the images it promotes (after
# prod is applied, since ECR refuses unknown principals). Pull only, nothing else.
# ecr_pull_principal_arns = ["arn:aws:iam::222222222222:role/knfn-prod-deploy"]
