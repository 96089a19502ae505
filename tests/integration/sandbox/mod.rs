//! The WebAssembly sandbox and how plugins get into it: what a guest can see and how each
//! way of misbehaving ends, the plugin directory as untrusted input, the compile cache,
//! and components from other toolchains.

mod compile_cache;
mod component_limits;
mod declared;
mod isolation;
mod languages;
mod loader_stalls;
mod plugin_dir;
mod provenance;
mod signature_cache;
mod signatures;
