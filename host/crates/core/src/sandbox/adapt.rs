//! Core modules built for `wasm32-wasip1` (the old `wasm32-wasi`) made into components.
//!
//! wit-bindgen embeds the component type of the world a module was built against in a
//! `component-type` custom section; with it, the preview1 reactor adapter of wasmtime's
//! own version turns the module's `wasi_snapshot_preview1` imports into WASI 0.2 ones,
//! exactly as `wasm-tools component new --adapt` does, and the result is a plugin like
//! any other.

use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wasmparser::{Parser, Payload};
use wit_component::ComponentEncoder;

/// The component of a `wasm32-wasip1` module built against a world, or why there is none.
pub(super) fn adapt(module: &[u8]) -> Result<Vec<u8>, String> {
    embeds_world(module)?;
    ComponentEncoder::default()
        .module(module)
        .and_then(|encoder| {
            encoder.adapter(
                WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
        })
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|err| {
            format!(
                "this core module cannot be made a component with the preview1 reactor adapter \
                 (is it a wasm32-wasip1 library built against wit/xacct.wit? wasm32-wasip2 makes \
                 components directly): {err:#}"
            )
        })
}

/// Refuses a module that cannot be adapted at all: one that does not embed the world it was built against (a
/// scan of its custom sections, cheap enough to run before the compile budget starts).
pub(super) fn embeds_world(module: &[u8]) -> Result<(), String> {
    let embeds_world = Parser::new(0).parse_all(module).any(|payload| {
        matches!(payload, Ok(Payload::CustomSection(section)) if section.name().starts_with("component-type"))
    });
    if !embeds_world {
        return Err(
            "it is a core WebAssembly module without an embedded world; build for wasm32-wasip2, \
             which makes components, or for wasm32-wasip1 against wit/xacct.wit with wit-bindgen \
             (the xacct-guest SDK does this), which xacct turns into a component with the \
             preview1 reactor adapter"
                .to_owned(),
        );
    }
    Ok(())
}
