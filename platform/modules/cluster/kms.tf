# Envelope encryption of Kubernetes Secrets with a customer key. The account administers
# and uses the key through IAM policies; EKS uses it through the cluster role granted by
# the community module.
module "kms_key" {
  source = "../kms-key"

  alias                = "${var.name}-eks"
  description          = "${var.name} EKS secrets envelope encryption"
  deletion_window_days = var.kms_deletion_window_days
  tags                 = var.tags
}
