//! The pipeline's **capability** stage. What a plugin can reach, and the only way it
//! reaches anything: the host side of the WIT interfaces.
//!
//! Every call passes the [`gate`] — request check → grant → budget → dry run → backend
//! task → audit — whatever the capability. A capability is one unit, a module of its
//! own: S3 ([`s3`]) holds its WIT host implementation, its action table, its grant rules,
//! its budgets, its backend trait and its local backend. What one invocation holds is
//! [`invocation::Capability`]; the grant that bounds it, [`grant::Grant`].

pub mod budget;
pub mod gate;
pub mod grant;
pub mod inflight;
pub mod invocation;
pub mod s3;

pub use gate::{MAX_PLANNED_RECORDS, Planned, PlannedOperation, RunContext};
pub use invocation::{Capability, CapabilityData, CapabilityView};
pub use s3::backend::Backend;
