//! The xacct host without a cloud: everything a run needs but the provider that reaches
//! real accounts (`xacct-aws`) and the command line (`xacct`). The host reads as one
//! pipeline, one module per stage:
//!
//! ```text
//! config ──▶ plan ──▶ credentials ──▶ sandbox ──▶ capability ──▶ report
//! ```
//!
//! - [`config`]: parse and validate `xacct.toml` (the core's sections; a provider reads
//!   its own);
//! - [`plan`]: which plugin runs against which accounts, in which invocations;
//! - [`provider`]: the credentials stage's seam — a provider prepares each account and
//!   says what it did; the local backend needs none of it;
//! - [`sandbox`]: wasmtime, the WASI sandbox and per-invocation limits;
//! - [`capability`]: the gate every call passes and the capabilities behind it (S3, with
//!   its local backend);
//! - [`report`]: per-account results, and the [`audit`] log of every call;
//! - [`pipeline`]: the stages in order;
//! - [`shard`]: a run split across machines, and the shards' reports merged.
//!
//! The WIT contract is in `wit/xacct.wit`; [`bindings`] is generated from it.

pub mod audit;
pub mod bindings;
pub mod capability;
pub mod config;
pub mod pipeline;
pub mod plan;
pub mod plan_hash;
pub mod provider;
pub mod report;
pub mod sandbox;
pub mod shard;
