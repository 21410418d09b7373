locals {
  # Secrets Manager appends "-" and six random characters to a secret's name; "-??????"
  # matches exactly that suffix, so a sibling secret whose name merely starts with the
  # same text is not readable (which "-*" or "*" would allow).
  secret_arn_pattern = "arn:${data.aws_partition.current.partition}:secretsmanager:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:secret:${aws_secretsmanager_secret.this.name}-??????"
  cluster_arn        = "arn:${data.aws_partition.current.partition}:eks:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:cluster/${var.cluster_name}"
}

# Trusted only by EKS Pod Identity, only for this cluster's namespace and service account:
# Pod Identity tags the role session with eks-cluster-arn, kubernetes-namespace and
# kubernetes-service-account, and the trust policy matches those request tags (the
# documented way, docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html and
# pod-id-abac.html). aws:SourceArn is not used: Pod Identity documents no cluster-ARN
# value for it.
data "aws_iam_policy_document" "trust" {
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
      values   = [var.namespace]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/kubernetes-service-account"
      values   = [var.service_account]
    }
  }
}

# What the function may do: read its own secret, and decrypt with the customer key only
# when Secrets Manager asks on behalf of that secret.
data "aws_iam_policy_document" "function" {
  statement {
    sid       = "ReadOwnSecret"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.secret_arn_pattern]
  }

  statement {
    sid       = "DecryptViaSecretsManager"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [module.kms_key.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${data.aws_region.current.region}.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:SecretARN"
      values   = [local.secret_arn_pattern]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-${var.function_name}"
  description        = "Runtime role of the ${var.function_name} function (EKS Pod Identity)"
  assume_role_policy = data.aws_iam_policy_document.trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "read-own-secret"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.function.json
}

resource "aws_eks_pod_identity_association" "this" {
  cluster_name    = var.cluster_name
  namespace       = var.namespace
  service_account = var.service_account
  role_arn        = aws_iam_role.this.arn
  tags            = var.tags
}
