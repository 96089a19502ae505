#!/usr/bin/env bash
# Builds plugins/{{name}}.wasm with componentize-py: COMPONENTIZE_PY, else the one on
# PATH, else one installed into ./.venv from PyPI.
set -euo pipefail
cd "$(dirname "$0")"
componentize_py=${COMPONENTIZE_PY:-$(command -v componentize-py || echo .venv/bin/componentize-py)}
if [ ! -x "$componentize_py" ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet componentize-py==0.25.1
fi
mkdir -p plugins
"$componentize_py" -d wit -w xacct:plugin/plugin componentize app -o plugins/{{name}}.wasm

# The grant the plugin declares (grant.toml), written into the file; then, when
# XACCT_SIGNING_KEY names an unencrypted OpenSSH ed25519 key (ssh-keygen -t ed25519), its
# signature, embedded (sign after annotating: the signature covers the declaration).
xacct=${XACCT:-{{xacct}}}
"$xacct" plugin annotate --grant grant.toml plugins/{{name}}.wasm
if [ -n "${XACCT_SIGNING_KEY:-}" ]; then
  "$xacct" sign plugins/{{name}}.wasm --key "$XACCT_SIGNING_KEY"
fi
