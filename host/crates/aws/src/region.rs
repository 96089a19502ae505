//! Regions, the AWS way.
//!
//! - The **home region** comes from `[aws] region`, else `--region`, else the SDK's own
//!   chain (`AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`); accounts without
//!   a region of their own inherit it.
//! - A **bucket's region** is wherever S3 says the bucket is. S3 answers a request signed
//!   for another region with `301 PermanentRedirect` or `400 AuthorizationHeaderMalformed`,
//!   both carrying `x-amz-bucket-region`; the Rust SDK follows neither, so the S3 backend
//!   reads the header ([`redirected_to`]), remembers the region for the session and sends
//!   the request again through that region's client.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use xacct_core::config::Config as CoreConfig;

use crate::config::AwsSettings;

/// Why the home region is unknown or unusable.
#[derive(Debug, thiserror::Error)]
pub enum RegionError {
    #[error(
        "{config}: no home region: set region in [aws], pass --region, or set AWS_REGION (or the profile's region)"
    )]
    Missing { config: String },
    #[error("--region {0:?} is not an AWS region code; use one such as \"eu-west-1\"")]
    BadFlag(String),
    #[error(
        "the home region {0:?} (from the environment or the profile) is not an AWS region code"
    )]
    BadChain(String),
}

/// Fills in the home region of an `[aws]` config that does not name one.
pub async fn resolve_home_region(
    core: &mut CoreConfig,
    settings: &mut AwsSettings,
    flag: Option<&str>,
) -> Result<(), RegionError> {
    let Some(aws) = &settings.aws else {
        return Ok(());
    };
    if aws.region.is_some() {
        return Ok(());
    }
    let region = match flag {
        Some(flag) if is_region_code(flag) => flag.to_owned(),
        Some(flag) => return Err(RegionError::BadFlag(flag.to_owned())),
        None => {
            let mut chain = aws_config::default_provider::region::DefaultRegionChain::builder();
            if let Some(profile) = &aws.profile {
                chain = chain.profile_name(profile);
            }
            let found = chain
                .build()
                .region()
                .await
                .ok_or_else(|| RegionError::Missing {
                    config: core.path.display().to_string(),
                })?;
            let found = found.as_ref().to_owned();
            if !is_region_code(&found) {
                return Err(RegionError::BadChain(found));
            }
            found
        }
    };
    settings.set_home_region(core, &region);
    Ok(())
}

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
