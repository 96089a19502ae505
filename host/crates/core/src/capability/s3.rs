//! The S3 capability, as one unit: the WIT `s3` interface's host implementation
//! (`host`), its action table ([`actions`]: each operation's grant action, whether it
//! mutates, its IAM actions), the grant's S3 rules ([`rules`]), its budgets ([`budget`]),
//! checked names ([`names`]), streaming puts ([`upload`]), the [`backend::Backend`] trait
//! and the local backend ([`local`]). The AWS backend is the AWS provider's (`xacct-aws`).
//!
//! Adding an operation touches the WIT, one host method here, one backend method per
//! backend, one entry of [`actions::OPERATIONS`] and one conformance test.

pub mod actions;
pub mod backend;
pub mod budget;
mod call;
pub mod handles;
mod host;
pub mod local;
pub mod names;
pub mod rules;
pub mod state;
pub mod upload;
