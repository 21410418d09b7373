# Variable validations of the composition: each run feeds one value a person is likely to
# mistype and expects exactly that variable's validation to fail. The valid baseline is an
# environment's own values: platform/test/validation.test.ts runs
#   tofu test -var-file=<dev values as JSON>
# on a copy of variables.tf and this directory: validations need no provider, while the
# whole module needs the AWS and Helm providers (not installable offline) and a plan of it
# would call AWS.

run "dev_values_are_valid" {
  command = plan
}

run "environment_rejects_1" {
  command = plan

  variables {
    environment = "staging"
  }

  expect_failures = [var.environment]
}

run "project_rejects_1" {
  command = plan

  variables {
    project = "Knative_FN"
  }

  expect_failures = [var.project]
}

run "aws_region_rejects_1" {
  command = plan

  variables {
    aws_region = "Ireland"
  }

  expect_failures = [var.aws_region]
}

run "vpc_cidr_rejects_1" {
  command = plan

  variables {
    vpc_cidr = "10.0.0.0/8"
  }

  expect_failures = [var.vpc_cidr]
}

run "vpc_cidr_rejects_2" {
  command = plan

  variables {
    vpc_cidr = "8.8.0.0/16"
  }

  expect_failures = [var.vpc_cidr]
}

run "vpc_cidr_rejects_3" {
  command = plan

  variables {
    vpc_cidr = "10.40.0.0"
  }

  expect_failures = [var.vpc_cidr]
}

run "az_count_rejects_1" {
  command = plan

  variables {
    az_count = 1
  }

  expect_failures = [var.az_count]
}

run "cluster_endpoint_public_access_cidrs_rejects_1" {
  command = plan

  variables {
    cluster_endpoint_public_access_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.cluster_endpoint_public_access_cidrs]
}

run "cluster_endpoint_public_access_cidrs_rejects_2" {
  command = plan

  variables {
    cluster_endpoint_public_access_cidrs = ["203.0.113.300/32"]
  }

  expect_failures = [var.cluster_endpoint_public_access_cidrs]
}

run "admin_principal_arns_rejects_1" {
  command = plan

  variables {
    admin_principal_arns = ["platform-admin"]
  }

  expect_failures = [var.admin_principal_arns]
}

run "admin_principal_arns_rejects_2" {
  command = plan

  variables {
    admin_principal_arns = []
  }

  expect_failures = [var.admin_principal_arns]
}

run "github_repository_rejects_1" {
  command = plan

  variables {
    github_repository = "https://github.com/acme/fn"
  }

  expect_failures = [var.github_repository]
}

run "domain_rejects_1" {
  command = plan

  variables {
    domain = "https://fn.example.com"
  }

  expect_failures = [var.domain]
}

run "domain_rejects_2" {
  command = plan

  variables {
    domain = "*.fn.example.com"
  }

  expect_failures = [var.domain]
}

run "domain_rejects_3" {
  command = plan

  variables {
    domain = "fn.example.com."
  }

  expect_failures = [var.domain]
}

run "route53_zone_id_rejects_1" {
  command = plan

  variables {
    route53_zone_id = "fn.example.com"
  }

  expect_failures = [var.route53_zone_id]
}

run "node_instance_sizes_rejects_1" {
  command = plan

  variables {
    node_instance_sizes = ["micro"]
  }

  expect_failures = [var.node_instance_sizes]
}

run "node_instance_categories_rejects_1" {
  command = plan

  variables {
    node_instance_categories = ["p"]
  }

  expect_failures = [var.node_instance_categories]
}

run "node_capacity_types_rejects_1" {
  command = plan

  variables {
    node_capacity_types = ["reserved"]
  }

  expect_failures = [var.node_capacity_types]
}

run "node_architecture_rejects_1" {
  command = plan

  variables {
    node_architecture = "x86_64"
  }

  expect_failures = [var.node_architecture]
}

run "log_retention_days_rejects_1" {
  command = plan

  variables {
    log_retention_days = 10
  }

  expect_failures = [var.log_retention_days]
}

run "kms_deletion_window_days_rejects_1" {
  command = plan

  variables {
    kms_deletion_window_days = 3
  }

  expect_failures = [var.kms_deletion_window_days]
}

run "scale_to_zero_grace_period_rejects_1" {
  command = plan

  variables {
    scale_to_zero_grace_period = "1s"
  }

  expect_failures = [var.scale_to_zero_grace_period]
}

run "scale_to_zero_grace_period_rejects_2" {
  command = plan

  variables {
    scale_to_zero_grace_period = "30"
  }

  expect_failures = [var.scale_to_zero_grace_period]
}

run "knative_tracing_sampling_rate_rejects_1" {
  command = plan

  variables {
    knative_tracing_sampling_rate = 10
  }

  expect_failures = [var.knative_tracing_sampling_rate]
}

run "prometheus_retention_rejects_1" {
  command = plan

  variables {
    prometheus_retention = "30 days"
  }

  expect_failures = [var.prometheus_retention]
}

run "prometheus_storage_size_rejects_1" {
  command = plan

  variables {
    prometheus_storage_size = "20GB"
  }

  expect_failures = [var.prometheus_storage_size]
}

run "secret_recovery_window_days_rejects_1" {
  command = plan

  variables {
    secret_recovery_window_days = 3
  }

  expect_failures = [var.secret_recovery_window_days]
}

run "secret_version_rejects_0" {
  command = plan

  variables {
    secret_version = 0
  }

  expect_failures = [var.secret_version]
}

run "function_namespace_rejects_1" {
  command = plan

  variables {
    function_namespace = "Functions"
  }

  expect_failures = [var.function_namespace]
}

run "github_oidc_provider_arn_rejects_1" {
  command = plan

  variables {
    github_oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/example.com"
  }

  expect_failures = [var.github_oidc_provider_arn]
}

run "ecr_pull_principal_arns_rejects_1" {
  command = plan

  variables {
    ecr_pull_principal_arns = ["*"]
  }

  expect_failures = [var.ecr_pull_principal_arns]
}

run "ecr_pull_principal_arns_rejects_2" {
  command = plan

  variables {
    ecr_pull_principal_arns = ["222222222222"]
  }

  expect_failures = [var.ecr_pull_principal_arns]
}

run "ecr_pull_principal_arns_rejects_3" {
  command = plan

  variables {
    ecr_pull_principal_arns = ["arn:aws:iam::2222:role/knfn-prod-deploy"]
  }

  expect_failures = [var.ecr_pull_principal_arns]
}

run "ecr_pull_principal_arns_rejects_4" {
  command = plan

  variables {
    ecr_pull_principal_arns = ["arn:aws:iam::222222222222:role/*"]
  }

  expect_failures = [var.ecr_pull_principal_arns]
}

run "ecr_pull_principal_arns_rejects_5" {
  command = plan

  variables {
    ecr_pull_principal_arns = ["arn:aws:sts::222222222222:assumed-role/knfn-prod-deploy/ci"]
  }

  expect_failures = [var.ecr_pull_principal_arns]
}

run "ecr_pull_repository_arns_rejects_1" {
  command = plan

  variables {
    ecr_pull_repository_arns = ["arn:aws:ecr:eu-west-1:111111111111:repository/*"]
  }

  expect_failures = [var.ecr_pull_repository_arns]
}

run "ecr_pull_repository_arns_rejects_2" {
  command = plan

  variables {
    ecr_pull_repository_arns = ["111111111111.dkr.ecr.eu-west-1.amazonaws.com/knfn-dev/fn"]
  }

  expect_failures = [var.ecr_pull_repository_arns]
}

run "cross_account_principal_and_repository_forms_are_accepted" {
  command = plan

  variables {
    ecr_pull_principal_arns = [
      "arn:aws:iam::222222222222:role/knfn-prod-deploy",
      "arn:aws:iam::222222222222:role/ci/deployer",
      "arn:aws:iam::222222222222:user/release",
      "arn:aws:iam::222222222222:root",
    ]
    ecr_pull_repository_arns = ["arn:aws:ecr:eu-west-1:111111111111:repository/knfn-dev/fn"]
  }
}

run "cluster_endpoint_private_access_cidrs_rejects_public" {
  command = plan

  variables {
    cluster_endpoint_private_access_cidrs = ["203.0.113.0/24"]
  }

  expect_failures = [var.cluster_endpoint_private_access_cidrs]
}
