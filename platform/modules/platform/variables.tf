variable "project" {
  type        = string
  description = "Short project name, prefix of every resource: 2-12 lowercase letters, digits or dashes, starting with a letter (e.g. \"knfn\")."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,11}$", var.project))
    error_message = "project must be 2-12 characters of lowercase letters, digits and dashes, starting with a letter (e.g. \"knfn\")."
  }
}

variable "environment" {
  type        = string
  description = "Environment name: \"dev\" or \"prod\". Also the GitHub Actions environment allowed to deploy."

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be \"dev\" or \"prod\"."
  }
}

variable "aws_region" {
  type        = string
  description = "AWS region, e.g. \"eu-west-1\"."

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be an AWS region code such as \"eu-west-1\" or \"us-east-2\"."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource (project, environment and managed-by are always added)."
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR of the VPC, /16 to /20 in a private range (10/8, 172.16/12, 192.168/16)."

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && can(regex("^(10\\.|172\\.(1[6-9]|2[0-9]|3[01])\\.|192\\.168\\.)", var.vpc_cidr)) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 20, false)
    error_message = "vpc_cidr must be a private IPv4 CIDR (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16) with a prefix between /16 and /20, e.g. \"10.40.0.0/16\"."
  }
}

variable "az_count" {
  type        = number
  description = "Availability zones: 2 (dev) or 3 (prod)."

  validation {
    condition     = contains([2, 3], var.az_count)
    error_message = "az_count must be 2 or 3."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "true: one NAT gateway (cheap, one AZ is a single point of failure); false: one per AZ (prod)."
}

variable "enable_interface_endpoints" {
  type        = bool
  description = "Interface endpoints for ECR, STS and Secrets Manager in every AZ: prod (image pulls of many nodes stay off NAT); dev without them (4 endpoints x 2 AZs cost about $64 a month, more than the NAT data they save below about 1.5 TB)."
}

variable "enable_flow_logs" {
  type        = bool
  description = "VPC flow logs to an encrypted CloudWatch log group."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the control-plane and flow log groups, a CloudWatch value: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch's retention values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "kms_deletion_window_days" {
  type        = number
  description = "Waiting period before a deleted KMS key is gone, 7 to 30 days."

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "cluster_endpoint_public_access" {
  type        = bool
  description = "true: the Kubernetes API is also public, limited to cluster_endpoint_public_access_cidrs (dev); false: private only (prod)."
}

variable "cluster_endpoint_public_access_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to reach the public API endpoint, e.g. [\"203.0.113.10/32\"]. Never 0.0.0.0/0; empty when the endpoint is private."

  validation {
    condition     = alltrue([for c in var.cluster_endpoint_public_access_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "cluster_endpoint_public_access_cidrs must hold valid IPv4 CIDRs such as \"203.0.113.10/32\", and never 0.0.0.0/0 (the whole internet)."
  }
}

variable "cluster_endpoint_private_access_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to reach the private API endpoint from inside the VPC or a network routed to it: where the self-hosted runner that deploys a private-endpoint cluster runs (prod), a bastion or a VPN. Empty: only the cluster itself."

  validation {
    condition     = alltrue([for c in var.cluster_endpoint_private_access_cidrs : can(cidrhost(c, 0)) && can(regex("^(10\\.|172\\.(1[6-9]|2[0-9]|3[01])\\.|192\\.168\\.)", c))])
    error_message = "cluster_endpoint_private_access_cidrs must be private IPv4 CIDRs (10/8, 172.16/12, 192.168/16), e.g. the runner subnet \"10.50.0.0/20\"."
  }
}

variable "admin_principal_arns" {
  type        = list(string)
  description = "IAM role ARNs with cluster-admin (EKS access entries): whoever runs Terraform, e.g. [\"arn:aws:iam::123456789012:role/platform-admin\"]."

  validation {
    condition     = length(var.admin_principal_arns) > 0 && alltrue([for a in var.admin_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$", a))])
    error_message = "admin_principal_arns must list at least one IAM role ARN like \"arn:aws:iam::123456789012:role/platform-admin\"."
  }
}

variable "github_repository" {
  type        = string
  description = "GitHub repository whose Actions may deploy, \"owner/name\"."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be \"owner/name\", e.g. \"acme/knative-fn\"."
  }
}

variable "github_oidc_provider_arn" {
  type        = string
  description = "ARN of the account's existing GitHub OIDC provider, or null to create it (one per account: the second environment in an account passes the first one's ARN)."
  nullable    = true

  validation {
    condition     = var.github_oidc_provider_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.github_oidc_provider_arn))
    error_message = "github_oidc_provider_arn must be null or \"arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com\"."
  }
}

variable "domain" {
  type        = string
  description = "Domain the functions are served under, inside route53_zone_id's zone, e.g. \"dev.fn.example.com\". A function is https://<name>-<namespace>.<domain>."

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain)) && length(var.domain) <= 200
    error_message = "domain must be a lowercase DNS name without scheme, wildcard or trailing dot, e.g. \"dev.fn.example.com\"."
  }
}

variable "route53_zone_id" {
  type        = string
  description = "ID of the public Route 53 hosted zone that contains domain, e.g. \"Z0123456789ABCDEFGHIJ\"."

  validation {
    condition     = can(regex("^Z[A-Z0-9]{4,31}$", var.route53_zone_id))
    error_message = "route53_zone_id must be a hosted zone ID like \"Z0123456789ABCDEFGHIJ\" (not the domain name)."
  }
}

variable "node_capacity_types" {
  type        = list(string)
  description = "Capacity the workload nodes may use: [\"spot\", \"on-demand\"] (dev) or [\"on-demand\"] (prod)."

  validation {
    condition     = length(var.node_capacity_types) > 0 && alltrue([for t in var.node_capacity_types : contains(["spot", "on-demand"], t)])
    error_message = "node_capacity_types must be a non-empty list of \"spot\" and/or \"on-demand\"."
  }
}

variable "node_instance_categories" {
  type        = list(string)
  description = "EC2 instance categories for workload nodes: any of \"c\", \"m\", \"r\", \"t\"."

  validation {
    condition     = length(var.node_instance_categories) > 0 && alltrue([for c in var.node_instance_categories : contains(["c", "m", "r", "t"], c)])
    error_message = "node_instance_categories must be a non-empty list of \"c\", \"m\", \"r\" or \"t\"."
  }
}

variable "node_instance_sizes" {
  type        = list(string)
  description = "EC2 instance sizes for workload nodes: any of \"medium\", \"large\", \"xlarge\", \"2xlarge\", \"4xlarge\"."

  validation {
    condition     = length(var.node_instance_sizes) > 0 && alltrue([for s in var.node_instance_sizes : contains(["medium", "large", "xlarge", "2xlarge", "4xlarge"], s)])
    error_message = "node_instance_sizes must be a non-empty list of \"medium\", \"large\", \"xlarge\", \"2xlarge\" or \"4xlarge\" (nano, micro and small cannot hold Knative's data plane)."
  }
}

variable "node_architecture" {
  type        = string
  description = "CPU architecture of workload nodes, \"arm64\" or \"amd64\"; the image is built for it."

  validation {
    condition     = contains(["arm64", "amd64"], var.node_architecture)
    error_message = "node_architecture must be \"arm64\" or \"amd64\"."
  }
}

variable "node_cpu_limit" {
  type        = number
  description = "Most vCPUs the workload pool may hold at once (cost guard), 4 to 1000."

  validation {
    condition     = var.node_cpu_limit >= 4 && var.node_cpu_limit <= 1000
    error_message = "node_cpu_limit must be between 4 and 1000."
  }
}

variable "knative_replicas" {
  type        = number
  description = "Replicas of each Knative component: 1 (dev) or 2+ (prod, survives a node or AZ loss)."

  validation {
    condition     = var.knative_replicas >= 1 && var.knative_replicas <= 5
    error_message = "knative_replicas must be between 1 and 5."
  }
}

variable "scale_to_zero_grace_period" {
  type        = string
  description = "How long an idle revision keeps its last pod before scaling to zero, e.g. \"30s\", \"2m\" (6s to 10m)."

  validation {
    condition     = can(regex("^[0-9]+(s|m)$", var.scale_to_zero_grace_period)) && try((endswith(var.scale_to_zero_grace_period, "m") ? tonumber(trimsuffix(var.scale_to_zero_grace_period, "m")) * 60 : tonumber(trimsuffix(var.scale_to_zero_grace_period, "s"))) >= 6 && (endswith(var.scale_to_zero_grace_period, "m") ? tonumber(trimsuffix(var.scale_to_zero_grace_period, "m")) * 60 : tonumber(trimsuffix(var.scale_to_zero_grace_period, "s"))) <= 600, false)
    error_message = "scale_to_zero_grace_period must be a duration between 6s and 10m written as \"<n>s\" or \"<n>m\", e.g. \"30s\"."
  }
}

variable "scale_to_zero_pod_retention_period" {
  type        = string
  description = "Extra time the last pod is kept after the grace period (a warm pod for the next request), e.g. \"0s\", \"5m\", \"1h\"."

  validation {
    condition     = can(regex("^[0-9]+(s|m|h)$", var.scale_to_zero_pod_retention_period))
    error_message = "scale_to_zero_pod_retention_period must be a duration like \"0s\", \"5m\" or \"1h\"."
  }
}

variable "knative_tracing_sampling_rate" {
  type        = number
  description = "Fraction of requests Knative (activator, queue-proxy) traces, 0 to 1."

  validation {
    condition     = var.knative_tracing_sampling_rate >= 0 && var.knative_tracing_sampling_rate <= 1
    error_message = "knative_tracing_sampling_rate must be between 0 and 1."
  }
}

variable "prometheus_retention" {
  type        = string
  description = "How long Prometheus keeps samples, in days or hours, e.g. \"3d\" (dev), \"30d\" (prod)."

  validation {
    condition     = can(regex("^[1-9][0-9]*(h|d)$", var.prometheus_retention))
    error_message = "prometheus_retention must be a duration like \"12h\" or \"30d\"."
  }
}

variable "prometheus_persistent" {
  type        = bool
  description = "true: Prometheus data on EBS volumes that survive restarts (prod; volumes are kept after a destroy); false: on the node, gone with the pod (dev: a destroy leaves no volume)."
}

variable "prometheus_storage_size" {
  type        = string
  description = "Size of each Prometheus volume in Gi, e.g. \"20Gi\"."

  validation {
    condition     = can(regex("^[1-9][0-9]*Gi$", var.prometheus_storage_size))
    error_message = "prometheus_storage_size must be a size in Gi such as \"20Gi\"."
  }
}

variable "prometheus_replicas" {
  type        = number
  description = "Prometheus replicas: 1 (dev) or 2 (prod)."

  validation {
    condition     = var.prometheus_replicas >= 1 && var.prometheus_replicas <= 3
    error_message = "prometheus_replicas must be between 1 and 3."
  }
}

variable "collector_replicas" {
  type        = number
  description = "OpenTelemetry Collector replicas: 1 (dev) or 2+ (prod)."

  validation {
    condition     = var.collector_replicas >= 1 && var.collector_replicas <= 10
    error_message = "collector_replicas must be between 1 and 10."
  }
}

variable "jaeger_persistent" {
  type        = bool
  description = "true: traces survive a Jaeger restart (Badger on a volume, prod); false: memory (dev)."
}

variable "jaeger_storage_size" {
  type        = string
  description = "Size of the Jaeger volume in Gi when persistent, e.g. \"20Gi\"."

  validation {
    condition     = can(regex("^[1-9][0-9]*Gi$", var.jaeger_storage_size))
    error_message = "jaeger_storage_size must be a size in Gi such as \"20Gi\"."
  }
}

variable "jaeger_retention" {
  type        = string
  description = "How long Jaeger keeps spans when persistent, in hours, e.g. \"168h\"."

  validation {
    condition     = can(regex("^[1-9][0-9]*h$", var.jaeger_retention))
    error_message = "jaeger_retention must be a number of hours such as \"168h\"."
  }
}

variable "grafana_admin_password_version" {
  type        = number
  description = "Version of the generated Grafana admin password, a positive integer; increase it to rotate."

  validation {
    condition     = var.grafana_admin_password_version >= 1 && floor(var.grafana_admin_password_version) == var.grafana_admin_password_version
    error_message = "grafana_admin_password_version must be a positive integer."
  }
}

variable "ecr_keep_images" {
  type        = number
  description = "Tagged images the ECR lifecycle policy keeps, 5 to 1000."

  validation {
    condition     = var.ecr_keep_images >= 5 && var.ecr_keep_images <= 1000
    error_message = "ecr_keep_images must be between 5 and 1000."
  }
}

variable "ecr_untagged_expiry_days" {
  type        = number
  description = "Days before untagged images expire, 1 to 90."

  validation {
    condition     = var.ecr_untagged_expiry_days >= 1 && var.ecr_untagged_expiry_days <= 90
    error_message = "ecr_untagged_expiry_days must be between 1 and 90."
  }
}

variable "ecr_force_delete" {
  type        = bool
  description = "Let destroy remove the repository with its images (dev true, prod false)."
}

variable "ecr_pull_principal_arns" {
  type        = list(string)
  description = "IAM principals of another account allowed to pull (only pull) from this environment's ECR repository: in dev, prod's deploy role when prod is another account, e.g. [\"arn:aws:iam::222222222222:role/knfn-prod-deploy\"]. Empty (default): no repository policy."
  default     = []

  validation {
    condition     = alltrue([for a in var.ecr_pull_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/[A-Za-z0-9+=,.@_/-]+|user/[A-Za-z0-9+=,.@_/-]+)$", a))])
    error_message = "ecr_pull_principal_arns must hold IAM role, user or account root ARNs like \"arn:aws:iam::222222222222:role/knfn-prod-deploy\" (no wildcard, no account ID alone)."
  }
}

variable "ecr_pull_repository_arns" {
  type        = list(string)
  description = "ECR repositories of another account this environment's deploy role may pull from: in prod, dev's repository when dev is another account, e.g. [\"arn:aws:ecr:eu-west-1:111111111111:repository/knfn-dev/fn\"]. Empty (default): its own repository only."
  default     = []

  validation {
    condition     = alltrue([for a in var.ecr_pull_repository_arns : can(regex("^arn:aws[a-z-]*:ecr:[a-z]{2}(-gov)?-[a-z]+-[0-9]:[0-9]{12}:repository/[a-z0-9][a-z0-9._/-]*$", a))])
    error_message = "ecr_pull_repository_arns must hold ECR repository ARNs like \"arn:aws:ecr:eu-west-1:111111111111:repository/knfn-dev/fn\" (no wildcard)."
  }
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Days a deleted secret can be restored: 0 (gone at once, dev) or 7 to 30 (prod)."

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "function_dir" {
  type        = string
  description = "The function's folder, relative to the repository root; its values.yaml function.secretKeys are the keys of the secret's initial document."
  default     = "function/example"
}

variable "secret_version" {
  type        = number
  description = "Version of the secret's initial document, a positive integer; increase it to write it again (new random values)."
  default     = 1

  validation {
    condition     = var.secret_version >= 1 && floor(var.secret_version) == var.secret_version
    error_message = "secret_version must be a positive integer."
  }
}

# The function's contract with the chart: the chart installs release "fn" into
# "functions" and names the ServiceAccount after the release.
variable "function_name" {
  type        = string
  description = "Name of the function: the Helm release and Knative Service (a DNS label)."
  default     = "fn"

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$", var.function_name))
    error_message = "function_name must be a DNS label of at most 32 characters: lowercase letters, digits and dashes."
  }
}

variable "function_namespace" {
  type        = string
  description = "Kubernetes namespace of the function (a DNS label)."
  default     = "functions"

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$", var.function_namespace))
    error_message = "function_namespace must be a DNS label of at most 32 characters."
  }
}

variable "function_service_account" {
  type        = string
  description = "ServiceAccount the function runs as; Pod Identity binds the function role to it."
  default     = "fn"

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$", var.function_service_account))
    error_message = "function_service_account must be a valid Kubernetes name."
  }
}
