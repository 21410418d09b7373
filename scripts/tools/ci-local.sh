#!/usr/bin/env bash
# Runs commands the way a CI runner does: as a non-root user, in a fresh clone of this repository's HEAD in that
# user's home, with the user's own empty caches (Go, pip, npm, ~/.cache/knative-fn). Needs root (useradd, runuser).
#
#   scripts/tools/ci-local.sh [--seed] COMMAND...
#   scripts/tools/ci-local.sh --seed 'scripts/tools/install.sh helm prometheus' 'npm ci' 'make test-unit'
#
# --seed copies the tools built from Go (helm, kind, jaeger, tofu, ...) and the kubeconform schemas from the caller's
# cache into the user's, so the run stays within minutes; everything else (Python venvs, the Prometheus .deb,
# trivy, checkov, npm) is downloaded and installed by the user for real. Only committed files are cloned.
# CI_LOCAL_USER (default kfn-ci) is created once and kept; its clone and caches are replaced on every run.
# Each command is limited to CI_LOCAL_TIMEOUT seconds (default 1800). Exits non-zero when any command fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CI_USER="${CI_LOCAL_USER:-kfn-ci}"
SRC_CACHE="${KNATIVE_FN_CACHE:-$HOME/.cache/knative-fn}"
# Built from Go by scripts/tools/install.sh (seeded with --seed when this cache has them); the rest are downloads.
GO_TOOLS=(helm helm-unittest kubeconform actionlint kind queue-proxy jaeger tofu tflint tflint-ruleset-aws)

err() { printf 'ci-local: %s\n' "$*" >&2; }

main() {
  local seed=0
  if [[ "${1:-}" == --seed ]]; then
    seed=1
    shift
  fi
  if (($# == 0)); then
    err "usage: scripts/tools/ci-local.sh [--seed] COMMAND..."
    return 2
  fi
  if ((EUID != 0)); then
    err "needs root to create the user and run as it (useradd, runuser); run it with sudo"
    return 2
  fi
  # One run at a time: a second one would wipe the first one's clone.
  exec 9>"/run/lock/ci-local-$CI_USER.lock"
  if ! flock -n 9; then
    err "another ci-local.sh run as $CI_USER is under way; waiting for it"
    flock 9
  fi
  if ! id -u "$CI_USER" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash "$CI_USER"
  fi
  local home work repo cache
  home="$(getent passwd "$CI_USER" | cut -d: -f6)"
  work="$home/ci-local"
  repo="$work/repo"
  cache="$home/.cache/knative-fn"
  # A fresh start: no clone, no tool cache, no Go/pip/npm caches of an earlier run.
  rm -rf "$work" "$home/.cache" "$home/go" "$home/.npm"
  mkdir -p "$work" "$cache/tools"
  local head
  head="$(git -C "$ROOT" rev-parse HEAD)"
  git clone --quiet --no-checkout --no-hardlinks "$ROOT" "$repo"
  git -C "$repo" checkout --quiet --detach "$head"
  if ((seed)); then
    local tool dir
    for tool in "${GO_TOOLS[@]}"; do
      for dir in "$SRC_CACHE/tools/$tool"-v*; do
        if [[ -d "$dir" ]]; then cp -a "$dir" "$cache/tools/"; fi
      done
    done
    if [[ -d "$SRC_CACHE/schemas" ]]; then cp -a "$SRC_CACHE/schemas" "$cache/"; fi
    printf 'ci-local: seeded %s with %s\n' "$cache" "$(find "$cache/tools" -mindepth 1 -maxdepth 1 -printf '%f ' 2>/dev/null)"
  fi
  chown -R "$CI_USER:" "$work" "$home/.cache"

  local cmd rc failed=0 start
  for cmd in "$@"; do
    printf 'ci-local: [%s@%s] $ %s\n' "$CI_USER" "$repo" "$cmd"
    start="$(date +%s)"
    rc=0
    # A clean environment, as a runner's step gets: the user's HOME, the system PATH with Go, no root caches.
    timeout "${CI_LOCAL_TIMEOUT:-1800}" runuser -u "$CI_USER" -- env -i HOME="$home" USER="$CI_USER" LANG=C.UTF-8 \
      PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      bash --norc --noprofile -euo pipefail -c "cd '$repo' && $cmd" || rc=$?
    printf 'ci-local: exit %s after %ss: %s\n' "$rc" "$(($(date +%s) - start))" "$cmd"
    if ((rc != 0)); then failed=$((failed + 1)); fi
  done
  printf 'ci-local: %s of %s commands passed as %s in a fresh clone\n' "$(($# - failed))" "$#" "$CI_USER"
  ((failed == 0))
}

main "$@"
