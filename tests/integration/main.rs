//! xacct's integration tests: one test binary (as ripgrep has), one module per area, so
//! that wasmtime and the AWS SDK are linked once rather than once per area.
//!
//! The harness (`common`) builds nothing itself: `scripts/build-guests` compiles the real
//! components it runs, and `scripts/install-moto` the AWS protocol server it starts.

mod common;

mod audit_budget;
mod author_errors;
mod aws;
mod aws_estate;
mod bucket_ownership;
mod compile_cache;
mod component_limits;
mod config_mistakes;
mod configless;
mod containment;
mod faults;
mod hostile;
mod inert_output;
#[cfg(feature = "lambda")]
mod lambda;
#[cfg(feature = "lambda")]
mod lambda_containment;
mod languages;
mod live_logs;
mod loader_stalls;
mod local_bounds;
mod local_confinement;
mod operator;
mod organization_aliases;
mod organizations;
mod plugin_dir;
mod plugins;
mod s3_semantics;
mod sandbox;
mod scaffold;
mod scaffold_quoting;
mod sharding;
mod stopping;
mod streaming;
mod tampered_merges;
mod terminal;
