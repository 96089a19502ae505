//! xacct: run WebAssembly plugins across many AWS accounts without giving them
//! credentials.
//!
//! The host reads as one pipeline, one module per stage:
//!
//! ```text
//! config ──▶ plan ──▶ credentials ──▶ sandbox ──▶ capability ──▶ report
//! ```
//!
//! - [`config`]: parse and validate `xacct.toml`;
//! - [`plan`]: which plugin runs against which accounts, in which invocations;
//! - [`aws`]: the credentials stage — the home identity assumes each account's role —
//!   and everything else AWS (errors, regions, IAM documents);
//! - [`sandbox`]: wasmtime, the WASI sandbox and per-invocation limits;
//! - [`capability`]: the host side of the WIT `s3` interface and its backends;
//! - [`report`]: per-account results;
//! - [`pipeline`]: the stages in order;
//! - [`shard`]: a run split across machines, and the shards' reports merged.
//!
//! The WIT contract is in `wit/xacct.wit`; [`bindings`] is generated from it.

pub mod audit;
pub mod aws;
pub mod bindings;
pub mod capability;
pub mod config;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod report;
pub mod sandbox;
pub mod scaffold;
pub mod shard;
