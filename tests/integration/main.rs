//! xacct's integration tests: one test binary (as ripgrep has), so that wasmtime and the
//! AWS SDK are linked once, with one directory per area, so that a test is found where a
//! newcomer would look for it. A test's name starts with its area (`aws::faults::…`),
//! which is also the filter that runs the area alone
//! (`cargo test -p xacct --test integration aws::`).
//!
//! - `aws/`: the AWS provider against moto behind the S3/STS-semantics shim — sessions
//!   and the AWS backend (`backend`), a real estate's regions and trust policies
//!   (`aws_estate`), injected faults (`faults`), Organizations as the account source
//!   (`organizations`), and the host as a Lambda function (`lambda`).
//! - `s3/`: the S3 capability's semantics as a plugin sees them, on the local backend
//!   (`s3_semantics`, which runs the conformance suite that `aws::backend` runs on moto)
//!   and for objects larger than the plugin's memory (`streaming`).
//! - `sandbox/`: the WebAssembly sandbox and how plugins enter it — what a guest sees and
//!   how misbehaving ends (`isolation`), the plugin directory (`plugin_dir`), the compile
//!   cache (`compile_cache`), other toolchains' components (`languages`).
//! - `containment/`: what a plugin cannot reach, spend or say beyond its grant — other
//!   accounts' buckets and the budgets (`beyond_grant`), hostile plugins and the
//!   credential scan (`hostile`), the local backend's OS confinement (`local_confinement`),
//!   a plugin's words reaching the operator inert (`inert_output`).
//! - `operator/`: the `xacct` command as an operator runs it — selecting and running many
//!   accounts (`runs`), the terminal (`terminal`), stopping (`stopping`), config mistakes
//!   with their corpus in `operator/configs/` (`config_mistakes`), shards (`sharding`),
//!   plugin output in the host's log (`live_logs`).
//! - `plugins/`: the plugin author's side — the sample plugins and the command line around
//!   them (`samples`), `xacct new` (`scaffold`), the errors an author reads
//!   (`author_errors`), developing without a config (`configless`).
//!
//! The harness (`common`) builds nothing itself: `scripts/build-guests` compiles the real
//! components it runs, and `scripts/install-moto` the AWS protocol server it starts.

mod common;

mod aws;
mod containment;
mod operator;
mod plugins;
mod s3;
mod sandbox;
