data "aws_partition" "current" {}

locals {
  external_dns_namespace = "external-dns"
  external_dns_sa        = "external-dns"
}

data "aws_iam_policy_document" "pod_identity_trust" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }
  }
}

# external-dns may change records in the one zone only; the list calls have no
# resource-level permissions.
data "aws_iam_policy_document" "external_dns" {
  statement {
    sid       = "ChangeRecordsInZone"
    actions   = ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:ListTagsForResources"]
    resources = ["arn:${data.aws_partition.current.partition}:route53:::hostedzone/${var.route53_zone_id}"]
  }

  statement {
    sid       = "ListZones"
    actions   = ["route53:ListHostedZones"]
    resources = ["*"]
  }
}

resource "aws_iam_role" "external_dns" {
  name               = "${var.name}-external-dns"
  assume_role_policy = data.aws_iam_policy_document.pod_identity_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "external_dns" {
  name   = "route53-zone"
  role   = aws_iam_role.external_dns.id
  policy = data.aws_iam_policy_document.external_dns.json
}

resource "aws_eks_pod_identity_association" "external_dns" {
  cluster_name    = var.cluster_name
  namespace       = local.external_dns_namespace
  service_account = local.external_dns_sa
  role_arn        = aws_iam_role.external_dns.arn
  tags            = var.tags
}

# Publishes *.<domain> -> the Kourier NLB as soon as the load balancer has a hostname
# (the NLB is created at apply time, so a Terraform record could not know it at plan).
resource "helm_release" "external_dns" {
  name             = "external-dns"
  namespace        = local.external_dns_namespace
  create_namespace = true
  repository       = "https://kubernetes-sigs.github.io/external-dns/"
  chart            = "external-dns"
  version          = var.external_dns_chart_version
  wait             = true

  values = [yamlencode({
    provider      = { name = "aws" }
    sources       = ["service"]
    domainFilters = [var.domain]
    policy        = "upsert-only"
    registry      = "txt"
    txtOwnerId    = var.cluster_name
    serviceAccount = {
      create = true
      name   = local.external_dns_sa
    }
  })]

  depends_on = [aws_eks_pod_identity_association.external_dns]
}
