//! xacct: run WebAssembly plugins across many AWS accounts without giving them
//! credentials. This crate is the composition root — the core (`xacct-core`: config,
//! plan, sandbox, the capability gate, the S3 capability with its local backend,
//! reports) and the AWS provider (`xacct-aws`) put together — and the command line and
//! the Lambda runtime on top:
//!
//! - [`config`]: the config, each section read by its owner;
//! - [`pipeline`]: the service a config names (local, AWS, an embedder's backend) and
//!   the run on it;
//! - [`request`]: a run as an operator asks for it (flags or a Lambda event);
//! - [`cli`]: the commands; [`terminal`]: the operator's terminal; [`logging`];
//! - `lambda` (feature `lambda`): the host as a Lambda function.
//!
//! The core's and the provider's modules are re-exported under their names, so that
//! `xacct::sandbox`, `xacct::plan`, `xacct::aws` and the rest read as one library.
//! `ARCHITECTURE.md` maps the code.

pub mod cli;
pub mod config;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod logging;
pub mod pipeline;
pub mod request;
pub mod terminal;

pub use xacct_aws as aws;
pub use xacct_core::{audit, bindings, capability, plan, provider, report, sandbox, shard};
pub use xacct_provenance as provenance;
