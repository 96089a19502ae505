#!/usr/bin/env bash
# Builds plugins/{{name}}.wasm with componentize-js (npm install fetches it;
# COMPONENTIZE_JS names another one). The sandbox has no HTTP: without
# `-d http -d fetch-event` the component would import wasi:http and be refused.
set -euo pipefail
cd "$(dirname "$0")"
componentize_js=${COMPONENTIZE_JS:-node_modules/.bin/componentize-js}
if [ ! -x "$componentize_js" ]; then npm install --no-audit --no-fund; fi
mkdir -p plugins
"$componentize_js" plugin.js -w wit -n plugin -d http -d fetch-event -o plugins/{{name}}.wasm

# The grant the plugin declares (grant.toml), written into the file; then, when
# XACCT_SIGNING_KEY names an unencrypted OpenSSH ed25519 key (ssh-keygen -t ed25519), its
# signature, embedded (sign after annotating: the signature covers the declaration).
xacct=${XACCT:-{{xacct}}}
"$xacct" plugin annotate --grant grant.toml plugins/{{name}}.wasm
if [ -n "${XACCT_SIGNING_KEY:-}" ]; then
  "$xacct" sign plugins/{{name}}.wasm --key "$XACCT_SIGNING_KEY"
fi
