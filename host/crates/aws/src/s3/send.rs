//! One request on a bucket, the way every request of the backend is sent: through the
//! session's client of the bucket's region, once more where S3 says the bucket is
//! elsewhere, once more with freshly assumed credentials where AWS declared the
//! old ones expired, and again after a wait while AWS throttles it, within its budget.

use std::time::Instant;

use aws_sdk_s3::types::Tagging;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use xacct_core::bindings::S3Error;
use xacct_core::bindings::s3::Tag;

use crate::error::{credentials_rejected, s3_error};
use crate::region::{Redirect, bucket_region_header, redirect_of};
use crate::session::Session;
use crate::throttle::{ThrottleBudget, is_throttling};

/// Sends a request on `bucket` (or on no bucket) through the session's client of the
/// bucket's region. When S3 answers that the bucket is elsewhere, remembers where and
/// sends it there; when it declares the credentials expired, assumes the role again
/// and sends it once more.
pub(super) async fn on_bucket<T, E, F, Fut>(
    session: &Session,
    bucket: Option<&str>,
    what: &str,
    send: F,
) -> Result<T, S3Error>
where
    F: Fn(aws_sdk_s3::Client) -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (mut redirected, mut refreshed) = (false, false);
    let mut throttled = ThrottleBudget::new(session.throttle_budget);
    loop {
        let started = Instant::now();
        let err = match send(session.s3(bucket)).await {
            Ok(output) => return Ok(output),
            Err(err) => err,
        };
        let region = match (bucket, redirect_of(&err)) {
            (Some(bucket), Some(redirect)) if !redirected => match redirect {
                Redirect::To(region) => Some(region),
                Redirect::Ask => ask_region(session, bucket).await,
            },
            _ => None,
        };
        if let (Some(bucket), Some(region)) = (bucket, region)
            && session.bucket_region(bucket).as_ref() != Some(&region)
        {
            session.learn_bucket_region(bucket, &region);
            redirected = true;
        } else if credentials_rejected(&err) && !refreshed {
            session.credentials_rejected(started);
            refreshed = true;
        } else if is_throttling(&err) && throttled.wait().await {
            // Waited (the session's interceptor counted the throttling): sent again.
            session.counters().resent();
        } else {
            return Err(s3_error(&err, what));
        }
    }
}

/// The region of `bucket` as HeadBucket tells it, sent where the redirected request went.
async fn ask_region(session: &Session, bucket: &str) -> Option<String> {
    match session
        .s3(Some(bucket))
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(output) => output.bucket_region().map(str::to_owned),
        Err(refused) => bucket_region_header(&refused),
    }
}

/// A request the SDK's builders could not complete (a required field missing).
pub(super) fn build_error(what: &str) -> S3Error {
    S3Error::InvalidInput(format!("{what}: the request is incomplete"))
}

/// A tag set as the SDK sends it (an object's or a bucket's).
pub(super) fn tagging(tags: &[Tag], what: &str) -> Result<Tagging, S3Error> {
    let tag_set = tags
        .iter()
        .map(|tag| {
            aws_sdk_s3::types::Tag::builder()
                .key(&tag.key)
                .value(&tag.value)
                .build()
                .map_err(|_| build_error(what))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Tagging::builder()
        .set_tag_set(Some(tag_set))
        .build()
        .map_err(|_| build_error(what))
}
