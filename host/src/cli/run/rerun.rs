//! `xacct run PLUGIN --rerun-failed REPORT` when no account of REPORT failed or was
//! skipped: nothing runs, and each output says so in its own form, so that a pipeline
//! (`--output json > rerun.json`, then `report html`, `report merge` or `jq`) gets a
//! report, one with no entries, rather than an empty file.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use xacct_core::audit::timestamp;
use xacct_core::plan::{Plan, input_sha256, plan_hash};
use xacct_core::report::Report;
use xacct_core::report::text::inert;
use xacct_core::shard::ShardStamp;

use super::super::args::{Output, RunArgs};
use super::super::error::UsageError;

/// Writes the report of a rerun with nothing to run (`plan`, emptied): `--output json`
/// a report with no entries and a note, the table one line on stdout saying so, `jsonl`
/// no entry and that line on stderr (where its recap goes). `--html` gets that report's
/// page, `--out-dir` its (empty) plugin directory, `--audit` its file, as a run would
/// leave them. `sha256` is the build REPORT ran. Exits 0.
pub fn nothing_to_rerun(
    args: &RunArgs,
    plan: &Plan,
    sha256: Option<String>,
    said: &str,
) -> Result<ExitCode, UsageError> {
    let (_audit, page) = super::outputs::open_outputs(args)?;
    let report = Report {
        plugin: plan.plugin.clone(),
        plan_hash: plan_hash(
            sha256.as_deref(),
            &args.input,
            plan.mode,
            args.dry_run,
            &plan.selected,
        ),
        sha256,
        signer: None,
        mode: plan.mode.name(),
        dry_run: args.dry_run,
        started_at: timestamp(),
        duration_ms: 0,
        shard: plan.shard.map(|shard| ShardStamp {
            index: shard.number(),
            count: shard.count,
            planned: 0,
            accounts: Vec::new(),
            input_sha256: input_sha256(&args.input),
        }),
        entries: Vec::new(),
        assume_role_calls: BTreeMap::new(),
        call_stats: BTreeMap::new(),
        orphaned_uploads: Vec::new(),
        notes: vec![inert(said).into_owned()],
    };
    let mut stdout = std::io::stdout().lock();
    match args.output {
        Output::Json => {
            report.write_json(&mut stdout)?;
            eprintln!("{}", inert(said));
        }
        Output::Table => writeln!(stdout, "{}: {}", inert(&plan.plugin), inert(said))?,
        Output::Jsonl => eprintln!("{}", inert(said)),
    }
    stdout.flush()?;
    drop(stdout);
    if let Some(page) = page {
        page.write(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}
