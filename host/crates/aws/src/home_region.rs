//! The home region: `[aws] region`, else `--region`, else the SDK's own chain
//! (`AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`).

use xacct_core::config::Config as CoreConfig;

use crate::config::AwsSettings;
use crate::region::is_region_code;

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
