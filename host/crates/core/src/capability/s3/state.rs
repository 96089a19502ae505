//! What one invocation's S3 capability holds: the backend, the plugin's grant, and the
//! invocation's S3 budgets.

use std::sync::Arc;

use super::backend::Backend;
use super::budget::S3Budget;
use super::rules::S3Grant;

pub struct S3State {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) grant: S3Grant,
    pub(crate) budget: Arc<S3Budget>,
}

impl S3State {
    pub fn new(backend: Arc<dyn Backend>, grant: S3Grant, budget: Arc<S3Budget>) -> S3State {
        S3State {
            backend,
            grant,
            budget,
        }
    }
}
