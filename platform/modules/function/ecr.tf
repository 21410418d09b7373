resource "aws_ecr_repository" "this" {
  name                 = "${var.name}/${var.function_name}"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.ecr_force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = module.kms_key.arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name

  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.ecr_untagged_expiry_days
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the most recent tagged images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.ecr_keep_images
        }
        action = { type = "expire" }
      },
    ]
  })
}

# Cross-account promotion: prod's deploy role copies dev's image manifest into prod's
# registry, so it needs pull (and nothing else) on this repository. The principals
# must exist when the policy is written: ECR rejects unknown ARNs.
data "aws_iam_policy_document" "ecr_pull" {
  count = length(var.ecr_pull_principal_arns) > 0 ? 1 : 0

  statement {
    sid = "PullFromOtherAccounts"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]

    principals {
      type        = "AWS"
      identifiers = var.ecr_pull_principal_arns
    }
  }
}

resource "aws_ecr_repository_policy" "pull" {
  count = length(var.ecr_pull_principal_arns) > 0 ? 1 : 0

  repository = aws_ecr_repository.this.name
  policy     = data.aws_iam_policy_document.ecr_pull[0].json
}
