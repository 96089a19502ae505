#!/usr/bin/env bash
# Builds plugins/{{name}}.wasm: a component for wasm32-wasip2.
set -euo pipefail
cd "$(dirname "$0")"
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
cargo build --release --target wasm32-wasip2
mkdir -p plugins
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{crate}}.wasm" plugins/{{name}}.wasm
