# tflint for every module and environment root (platform/test/lint.test.ts runs it in each).
# Plugins come from TFLINT_PLUGIN_DIR (set by ./bin/tflint); no `tflint --init`, no downloads.
config {
  # Inspect calls to local modules; registry modules are pinned and linted upstream.
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}

# Static AWS rules (invalid instance types, regions, names...). deep_check stays off:
# it would call AWS APIs.
plugin "aws" {
  enabled = true
}
