data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

# Customer key for the function's secret and its image repository.
module "kms_key" {
  source = "../kms-key"

  alias                = "${var.name}-${var.function_name}"
  description          = "${var.name} ${var.function_name} secrets and images"
  deletion_window_days = var.kms_deletion_window_days
  tags                 = var.tags
}
