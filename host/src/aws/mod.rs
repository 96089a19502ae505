//! Everything AWS, in one place: the home identity and the sessions it opens
//! ([`session`], the pipeline's **credentials** stage), error mapping for plugins and for
//! operators ([`error`]), accounts listed from AWS Organizations ([`organizations`]),
//! regions ([`region`]), requests pinned to their account
//! ([`pin`]), what AWS's faults cost each account ([`stats`]) and the IAM documents an
//! operator creates ([`iam`]).
//!
//! The S3 backend (`capability::aws`) is built on this module; nothing here knows of
//! plugins beyond the grant a session is bounded by.

pub mod error;
pub mod iam;
pub mod organizations;
pub mod pin;
pub mod region;
pub mod session;
pub mod stats;

pub use error::{AwsError, Service};
pub use session::{HomeIdentityError, Session, SessionSpec, Sessions};
