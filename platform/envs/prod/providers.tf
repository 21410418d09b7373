provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

# The cluster is created in the same apply: the Helm provider is configured from the
# cluster module's outputs and only connects when a release is applied, after the
# cluster exists. Credentials come from `aws eks get-token` (the caller must be one of
# admin_principal_arns).
provider "helm" {
  kubernetes = {
    host                   = module.cluster.cluster_endpoint
    cluster_ca_certificate = base64decode(module.cluster.cluster_certificate_authority_data)
    exec = {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.cluster.cluster_name, "--region", var.aws_region]
    }
  }
}
