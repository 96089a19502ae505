//! Rust bindings of the `xacct:plugin` WIT package (`wit/xacct.wit`), generated at
//! compile time so that the host cannot drift from the contract plugins are built against.
//!
//! The host types behind the WIT resources live in one small module of their own
//! ([`crate::capability::s3::handles`]): bindgen's `with:` names them, and that is the one
//! import circle of the crate.

wasmtime::component::bindgen!({
    path: "../../../wit",
    world: "xacct:plugin/plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "xacct:plugin/s3.client": crate::capability::s3::handles::ClientHandle,
        "xacct:plugin/s3.upload": crate::capability::s3::handles::UploadHandle,
    },
});

pub use self::xacct::plugin::accounts::Account;
pub use self::xacct::plugin::s3;
pub use self::xacct::plugin::types::{AccessDenied, DeniedBy, Error as S3Error};

/// The world every plugin must be built for, as named in messages to operators.
pub const WORLD: &str = "xacct:plugin/plugin@0.1.1";

impl S3Error {
    /// The error's kind as reports and the audit log name it (`not-found`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            S3Error::NotFound(_) => "not-found",
            S3Error::AccessDenied(_) => "access-denied",
            S3Error::Throttled(_) => "throttled",
            S3Error::InvalidInput(_) => "invalid-input",
            S3Error::LimitExceeded(_) => "limit-exceeded",
            S3Error::Unavailable(_) => "unavailable",
            S3Error::Other(_) => "other",
        }
    }

    /// The error's text, as the host wrote it.
    pub fn message(&self) -> &str {
        match self {
            S3Error::AccessDenied(denied) => &denied.message,
            S3Error::NotFound(message)
            | S3Error::Throttled(message)
            | S3Error::InvalidInput(message)
            | S3Error::LimitExceeded(message)
            | S3Error::Unavailable(message)
            | S3Error::Other(message) => message,
        }
    }

    /// Access denied by the xacct host itself (the grant, the scope).
    pub fn denied_by_xacct(message: String) -> S3Error {
        S3Error::AccessDenied(AccessDenied {
            by: DeniedBy::Xacct,
            message,
        })
    }

    /// Access denied by the backend (AWS IAM, or the local backend's file system).
    pub fn denied_by_backend(message: String) -> S3Error {
        S3Error::AccessDenied(AccessDenied {
            by: DeniedBy::Backend,
            message,
        })
    }
}
