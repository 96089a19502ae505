//! The files a run writes besides stdout, opened before it starts.

use std::os::fd::AsFd;
use std::sync::Arc;

use anyhow::Context;
use xacct_core::audit::AuditLog;
use xacct_core::report::private;

use super::super::args::RunArgs;
use super::super::error::UsageError;
use super::super::html::{KeptFile, RunPage, same_file};

/// The run's files, opened before it starts so that one that cannot be written fails the
/// run before anything runs: `--audit`, `--html` (see [`RunPage::open`]) and
/// `DIR/<plugin>/` of `--out-dir`. Neither file may be one the run keeps: the
/// `--rerun-failed` report, the file stdout writes the report to, or (for the page) the
/// audit log.
pub fn open_outputs(
    args: &RunArgs,
) -> Result<(Option<Arc<AuditLog>>, Option<RunPage>), UsageError> {
    let mut kept = Vec::new();
    if let Some(report) = &args.rerun_failed
        && let Ok(metadata) = std::fs::metadata(report)
    {
        let what = format!("the --rerun-failed report {}", report.display());
        kept.push(KeptFile { what, metadata });
    }
    // Stdout redirected to a file (`> report.json`): that file is the report's.
    if let Ok(stdout) = std::io::stdout().as_fd().try_clone_to_owned()
        && let Ok(metadata) = std::fs::File::from(stdout).metadata()
        && metadata.is_file()
    {
        let what = "the file stdout writes the report to".to_owned();
        kept.push(KeptFile { what, metadata });
    }
    let audit = match &args.audit {
        Some(path) => {
            if let Ok(metadata) = std::fs::metadata(path)
                && let Some(kept) = kept
                    .iter()
                    .find(|kept| same_file(&metadata, &kept.metadata))
            {
                return Err(UsageError(anyhow::anyhow!(
                    "--audit {}: it is {}; fix: name another file for the audit log",
                    path.display(),
                    kept.what
                )));
            }
            let log = Arc::new(AuditLog::open(path)?);
            if let Ok(metadata) = std::fs::metadata(path) {
                let what = format!("the --audit file {}", path.display());
                kept.push(KeptFile { what, metadata });
            }
            Some(log)
        }
        None => None,
    };
    let page = match &args.html {
        Some(path) => Some(RunPage::open(
            path,
            &kept,
            args.out_dir.as_deref(),
            &args.plugin,
        )?),
        None => None,
    };
    if let Some(dir) = &args.out_dir {
        private::create_dir(&dir.join(&args.plugin))
            .with_context(|| format!("--out-dir {}", dir.display()))?;
    }
    Ok((audit, page))
}
