data "aws_partition" "current" {}

locals {
  access_policy_prefix = "arn:${data.aws_partition.current.partition}:eks::aws:cluster-access-policy"

  admin_entries = {
    for i, arn in var.admin_principal_arns : "admin-${i}" => {
      principal_arn = arn
      policy_associations = {
        admin = {
          policy_arn   = "${local.access_policy_prefix}/AmazonEKSClusterAdminPolicy"
          access_scope = { type = "cluster" }
        }
      }
    }
  }

  # AmazonEKSEditPolicy covers the core, apps, batch, networking... objects of the
  # namespace but no custom resources (Knative Services, PodMonitors, PrometheusRules):
  # those come from the Role that platform/charts/cluster-config binds to this group.
  deploy_entry = {
    deploy = {
      principal_arn     = var.deploy_role_arn
      kubernetes_groups = [var.deploy_kubernetes_group]
      policy_associations = {
        edit = {
          policy_arn = "${local.access_policy_prefix}/AmazonEKSEditPolicy"
          access_scope = {
            type       = "namespace"
            namespaces = var.deploy_namespaces
          }
        }
      }
    }
  }
}

module "eks" {
  # checkov:skip=CKV_TF_1: registry module pinned to an exact version (platform/versions.json terraformModules); the registry serves no commit hashes
  source  = "terraform-aws-modules/eks/aws"
  version = "21.19.0"

  name               = var.name
  kubernetes_version = var.kubernetes_version

  vpc_id     = var.vpc_id
  subnet_ids = var.subnet_ids

  endpoint_private_access      = true
  endpoint_public_access       = var.endpoint_public_access
  endpoint_public_access_cidrs = var.endpoint_public_access ? var.endpoint_public_access_cidrs : []

  # The private endpoint answers only what the cluster security group admits: the
  # self-hosted runner (and any bastion/VPN range) that deploys a private cluster.
  security_group_additional_rules = {
    for i, cidr in var.endpoint_private_access_cidrs : "private-api-${i}" => {
      description = "Kubernetes API from ${cidr} (deploy runner, bastion or VPN)"
      from_port   = 443
      to_port     = 443
      cidr_blocks = [cidr]
    }
  }

  # EKS Auto Mode: Karpenter-based node capacity that follows pending pods and removes
  # empty nodes, so a revision scaled to zero frees its node. It also brings the VPC
  # CNI, CoreDNS, kube-proxy, the EBS CSI driver, the load balancer capability and the
  # Pod Identity agent as managed components. Only the "system" built-in pool is used;
  # the workload pool (capacity types per environment) comes from cluster-config.
  compute_config = {
    enabled    = true
    node_pools = ["system"]
  }

  # Access entries only: no aws-auth ConfigMap, no implicit admin for the creator.
  authentication_mode                      = "API"
  enable_cluster_creator_admin_permissions = false
  access_entries                           = merge(local.admin_entries, local.deploy_entry)

  # Pod Identity is the credential path; no IRSA OIDC provider is needed.
  enable_irsa = false

  create_kms_key = false
  encryption_config = {
    provider_key_arn = module.kms_key.arn
    resources        = ["secrets"]
  }

  enabled_log_types                      = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
  cloudwatch_log_group_retention_in_days = var.log_retention_days
  cloudwatch_log_group_kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}
