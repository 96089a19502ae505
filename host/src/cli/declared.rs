//! The grant a plugin declares: `xacct plugin annotate` writes it into any plugin file,
//! `xacct grant suggest` turns it into the `[plugin.NAME]` section for the operator to
//! review.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use xacct_core::sandbox::plugin_file;
use xacct_provenance::{Digest, GrantSpec, PluginFile, annotate};

use super::args::ConfigArgs;
use super::error::UsageError;
use super::load::load_config;
use super::sign::replace;

pub fn annotate_plugin(grant: &Path, plugin: &Path) -> Result<ExitCode, UsageError> {
    let text = std::fs::read_to_string(grant)
        .with_context(|| format!("{}: cannot read the declaration", grant.display()))?;
    let bytes =
        std::fs::read(plugin).with_context(|| format!("{}: cannot read", plugin.display()))?;
    let annotated = annotate(&bytes, &text)
        .map_err(|err| anyhow!("{} into {}: {err}", grant.display(), plugin.display()))?;
    replace(plugin, &annotated.bytes)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{} declares the grant in {}; its sha256 is now {}",
        plugin.display(),
        grant.display(),
        Digest::of(&annotated.bytes)
    )?;
    if annotated.replaces_built {
        writeln!(
            stdout,
            "it replaces the grant the plugin declared when it was built"
        )?;
    }
    if annotated.dropped_signature {
        writeln!(
            stdout,
            "its embedded signature was removed (it covered the file as it was): sign it again with xacct sign"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn suggest_grant(plugin: &str, args: &ConfigArgs) -> Result<ExitCode, UsageError> {
    let config = load_config(args)?;
    let path = plugin_file(&config.plugins_dir, plugin)?;
    let bytes = std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
    let file = PluginFile::parse(&bytes).map_err(|err| anyhow!("{}: {err}", path.display()))?;
    let declared = file
        .declaration()
        .map_err(|err| anyhow!("{}: {err}", path.display()))?
        .ok_or_else(|| {
            anyhow!(
                "{}: the plugin declares no grant; its author can add one (xacct plugin annotate --grant FILE {})",
                path.display(),
                path.display()
            )
        })?;
    write!(
        std::io::stdout().lock(),
        "{}",
        declared.declaration.suggest(plugin)
    )?;
    Ok(ExitCode::SUCCESS)
}

/// A grant on one line: `accounts *, dev; s3 reports-* under 2024/: list, read`.
pub fn describe(grant: &GrantSpec) -> String {
    let accounts: Vec<String> = grant.accounts.iter().map(ToString::to_string).collect();
    let mut text = format!("accounts {}", accounts.join(", "));
    for rule in &grant.s3 {
        let actions: Vec<&str> = rule.actions.iter().map(|a| a.name()).collect();
        text.push_str(&format!("; s3 {}", rule.buckets));
        if !rule.prefix.is_empty() {
            text.push_str(&format!(" under {:?}", rule.prefix));
        }
        text.push_str(&format!(": {}", actions.join(", ")));
    }
    text
}
