terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.1"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }

  # One state per environment in the bootstrap bucket, S3-native locking (no DynamoDB).
  # bucket, key and region come from `-backend-config` (scripts/platform.sh passes
  # key=<env>/terraform.tfstate). No `encrypt = true`: without a kms_key_id it makes the
  # backend request SSE-S3 on every write, overriding the bucket's default encryption
  # with its customer key (platform/bootstrap), whose bucket policy refuses SSE-S3 writes.
  backend "s3" {
    use_lockfile = true
  }
}
