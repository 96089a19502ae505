//! `xacct report merge`: the reports of a run's shards merged into the whole run's.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use xacct_core::shard::{all_ok, merge};

use super::error::UsageError;
use super::load::read_report;
use crate::terminal::Stderr;

/// `xacct report merge`: the merged report on stdout, its summary on stderr.
pub fn merge_reports(paths: &[PathBuf]) -> Result<ExitCode, UsageError> {
    let reports = paths
        .iter()
        .map(|path| Ok((path.display().to_string(), read_report(path)?)))
        .collect::<Result<Vec<_>, UsageError>>()?;
    let merged = merge(&reports)?;
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &merged)?;
    writeln!(stdout)?;
    let entries = merged["entries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let count = |status: &str| entries.iter().filter(|e| e["status"] == status).count();
    let _ = writeln!(
        Stderr,
        "merged {} shard(s): {} ok, {} failed, {} skipped",
        reports.len(),
        count("ok"),
        count("error"),
        count("skipped")
    );
    Ok(if all_ok(&merged) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
