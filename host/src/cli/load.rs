//! What the commands share: the config as the command line overrides it, the AWS
//! provider of an `[aws]` config, and the warnings of grants that serve nothing.

use std::fs::Metadata;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use xacct_aws::AwsProvider;
use xacct_aws::home_region::resolve_home_region;
use xacct_core::report::text::inert;

use super::args::{ConfigArgs, ConfigFile};
use super::error::UsageError;
use crate::config::{Backend, Config, ConfigError, locate};
use crate::pipeline::{Service, connect};

/// Loads the config and applies the command-line overrides.
pub fn load_config(args: &ConfigArgs) -> Result<Config, UsageError> {
    let mut config = match (load_config_file(&args.file), &args.local_root) {
        // A directory of data is enough to develop against.
        (Err(UsageError(err)), Some(root))
            if matches!(err.downcast_ref(), Some(ConfigError::NotFound)) =>
        {
            Config::without_file(root)
        }
        (loaded, _) => loaded?,
    };
    if let Some(dir) = &args.plugins {
        config.plugins_dir = dir.clone();
    }
    if let Some(root) = &args.local_root {
        config.use_local_root(root);
    }
    if config.backend == Backend::Local {
        let ignored = config.discover_local_accounts();
        if !ignored.is_empty() {
            tracing::warn!(
                "not accounts (not 12-digit ids) at the top of the local root: {}",
                inert(&ignored.join(", "))
            );
        }
    }
    Ok(config)
}

pub fn load_config_file(args: &ConfigFile) -> Result<Config, UsageError> {
    let path = locate(args.config.as_deref())?;
    Ok(Config::load(&path)?)
}

/// The config with its home region resolved the AWS way (config, `--region`, the SDK's
/// chain), for the commands that talk to AWS.
pub async fn with_home_region(mut config: Config, args: &ConfigFile) -> Result<Config, UsageError> {
    resolve_home_region(&mut config.core, &mut config.aws, args.region.as_deref()).await?;
    Ok(config)
}

/// The AWS provider of an `[aws]` config (its accounts listed), or a usage error naming
/// the file.
pub async fn aws_provider(
    config: &mut Config,
    command: &str,
) -> Result<Arc<AwsProvider>, UsageError> {
    match connect(config).await? {
        Service::Aws(aws) => Ok(aws),
        Service::Local(_) | Service::Custom(_) => Err(UsageError(anyhow::anyhow!(
            "{}: `xacct {command}` needs an [aws] section (the local backend assumes no roles)",
            config.path.display()
        ))),
    }
}

/// Warns of each grant whose plugin is not in the plugin directory: a typo in the section
/// name, or a plugin not built yet; either way the grant serves nothing.
pub fn warn_of_missing_plugins(config: &Config) {
    let text = std::fs::read_to_string(&config.path).unwrap_or_default();
    for (name, plugin) in &config.plugins {
        if plugin.grant.is_none() || config.plugins_dir.join(format!("{name}.wasm")).is_file() {
            continue;
        }
        let line = text
            .lines()
            .position(|line| {
                let line = line.trim_start();
                line.starts_with(&format!("[plugin.{name}]"))
                    || line.starts_with(&format!("plugin.{name} "))
                    || line.starts_with(&format!("plugin.{name}="))
            })
            .map_or(0, |i| i + 1);
        tracing::warn!(
            "{}:{line}: plugin.{}: the grant names a plugin that is not in {}; fix: build {}.wasm into it, or correct or remove the section",
            config.path.display(),
            inert(name),
            config.plugins_dir.display(),
            inert(name),
        );
    }
}

/// The most of a JSON report xacct reads: a 10,000-account report whose outputs average
/// 6 KB is about 73 MB, so 512 MiB holds such a run seven times over. A file over it is
/// refused before it is read: it is no report of xacct's, and would take that much
/// memory (and several times more parsed).
pub const REPORT_BYTES: u64 = 512 * 1024 * 1024;

/// A JSON report of `xacct run --output json`.
pub fn read_report(path: &Path) -> Result<serde_json::Value, UsageError> {
    Ok(read_report_file(path)?.0)
}

/// A JSON report and the metadata of the file it was read from: only a regular file of
/// at most [`REPORT_BYTES`] is read.
pub fn read_report_file(path: &Path) -> Result<(serde_json::Value, Metadata), UsageError> {
    let (file, metadata) = xacct_core::sandbox::open::open_regular(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let too_big = || {
        UsageError(anyhow::anyhow!(
            "{}: over {} MiB, more than xacct reads of a report (a 10,000-account run's is about 73 MB); fix: pass the JSON of `xacct run --output json`",
            path.display(),
            REPORT_BYTES >> 20
        ))
    };
    if metadata.len() > REPORT_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    // A file that grows while it is read is read no further than the cap either.
    file.take(REPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > REPORT_BYTES {
        return Err(too_big());
    }
    let report = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a JSON report; fix: write reports with `xacct run --output json`",
            path.display()
        )
    })?;
    Ok((report, metadata))
}
