#!/usr/bin/env bash
# Installs kubectl of the Kubernetes minor version the platform runs (platform/versions.json) into DIR, with its
# published SHA-256 checked. CI uses it (runners ship whatever kubectl they have); on a workstation, install kubectl
# from your package manager instead.
#
#   scripts/deploy/install-kubectl.sh DIR
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RELEASES="${KUBECTL_RELEASES_URL:-https://dl.k8s.io/release}"
TMP_DIR=""

cleanup() {
  if [[ -n "$TMP_DIR" ]]; then rm -rf "$TMP_DIR"; fi
}
trap cleanup EXIT

die() {
  printf 'install-kubectl: %s\n' "$*" >&2
  exit 1
}

cpu_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) printf 'amd64' ;;
    aarch64 | arm64) printf 'arm64' ;;
    *) die "unsupported CPU $(uname -m)" ;;
  esac
}

main() {
  local dir="${1:-}" minor version arch
  [[ -n "$dir" ]] || die "usage: install-kubectl.sh DIR"
  minor="$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).kubernetes.version' "$ROOT/platform/versions.json")"
  [[ "$minor" =~ ^1\.[0-9]+$ ]] || die "platform/versions.json kubernetes.version is '$minor', not 1.N"
  arch="$(cpu_arch)"
  version="$(curl -fsSL "$RELEASES/stable-$minor.txt")" || die "cannot read the latest $minor release from $RELEASES"
  [[ "$version" =~ ^v1\.[0-9]+\.[0-9]+$ ]] || die "unexpected release name '$version'"
  TMP_DIR="$(mktemp -d)"
  curl -fsSLo "$TMP_DIR/kubectl" "$RELEASES/$version/bin/linux/$arch/kubectl"
  curl -fsSLo "$TMP_DIR/kubectl.sha256" "$RELEASES/$version/bin/linux/$arch/kubectl.sha256"
  printf '%s  %s\n' "$(tr -d '[:space:]' <"$TMP_DIR/kubectl.sha256")" "$TMP_DIR/kubectl" | sha256sum --check --quiet ||
    die "checksum mismatch for kubectl $version ($arch)"
  install -d "$dir"
  install -m 0755 "$TMP_DIR/kubectl" "$dir/kubectl"
  printf 'kubectl %s (%s) installed in %s\n' "$version" "$arch" "$dir"
}

main "$@"
