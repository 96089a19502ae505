//! Regions, the AWS way.
//!
//! - A **region code** is `us-east-1`, never a display name ([`is_region_code`]).
//! - The **home region** comes from `[aws] region`, else `--region`, else the SDK's own
//!   chain ([`crate::home_region`]); accounts without a region of their own inherit it.
//! - A **bucket's region** is wherever S3 says the bucket is. S3 answers a request signed
//!   for another region with `301 PermanentRedirect`, `400 AuthorizationHeaderMalformed`
//!   or (opt-in regions) `400 IllegalLocationConstraintException`, most carrying
//!   `x-amz-bucket-region`; the Rust SDK follows none, so the S3 backend reads the region
//!   as botocore does ([`redirect_of`]: header, error body, HeadBucket), remembers it for
//!   the session and sends the request again through that region's client. A paginated
//!   ListBuckets tells every bucket's region up front.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::partition::Partition;

/// An AWS region code: `us-east-1`, `eu-central-2`, `us-gov-west-1`, `eusc-de-east-1` —
/// a region of one of the SDK's partitions ([`Partition::of_region`]), not a region's
/// display name or a typo.
pub fn is_region_code(region: &str) -> bool {
    Partition::of_region(region).is_some()
}

/// What a failed request on a bucket says of the bucket's region.
#[derive(Debug, PartialEq, Eq)]
pub enum Redirect {
    /// The bucket is in this region.
    To(String),
    /// The bucket is elsewhere, but the answer does not say where: ask HeadBucket.
    Ask,
}

/// Whether S3 redirected a request, and where to, as botocore's `S3RegionRedirectorv2`
/// reads it ("Request redirection and the REST API", S3 User Guide): the
/// `x-amz-bucket-region` header, else the error body's `<Region>`, else (for an answer
/// that is a redirect: `301`, `307`, `PermanentRedirect`, `AuthorizationHeaderMalformed`,
/// or an opt-in region's `IllegalLocationConstraintException`) HeadBucket's answer.
pub fn redirect_of<E>(err: &SdkError<E, HttpResponse>) -> Option<Redirect>
where
    E: ProvideErrorMetadata,
{
    let (raw, code) = match err {
        SdkError::ServiceError(context) => (context.raw(), context.err().code()),
        SdkError::ResponseError(context) => (context.raw(), None),
        _ => return None,
    };
    let status = raw.status().as_u16();
    if !matches!(status, 301 | 307 | 400) {
        return None;
    }
    if let Some(region) = raw.headers().get("x-amz-bucket-region")
        && is_region_code(region)
    {
        return Some(Redirect::To(region.to_owned()));
    }
    let redirect_code = matches!(
        code,
        Some(
            "PermanentRedirect"
                | "AuthorizationHeaderMalformed"
                | "IllegalLocationConstraintException"
        )
    );
    if status == 400 && !redirect_code {
        return None;
    }
    Some(match raw.body().bytes().and_then(region_in_body) {
        Some(region) => Redirect::To(region),
        None => Redirect::Ask,
    })
}

/// The `<Region>` of an S3 error body, if it names a region.
fn region_in_body(body: &[u8]) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    let start = body.find("<Region>")? + "<Region>".len();
    let end = start + body[start..].find("</Region>")?;
    let region = body[start..end].trim();
    is_region_code(region).then(|| region.to_owned())
}

/// The region in HeadBucket's refusal: its answer carries `x-amz-bucket-region` whether it
/// succeeds or not (HeadBucket, S3 API Reference).
pub fn bucket_region_header<E>(refused: &SdkError<E, HttpResponse>) -> Option<String> {
    let raw = match refused {
        SdkError::ServiceError(context) => context.raw(),
        SdkError::ResponseError(context) => context.raw(),
        _ => return None,
    };
    let region = raw.headers().get("x-amz-bucket-region")?;
    is_region_code(region).then(|| region.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_is_read_from_an_error_body() {
        let body = b"<Error><Code>IllegalLocationConstraintException</Code><Message>m</Message><Region>af-south-1</Region></Error>";
        assert_eq!(region_in_body(body).as_deref(), Some("af-south-1"));
        assert_eq!(
            region_in_body(b"<Error><Region>Cape Town</Region></Error>"),
            None
        );
        assert_eq!(
            region_in_body(b"<Error><Code>PermanentRedirect</Code></Error>"),
            None
        );
    }

    #[test]
    fn region_codes_are_told_from_names() {
        for code in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-3",
            "il-central-1",
            "eusc-de-east-1",
            "cn-north-1",
        ] {
            assert!(is_region_code(code), "{code}");
        }
        for name in [
            "EU West (Ireland)",
            "eu-west",
            "useast1",
            "us-east-1a",
            "",
            "local",
            "eu-west1",
        ] {
            assert!(!is_region_code(name), "{name}");
        }
    }
}
