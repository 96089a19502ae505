//! xacct's AWS provider: everything AWS, in one crate, built on `xacct-core`'s seams.
//!
//! - the config's AWS sections ([`config`]: `[aws]`, `[organization]`, an account's
//!   role), with ARNs, partitions ([`partition`]) and region codes ([`region`]) and the home region
//!   ([`home_region`]);
//! - the home identity and the sessions it opens ([`session`], assumed credentials
//!   cached in [`credentials`]): the pipeline's **credentials** stage; throttling waited
//!   out within a time budget ([`throttle`]);
//! - the S3 backend ([`s3`], with S3 Control's account settings in [`s3control`]) on
//!   those sessions, every request pinned to its account
//!   ([`pin`]), what AWS's faults cost ([`stats`]);
//! - the provider the core's pipeline runs on ([`provider`]), with accounts listed from
//!   AWS Organizations ([`organizations`]);
//! - error mapping for plugins and for operators ([`error`]), session policies
//!   ([`policy`]) and the IAM documents an operator creates ([`iam`]).
//!
//! - the host's own objects in the home account ([`home_objects`]: a Step Functions
//!   run's plan and its shards' results).
//!
//! Nothing here knows of plugins beyond the grant a session is bounded by.

pub mod config;
pub mod credentials;
pub mod error;
pub mod home_objects;
pub mod home_region;
pub mod iam;
pub mod organizations;
pub mod partition;
pub mod pin;
pub mod policy;
pub mod provider;
pub mod region;
pub mod s3;
pub mod s3control;
pub mod session;
pub mod stats;
pub mod throttle;

pub use error::{AwsError, Service};
pub use provider::AwsProvider;
pub use session::{HomeIdentityError, Session, SessionSpec, Sessions};
