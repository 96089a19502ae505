//! xacct's integration tests: one test binary (as ripgrep has), one module per area, so
//! that wasmtime and the AWS SDK are linked once rather than once per area.
//!
//! The harness (`common`) builds nothing itself: `scripts/build-guests` compiles the real
//! components it runs, and `scripts/install-moto` the AWS protocol server it starts.

mod common;

mod author_errors;
mod aws;
mod aws_estate;
mod compile_cache;
mod config_mistakes;
mod configless;
mod containment;
mod faults;
mod hostile;
mod inert_output;
#[cfg(feature = "lambda")]
mod lambda;
mod languages;
mod live_logs;
mod local_confinement;
mod operator;
mod organizations;
mod plugin_dir;
mod plugins;
mod posture_estate;
mod s3_semantics;
mod sandbox;
mod scaffold;
mod sharding;
mod stopping;
mod streaming;
mod terminal;
