//! `xacct iam`: the IAM documents the config needs — the home identity's policy, and
//! each role's trust and permission policies.

use std::io::Write;
use std::process::ExitCode;

use xacct_aws::iam::documents;

use super::args::ConfigFile;
use super::error::UsageError;
use super::load::{aws_provider, load_config_file, with_home_region};

pub async fn iam(args: ConfigFile) -> Result<ExitCode, UsageError> {
    let mut config = with_home_region(load_config_file(&args)?, &args).await?;
    let Some(aws) = config.aws() else {
        return Err(UsageError(anyhow::anyhow!(
            "{}: `xacct iam` needs an [aws] section with the accounts' roles",
            config.path.display()
        )));
    };
    let principal = aws.home_principal.clone();
    // The caller's identity, or an organization's accounts, need the home identity.
    let provider = if principal.is_none() || config.aws.organization.is_some() {
        let path = config.path.display().to_string();
        Some(aws_provider(&mut config, "iam").await.map_err(|UsageError(err)| {
            anyhow::anyhow!(
                "cannot tell who the home identity is or list its accounts ({err:#}); fix: set aws.home_principal in {path}"
            )
        })?)
    } else {
        None
    };
    let home = match (principal, &provider) {
        (Some(principal), _) => principal,
        (None, Some(provider)) => provider.sessions().home_arn().to_owned(),
        (None, None) => {
            return Err(UsageError(anyhow::anyhow!(
                "cannot tell who the home identity is; fix: set aws.home_principal in {}",
                config.path.display()
            )));
        }
    };
    let documents = documents(&config.core, &config.aws, &home);
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(&documents)?
    )?;
    Ok(ExitCode::SUCCESS)
}
