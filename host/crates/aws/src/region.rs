//! Regions, the AWS way.
//!
//! - A **region code** is `us-east-1`, never a display name ([`is_region_code`]).
//! - The **home region** comes from `[aws] region`, else `--region`, else the SDK's own
//!   chain ([`crate::home_region`]); accounts without a region of their own inherit it.
//! - A **bucket's region** is wherever S3 says the bucket is. S3 answers a request signed
//!   for another region with `301 PermanentRedirect` or `400 AuthorizationHeaderMalformed`,
//!   both carrying `x-amz-bucket-region`; the Rust SDK follows neither, so the S3 backend
//!   reads the header ([`redirected_to`]), remembers the region for the session and sends
//!   the request again through that region's client.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

/// An AWS region code: `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-3`
/// (two letters, words, a number), not a region's display name.
pub fn is_region_code(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let [first, middle @ .., last] = &parts[..] else {
        return false;
    };
    region.len() <= 32
        && first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !middle.is_empty()
        && middle
            .iter()
            .all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// The region S3 redirected a request to, if this failure is such a redirect.
pub fn redirected_to<E>(err: &SdkError<E, HttpResponse>) -> Option<String> {
    let raw = match err {
        SdkError::ServiceError(context) => context.raw(),
        SdkError::ResponseError(context) => context.raw(),
        _ => return None,
    };
    if !matches!(raw.status().as_u16(), 301 | 307 | 400) {
        return None;
    }
    let region = raw.headers().get("x-amz-bucket-region")?;
    is_region_code(region).then(|| region.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_codes_are_told_from_names() {
        for code in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-3",
            "il-central-1",
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
        ] {
            assert!(!is_region_code(name), "{name}");
        }
    }
}
