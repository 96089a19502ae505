//! Every S3 request of an account's client pinned to that account.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Pins every bucket-addressed request of an account's S3 client to that account: S3
/// refuses (403) a request whose bucket, or copy source, another account owns. Bucket
/// names are global, and without this a plugin that may touch `*` in one account could
/// reach any bucket whose policy lets that account in. An interceptor rather than a
/// parameter on each call, so that no operation, present or added later, goes without it.
#[derive(Debug)]
pub struct PinnedToAccount {
    account_id: String,
}

impl PinnedToAccount {
    pub fn new(account_id: &str) -> Self {
        PinnedToAccount {
            account_id: account_id.to_owned(),
        }
    }
}

impl Intercept for PinnedToAccount {
    fn name(&self) -> &'static str {
        "PinnedToAccount"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // ListBuckets addresses no bucket; S3 rejects the header there.
        if cfg.load::<Metadata>().map(Metadata::name) == Some("ListBuckets") {
            return Ok(());
        }
        let headers = context.request_mut().headers_mut();
        headers.insert("x-amz-expected-bucket-owner", self.account_id.clone());
        if headers.contains_key("x-amz-copy-source") {
            headers.insert(
                "x-amz-source-expected-bucket-owner",
                self.account_id.clone(),
            );
        }
        Ok(())
    }
}
