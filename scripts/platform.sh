#!/usr/bin/env bash
# Drive the platform (platform/envs/<env>) with OpenTofu: init against the S3 state
# backend, plan, apply, destroy, read outputs, and create the state bucket once.
#
#   scripts/platform.sh plan <dev|prod>      init + plan (what `make plan-dev` runs)
#   scripts/platform.sh apply <dev|prod>     init + plan + apply of that plan, staged on a fresh account
#   scripts/platform.sh destroy <dev|prod>   init + destroy
#   scripts/platform.sh init <dev|prod>      init only (the backend settings below)
#   scripts/platform.sh outputs <dev|prod>   init + `output -json` on stdout
#   scripts/platform.sh bootstrap <dev|prod> create that account's state bucket (platform/bootstrap, local state)
#
# Environment: TOFU (binary, default ./bin/tofu, else tofu or terraform on PATH),
# TF_STATE_BUCKET (default <project>-tfstate-<account id>-<region>), AWS_* as usual.
# Without AWS credentials it stops at once, naming what to set.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PLATFORM="$ROOT/platform"

die() {
  printf 'platform: %s\n' "$*" >&2
  exit 2
}

step_start=0
step() {
  step_start=$SECONDS
  printf '==> %s\n' "$*" >&2
}
step_done() {
  printf '    done in %ss\n' "$((SECONDS - step_start))" >&2
}

# The tofu binary: $TOFU, then ./bin/tofu, then tofu or terraform on PATH.
tofu_bin() {
  if [[ -n "${TOFU:-}" ]]; then
    printf '%s' "$TOFU"
  elif [[ -x "$ROOT/bin/tofu" ]]; then
    printf '%s' "$ROOT/bin/tofu"
  elif command -v tofu >/dev/null 2>&1; then
    printf 'tofu'
  elif command -v terraform >/dev/null 2>&1; then
    printf 'terraform'
  else
    die "no OpenTofu: run make tools (installs ./bin/tofu) or set TOFU=/path/to/tofu"
  fi
}

# True when some AWS credential source is configured; checked before any network call
# so that a machine without credentials fails in milliseconds.
has_credentials() {
  [[ -n "${AWS_ACCESS_KEY_ID:-}" && -n "${AWS_SECRET_ACCESS_KEY:-}" ]] && return 0
  [[ -n "${AWS_PROFILE:-}" || -n "${AWS_WEB_IDENTITY_TOKEN_FILE:-}" ]] && return 0
  [[ -n "${AWS_CONTAINER_CREDENTIALS_FULL_URI:-}" || -n "${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI:-}" ]] && return 0
  local creds="${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}" config="${AWS_CONFIG_FILE:-$HOME/.aws/config}"
  [[ -s "$creds" ]] && grep -q '^\[default\]' "$creds" && return 0
  [[ -s "$config" ]] && grep -q '^\[default\]' "$config" && return 0
  return 1
}

require_credentials() {
  has_credentials || die "no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run in CI with OIDC) and retry"
  command -v aws >/dev/null 2>&1 || die "no aws CLI on PATH: install AWS CLI v2 (it also provides the cluster token the Helm provider uses)"
}

# A string value of the environment's module "platform" block (platform/envs/<env>/main.tf),
# e.g. tfvar dev aws_region.
tfvar() {
  local env="$1" name="$2"
  sed -n -E "s/^[[:space:]]*${name}[[:space:]]*=[[:space:]]*\"([^\"]*)\".*/\\1/p" "$PLATFORM/envs/$env/main.tf" | head -n 1
}

check_env() {
  local env="${1:-}"
  [[ "$env" == "dev" || "$env" == "prod" ]] || die "unknown environment '${env}': use dev or prod"
  [[ -f "$PLATFORM/envs/$env/main.tf" ]] || die "platform/envs/$env/main.tf is missing"
}

state_bucket() {
  local env="$1" project="$2" region="$3"
  if [[ -n "${TF_STATE_BUCKET:-}" ]]; then
    printf '%s' "$TF_STATE_BUCKET"
    return
  fi
  local account
  account="$(aws sts get-caller-identity --query Account --output text)" ||
    die "aws sts get-caller-identity failed: the credentials are not valid (refresh them, e.g. aws sso login)"
  printf '%s-tfstate-%s-%s' "$project" "$account" "$region"
}

# init with the backend of one environment: one state object per environment.
tofu_init() {
  local env="$1" tofu project region bucket
  tofu="$(tofu_bin)"
  project="$(tfvar "$env" project)"
  region="$(tfvar "$env" aws_region)"
  [[ -n "$project" && -n "$region" ]] || die "platform/envs/$env/main.tf must set project and aws_region"
  bucket="$(state_bucket "$env" "$project" "$region")"
  step "init $env (state s3://$bucket/$env/terraform.tfstate)"
  "$tofu" -chdir="$PLATFORM/envs/$env" init -input=false -reconfigure \
    -backend-config="bucket=$bucket" \
    -backend-config="key=$env/terraform.tfstate" \
    -backend-config="region=$region" >&2
  step_done
}

# A fresh account has no cluster yet: its Helm releases cannot be planned against an
# API server that does not exist, so the AWS base goes first (stage 1), then the rest.
cluster_exists() {
  local env="$1"
  "$(tofu_bin)" -chdir="$PLATFORM/envs/$env" state list 2>/dev/null | grep -q '^module\.platform\.module\.cluster\.module\.eks\.aws_eks_cluster\.this'
}

STAGE1_TARGETS=(-target=module.platform.module.encryption -target=module.platform.module.network -target=module.platform.module.cluster)

cmd_plan() {
  local env="$1" tofu
  check_env "$env"
  require_credentials
  tofu="$(tofu_bin)"
  tofu_init "$env"
  if cluster_exists "$env"; then
    step "plan $env"
    "$tofu" -chdir="$PLATFORM/envs/$env" plan -input=false -out=tfplan
  else
    step "plan $env, stage 1 of 2 (no cluster yet: network, keys and EKS; the cluster add-ons are planned once it exists)"
    "$tofu" -chdir="$PLATFORM/envs/$env" plan -input=false "${STAGE1_TARGETS[@]}" -out=tfplan
  fi
  step_done
}

cmd_apply() {
  local env="$1" tofu
  check_env "$env"
  require_credentials
  tofu="$(tofu_bin)"
  tofu_init "$env"
  if ! cluster_exists "$env"; then
    step "apply $env, stage 1 of 2: network, keys and the EKS cluster"
    "$tofu" -chdir="$PLATFORM/envs/$env" apply -input=false -auto-approve "${STAGE1_TARGETS[@]}"
    step_done
  fi
  step "apply $env: everything (cluster add-ons, Knative, observability, function resources)"
  "$tofu" -chdir="$PLATFORM/envs/$env" plan -input=false -out=tfplan
  "$tofu" -chdir="$PLATFORM/envs/$env" apply -input=false tfplan
  step_done
}

cmd_destroy() {
  local env="$1"
  check_env "$env"
  require_credentials
  tofu_init "$env"
  step "destroy $env"
  "$(tofu_bin)" -chdir="$PLATFORM/envs/$env" destroy -input=false -auto-approve
  step_done
}

cmd_init() {
  check_env "$1"
  require_credentials
  tofu_init "$1"
}

cmd_outputs() {
  check_env "$1"
  require_credentials
  tofu_init "$1"
  "$(tofu_bin)" -chdir="$PLATFORM/envs/$1" output -json
}

# Run once per account, with that environment's credentials: the bucket is named from the
# environment's own project and region, the names `apply <env>` looks for.
cmd_bootstrap() {
  local env="$1" project region tofu bucket
  check_env "$env"
  require_credentials
  tofu="$(tofu_bin)"
  project="$(tfvar "$env" project)"
  region="$(tfvar "$env" aws_region)"
  bucket="$(state_bucket "$env" "$project" "$region")"
  step "bootstrap: state bucket s3://$bucket in $region"
  "$tofu" -chdir="$PLATFORM/bootstrap" init -input=false >&2
  "$tofu" -chdir="$PLATFORM/bootstrap" apply -input=false \
    -var="aws_region=$region" -var="bucket_name=$bucket"
  step_done
}

usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    plan) cmd_plan "${1:-}" ;;
    apply) cmd_apply "${1:-}" ;;
    destroy) cmd_destroy "${1:-}" ;;
    init) cmd_init "${1:-}" ;;
    outputs) cmd_outputs "${1:-}" ;;
    bootstrap) cmd_bootstrap "${1:-}" ;;
    *) usage ;;
  esac
}

main "$@"
