output "bucket" {
  description = "State bucket name (TF_STATE_BUCKET for scripts/platform.sh)."
  value       = aws_s3_bucket.state.bucket
}

output "region" {
  description = "Region of the state bucket."
  value       = var.aws_region
}
