//! The S3 capability's semantics as a plugin sees them: the backend conformance suite on
//! the local backend (moto runs it in `aws`), what is the local backend's own business,
//! and objects larger than the plugin's memory streamed through it.

mod s3_semantics;
mod streaming;
