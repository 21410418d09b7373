# prod: highly available. Replace the account-specific values (ARNs, repository,
# domain, zone) before the first `make plan-prod`.
project     = "knfn"
environment = "prod"
aws_region  = "eu-west-1"
tags        = { cost-center = "knative-fn-prod" }

vpc_cidr           = "10.50.0.0/16"
az_count           = 3
single_nat_gateway = false
enable_flow_logs   = true
log_retention_days = 90

kms_deletion_window_days = 30

cluster_endpoint_public_access       = false
cluster_endpoint_public_access_cidrs = []
admin_principal_arns                 = ["arn:aws:iam::222222222222:role/platform-admin"]

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
signing_key_version         = 1

# dev in another account: let this environment's deploy role pull dev's repository (dev's
# ecr_repository_arn output) to promote its images. Pull only.
# ecr_pull_repository_arns = ["arn:aws:ecr:eu-west-1:111111111111:repository/knfn-dev/fn"]
