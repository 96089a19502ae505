//! `xacct plugins`: the plugins of the plugin directory, and whether each fits the
//! xacct world (checked in parallel, each compile under its budget).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use xacct_core::report::text::inert;
use xacct_core::sandbox::{LoadOptions, Provenance, Sandbox, plugin_files};

use crate::config::Config;

use super::args::ConfigArgs;
use super::declared::describe;
use super::error::UsageError;
use super::load::{load_config, warn_of_missing_plugins};
use super::metadata::metadata_fields;

pub fn plugins(args: ConfigArgs) -> Result<ExitCode, UsageError> {
    let config = load_config(&args)?;
    warn_of_missing_plugins(&config);
    let sandbox = Sandbox::with_options(LoadOptions::for_config(&config), 1)?;
    let files = plugin_files(&config.plugins_dir)?;
    let mut stdout = std::io::stdout().lock();
    let mut all_ok = true;
    if files.is_empty() {
        writeln!(
            stdout,
            "no plugins (*.wasm) in {}",
            config.plugins_dir.display()
        )?;
    }
    // In parallel, each compile under its budget: one hostile file stalls no other.
    for ((name, _), loaded) in files.iter().zip(sandbox.load_all(&files)) {
        match loaded {
            Ok(plugin) => {
                let pinned = if plugin.provenance.pinned {
                    "pinned"
                } else {
                    "not pinned"
                };
                writeln!(
                    stdout,
                    "{:<24} ok     sha256:{} ({pinned})",
                    inert(name),
                    plugin.sha256
                )?;
                for line in provenance_lines(&config, name, &plugin.provenance) {
                    writeln!(stdout, "    {}", inert(&line))?;
                }
            }
            Err(err) => {
                all_ok = false;
                writeln!(
                    stdout,
                    "{:<24} error  {}",
                    inert(name),
                    inert(&err.to_string())
                )?;
            }
        }
    }
    if std::io::stdout().is_terminal() {
        writeln!(stdout, "plugin directory: {}", config.plugins_dir.display())?;
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What `xacct plugins` says of a loaded plugin's provenance, under its line: signer,
/// declared against granted, metadata.
fn provenance_lines(config: &Config, name: &str, provenance: &Provenance) -> Vec<String> {
    let signer = match (&provenance.signer, &provenance.untrusted) {
        (Some(signer), _) => format!(
            "signed by {} ({}{})",
            signer.fingerprint,
            signer.origin,
            match signer.principals.join(", ") {
                principals if principals.is_empty() => String::new(),
                principals => format!(": {principals}"),
            }
        ),
        (None, Some(why)) => format!("not trusted: {why}"),
        (None, None) => "unsigned".to_owned(),
    };
    let mut lines = vec![format!("signer: {signer}")];
    let grant = config.grant_for(name);
    lines.push(match &provenance.declared {
        Some(declared) => format!("declared: {}", describe(&declared.grant)),
        None => "declared: nothing (the plugin declares no grant)".to_owned(),
    });
    lines.push(match grant {
        Some(grant) => format!("granted:  {}", describe(&grant.spec())),
        None => format!("granted:  nothing (no [plugin.{name}] grant)"),
    });
    if let (Some(declared), Some(grant)) = (&provenance.declared, grant) {
        for wider in grant.excess(&declared.grant, &config.accounts) {
            lines.push(format!("wider than declared: {wider}"));
        }
    }
    let metadata: Vec<String> = metadata_fields(&provenance.metadata)
        .into_iter()
        .filter(|(label, _)| ["name", "version", "authors", "source", "revision"].contains(label))
        .map(|(label, value)| format!("{label} {value}"))
        .collect();
    if !metadata.is_empty() {
        lines.push(format!("metadata: {}", metadata.join("; ")));
    }
    lines
}
