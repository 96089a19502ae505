//! Rust bindings of the `xacct:plugin` WIT package (`wit/xacct.wit`), generated at
//! compile time so that the host cannot drift from the contract plugins are built against.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "xacct:plugin/plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "xacct:plugin/s3.client": crate::capability::ClientHandle,
        "xacct:plugin/s3.upload": crate::capability::UploadHandle,
    },
});

pub use self::xacct::plugin::accounts::Account;
pub use self::xacct::plugin::s3;
pub use self::xacct::plugin::types::{AccessDenied, DeniedBy, Error as S3Error};

/// The world every plugin must be built for, as named in messages to operators.
pub const WORLD: &str = "xacct:plugin/plugin@0.1.0";
