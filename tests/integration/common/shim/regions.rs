//! Regions and partitions, as S3 answers a request sent to the wrong one.
//!
//! - A bucket is served from its own region only ("Making requests" and "Request
//!   redirection and the REST API", S3 User Guide): a request signed for another region is
//!   answered `301` with `x-amz-bucket-region` for a HEAD, `301 PermanentRedirect` for a
//!   GET, `400 AuthorizationHeaderMalformed` (naming the region in `<Region>`) otherwise,
//!   each with the `x-amz-bucket-region` header.
//! - A bucket in an **opt-in region** reached through another region is answered `400
//!   IllegalLocationConstraintException` ("Managing AWS Regions", AWS General Reference;
//!   botocore's `S3RegionRedirectorv2` treats that code as a redirect). Whether that answer
//!   carries `x-amz-bucket-region` and a `<Region>` varies, so the test chooses
//!   ([`OptInRedirect`]); botocore reads the header, then the error's `<Region>`, then asks
//!   HeadBucket, whose answer always carries the header.
//! - The partition of a region (the SDK's partition data: `aws`, `aws-cn`, `aws-us-gov`,
//!   `aws-eusc`, the ISO partitions) names the ARNs IAM evaluates and the endpoints
//!   `kms:ViaService` names.

use hyper::{Method, Response, StatusCode};

use super::{Body, full};

/// How S3 answers a request for a bucket in an opt-in region sent to another region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OptInRedirect {
    /// `400 IllegalLocationConstraintException` with `x-amz-bucket-region`.
    #[default]
    WithHeader,
    /// Without the header; the error body names the bucket's region in `<Region>`.
    RegionInBody,
    /// Neither header nor `<Region>`: only HeadBucket tells where the bucket is.
    Bare,
}

/// Regions an account must opt in to ("Specify which AWS Regions your account can use",
/// AWS Account Management Reference Guide).
const OPT_IN_REGIONS: [&str; 17] = [
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-west-1",
    "eu-central-2",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
];

/// The partition of a region and its DNS suffix, by the region prefixes of the SDK's
/// partition data (`endpoint_lib` of every aws-sdk-* crate); anything else is `aws`.
pub(super) fn partition_of(region: &str) -> (&'static str, &'static str) {
    const PARTITIONS: [(&str, &str, &str); 7] = [
        ("cn-", "aws-cn", "amazonaws.com.cn"),
        ("us-gov-", "aws-us-gov", "amazonaws.com"),
        ("eusc-", "aws-eusc", "amazonaws.eu"),
        ("us-iso-", "aws-iso", "c2s.ic.gov"),
        ("us-isob-", "aws-iso-b", "sc2s.sgov.gov"),
        ("eu-isoe-", "aws-iso-e", "cloud.adc-e.uk"),
        ("us-isof-", "aws-iso-f", "csp.hci.ic.gov"),
    ];
    PARTITIONS
        .iter()
        .find(|(prefix, _, _)| region.starts_with(prefix))
        .map_or(("aws", "amazonaws.com"), |(_, partition, suffix)| {
            (partition, suffix)
        })
}

/// S3's answer to a request on a bucket of `region` signed for `sent`.
pub(super) fn wrong_region(
    method: &Method,
    head_bucket: bool,
    sent: &str,
    region: &str,
    opt_in: OptInRedirect,
) -> Response<Body> {
    let opt_in = OPT_IN_REGIONS.contains(&region).then_some(opt_in);
    let (status, xml) = match opt_in {
        Some(how) => (
            StatusCode::BAD_REQUEST,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>IllegalLocationConstraintException</Code><Message>The {region} location constraint is incompatible for the region specific endpoint this request was sent to.</Message>{}<RequestId>SHIM</RequestId></Error>",
                if how == OptInRedirect::RegionInBody {
                    format!("<Region>{region}</Region>")
                } else {
                    String::new()
                }
            ),
        ),
        None if method == Method::HEAD => (StatusCode::MOVED_PERMANENTLY, String::new()),
        None if method == Method::GET => (
            StatusCode::MOVED_PERMANENTLY,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message><RequestId>SHIM</RequestId></Error>".to_owned(),
        ),
        None => (
            StatusCode::BAD_REQUEST,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region '{sent}' is wrong; expecting '{region}'</Message><Region>{region}</Region><RequestId>SHIM</RequestId></Error>"
            ),
        ),
    };
    let with_header = head_bucket || opt_in.is_none_or(|how| how == OptInRedirect::WithHeader);
    let mut response = Response::builder()
        .status(status)
        .header("x-amz-request-id", "SHIM");
    if with_header {
        response = response.header("x-amz-bucket-region", region);
    }
    if method == Method::HEAD {
        // A HEAD's answer has no body, whatever went wrong.
        return response.body(full("")).unwrap();
    }
    response
        .header("content-type", "application/xml")
        .body(full(xml))
        .unwrap()
}

#[cfg(test)]
mod tests {
    #[test]
    fn regions_belong_to_the_sdk_partitions() {
        assert_eq!(super::partition_of("us-east-1").0, "aws");
        assert_eq!(
            super::partition_of("cn-north-1"),
            ("aws-cn", "amazonaws.com.cn")
        );
        assert_eq!(super::partition_of("us-gov-west-1").0, "aws-us-gov");
        assert_eq!(super::partition_of("eusc-de-east-1").0, "aws-eusc");
        assert_eq!(super::partition_of("us-isob-east-1").0, "aws-iso-b");
    }
}
