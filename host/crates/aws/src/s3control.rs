//! S3 Control: the account's own public access block, read with the account's session.
//!
//! S3 Control's endpoint rules put the account id in front of the host
//! (`https://ACCOUNT.s3-control.REGION.amazonaws.com`), and with a custom `endpoint_url`
//! they do the same to that URL's host (`http://ACCOUNT.127.0.0.1:PORT`), a name no
//! resolver answers. botocore's rules do the same (c7n-org runs against moto only behind
//! an HTTP proxy that forwards the prefixed name). An S3-compatible endpoint on a bare
//! host serves S3 Control at its own host, routing by the `/v20180820/` path and the
//! `x-amz-account-id` header the request carries anyway; so with a custom endpoint,
//! [`KeepEndpointHost`] puts the configured host back before the request is signed. On
//! AWS (no custom endpoint) the SDK's endpoint is used as it is.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use xacct_core::bindings::S3Error;
use xacct_core::bindings::s3::PublicAccessBlock;

use crate::error::{Service, credentials_rejected, guest_error};
use crate::session::Session;

/// Drops the `ACCOUNT.` the endpoint rules put in front of a custom endpoint's host.
#[derive(Debug)]
pub struct KeepEndpointHost {
    prefix: String,
}

impl KeepEndpointHost {
    pub fn new(account_id: &str) -> Self {
        KeepEndpointHost {
            prefix: format!("{account_id}."),
        }
    }

    /// `uri` with the account prefix taken off its host, if it has one.
    fn unprefixed(&self, uri: &str) -> Option<String> {
        let (scheme, rest) = uri.split_once("://")?;
        let rest = rest.strip_prefix(&self.prefix)?;
        Some(format!("{scheme}://{rest}"))
    }
}

impl Intercept for KeepEndpointHost {
    fn name(&self) -> &'static str {
        "KeepEndpointHost"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        if let Some(uri) = self.unprefixed(request.uri()) {
            request.set_uri(uri.as_str())?;
        }
        Ok(())
    }
}

/// The account's own public access block; none where S3 Control answers
/// `NoSuchPublicAccessBlockConfiguration` (S3 Control API reference,
/// GetPublicAccessBlock). The request names the session's own account.
pub async fn account_public_access_block(
    session: &Session,
) -> Result<Option<PublicAccessBlock>, S3Error> {
    let what = "GetPublicAccessBlock (S3 Control) of the account";
    let mut refreshed = false;
    loop {
        let started = std::time::Instant::now();
        let answer = session
            .s3control()
            .get_public_access_block()
            .account_id(&session.account_id)
            .send()
            .await;
        let err = match answer {
            Ok(answer) => {
                return Ok(answer
                    .public_access_block_configuration()
                    .map(|c| PublicAccessBlock {
                        block_public_acls: c.block_public_acls().unwrap_or(false),
                        ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                        block_public_policy: c.block_public_policy().unwrap_or(false),
                        restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
                    }));
            }
            Err(err) => err,
        };
        use aws_smithy_types::error::metadata::ProvideErrorMetadata;
        if err.code() == Some("NoSuchPublicAccessBlockConfiguration") {
            return Ok(None);
        }
        if credentials_rejected(&err) && !refreshed {
            session.credentials_rejected(started);
            refreshed = true;
            continue;
        }
        return Err(guest_error(Service::S3, &err, what));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_accounts_own_prefix_is_taken_off() {
        let keep = KeepEndpointHost::new("920000000000");
        assert_eq!(
            keep.unprefixed(
                "http://920000000000.127.0.0.1:4566/v20180820/configuration/publicAccessBlock"
            )
            .as_deref(),
            Some("http://127.0.0.1:4566/v20180820/configuration/publicAccessBlock")
        );
        assert_eq!(keep.unprefixed("http://127.0.0.1:4566/v20180820/x"), None);
        assert_eq!(keep.unprefixed("http://111111111111.127.0.0.1/"), None);
    }
}
