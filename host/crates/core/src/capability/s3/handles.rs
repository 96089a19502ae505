//! The host side of the WIT resources a plugin holds, as bindgen's `with:` names them.
//! A plugin holds handles, never the credentials, clients or files behind them.

use super::upload::Upload;
use crate::bindings::Account;

/// A `client` resource: an account of the invocation's scope.
pub struct ClientHandle {
    pub(super) account: Account,
}

/// An `upload` resource: a put in progress.
pub struct UploadHandle(pub(super) Upload);
