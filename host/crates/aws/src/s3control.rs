//! S3 Control: the account's own public access block, read with the account's session.
//!
//! S3 Control's endpoint rules put the account id in front of the host
//! (`https://ACCOUNT.s3-control.REGION.amazonaws.com`), and with a custom `endpoint_url`
//! they do the same to that URL's host (`http://ACCOUNT.127.0.0.1:PORT`), a name no
//! resolver answers. botocore's rules do the same (c7n-org runs against moto only behind
//! an HTTP proxy that forwards the prefixed name). An S3-compatible endpoint on a bare
//! host serves S3 Control at its own host, routing by the `/v20180820/` path and the
//! `x-amz-account-id` header the request carries anyway; so with a custom endpoint,
//! [`endpoint::KeepEndpointHost`] puts the configured host back before the request is signed. On
//! AWS (no custom endpoint) the SDK's endpoint is used as it is.

pub mod endpoint;

use xacct_core::bindings::S3Error;
use xacct_core::bindings::s3::PublicAccessBlock;

use crate::error::{Service, credentials_rejected, guest_error};
use crate::session::Session;

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
