data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

locals {
  external_dns_namespace = "external-dns"
  external_dns_sa        = "external-dns"
  cluster_arn            = "arn:${data.aws_partition.current.partition}:eks:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:cluster/${var.cluster_name}"
}

# Pod Identity only, only for external-dns' service account in this cluster (the session
# tags Pod Identity sets, docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html).
data "aws_iam_policy_document" "pod_identity_trust" {
  statement {
    sid     = "EksPodIdentity"
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/eks-cluster-arn"
      values   = [local.cluster_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/kubernetes-namespace"
      values   = [local.external_dns_namespace]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/kubernetes-service-account"
      values   = [local.external_dns_sa]
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

  # The zone is usually a parent of the domain (zone fn.example.com, domain
  # dev.fn.example.com): external-dns skips a zone that is not the domain or under it
  # unless --aws-zone-match-parent is set (external-dns v0.15.1 provider/aws/aws.go,
  # docs/tutorials/aws.md). --zone-id-filter keeps it on the one zone its role may change.
  values = [yamlencode({
    provider      = { name = "aws" }
    sources       = ["service"]
    domainFilters = [var.domain]
    extraArgs     = ["--aws-zone-match-parent", "--zone-id-filter=${var.route53_zone_id}"]
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
