# Cluster-wide settings every later release relies on: the default StorageClass
# (Prometheus and Jaeger volumes), the workload NodePool (without it only the tainted
# "system" pool exists) and the function namespace. Plain Kubernetes objects and the
# Auto Mode NodePool CRD, which exists as soon as the cluster does.
resource "helm_release" "this" {
  name      = "cluster-config"
  namespace = "kube-system"
  chart     = "${path.module}/../../charts/cluster-config"

  # kube-system/amazon-vpc-cni may already exist (created by hand as the Auto Mode
  # NetworkPolicy guide shows, or by EKS): adopt it instead of failing on ownership
  # (Helm provider >= 3.1.0, docs/resources/release.md).
  take_ownership = true

  values = [yamlencode({
    functionNamespace = var.function_namespace
    deployers         = { group = var.deploy_kubernetes_group }
    nodePool = {
      capacityTypes      = var.node_capacity_types
      instanceCategories = var.node_instance_categories
      instanceSizes      = var.node_instance_sizes
      architecture       = var.node_architecture
      cpuLimit           = var.node_cpu_limit
    }
  })]
}
