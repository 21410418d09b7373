#!/usr/bin/env bash
# `make bench`: makes sure wrk is installed (Debian package), then runs the benchmark (scripts/bench/main.ts).
# Runnable alone from the repository root after `make tools` and `make build`; options are passed through
# (--dist DIR --path P --max-cv X --spawns N --seconds S --rounds R --connections C --compare DIR --out FILE
# --skip-load). The function is the bundle in --dist (BENCH_DIST, default dist/), requested at --path (BENCH_PATH, /).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

ensure_wrk() {
  if [[ -n "${WRK_BIN:-}" ]] || command -v wrk >/dev/null 2>&1; then
    return 0
  fi
  echo "==> wrk is missing: installing the Debian package (apt-get install -y wrk)" >&2
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then sudo=(sudo); fi
  if ! "${sudo[@]}" apt-get install -y wrk >&2; then
    echo "apt-get install wrk failed: run 'apt-get update' first, or set WRK_BIN to a wrk binary" >&2
    return 1
  fi
}

main() {
  cd "${ROOT}"
  export PATH="${ROOT}/node_modules/.bin:${ROOT}/bin:${ROOT}/.venv/bin:${PATH}"
  ensure_wrk
  local dist="${BENCH_DIST:-dist}" args=("$@") i
  for ((i = 0; i < ${#args[@]}; i++)); do
    if [[ "${args[i]}" == "--dist" && $((i + 1)) -lt ${#args[@]} ]]; then dist="${args[i + 1]}"; fi
  done
  if [[ ! -f "${dist}/server.js" ]]; then
    echo "${dist}/server.js is missing: run 'make build' first" >&2
    return 1
  fi
  exec node scripts/bench/main.ts "$@"
}

main "$@"
