# The function module validates its pull principals itself, not only through the
# composition (platform/test/validation.test.ts runs it on a copy of variables.tf).

variables {
  name                        = "knfn-dev"
  function_name               = "fn"
  namespace                   = "functions"
  service_account             = "fn"
  cluster_name                = "knfn-dev"
  ecr_keep_images             = 20
  ecr_untagged_expiry_days    = 3
  ecr_force_delete            = true
  secret_recovery_window_days = 0
  secret_keys                 = ["SIGNING_KEY", "API_TOKEN"]
  kms_deletion_window_days    = 7
  tags                        = {}
}

run "no_pull_principals_by_default" {
  command = plan
}

run "a_role_arn_is_accepted" {
  command = plan

  variables {
    ecr_pull_principal_arns = ["arn:aws:iam::222222222222:role/knfn-prod-deploy"]
  }
}

run "a_wildcard_principal_is_rejected" {
  command = plan

  variables {
    ecr_pull_principal_arns = ["*"]
  }

  expect_failures = [var.ecr_pull_principal_arns]
}

run "any_secret_keys" {
  command = plan

  variables {
    secret_keys = ["SIGNING_KEY", "API_TOKEN", "db.password"]
  }
}

run "a_secret_key_with_a_space_is_refused" {
  command = plan

  variables {
    secret_keys = ["API TOKEN"]
  }

  expect_failures = [var.secret_keys]
}
