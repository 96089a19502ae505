#!/usr/bin/env bash
# Builds plugins/{{name}}.wasm: a component for wasm32-wasip2.
set -euo pipefail
cd "$(dirname "$0")"
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
cargo build --release --target wasm32-wasip2
mkdir -p plugins
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{crate}}.wasm" plugins/{{name}}.wasm

# The grant the plugin declares (grant.toml), written into the file; then, when
# XACCT_SIGNING_KEY names an unencrypted OpenSSH ed25519 key (ssh-keygen -t ed25519), its
# signature, embedded (sign after annotating: the signature covers the declaration).
xacct=${XACCT:-{{xacct}}}
"$xacct" plugin annotate --grant grant.toml plugins/{{name}}.wasm
if [ -n "${XACCT_SIGNING_KEY:-}" ]; then
  "$xacct" sign plugins/{{name}}.wasm --key "$XACCT_SIGNING_KEY"
fi
