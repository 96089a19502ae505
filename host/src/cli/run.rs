//! `xacct run`: a plugin against the configured accounts, with a per-account report —
//! or, with `--plan`, what would run.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use xacct_core::capability::grant::Grant;
use xacct_core::config::accounts::tags_in_use;
use xacct_core::plan::{Mode, Plan, Selection};
use xacct_core::report::private;
use xacct_core::report::text::inert;
use xacct_core::report::{ALL_ACCOUNTS, Report};
use xacct_core::sandbox::{LoadOptions, Sandbox};
use xacct_core::shard::{Shard, failed_accounts as failed};

use super::args::{Output, RunArgs, SelectionArgs};
use super::error::UsageError;
use super::html;
use super::load::{load_config, read_report, warn_of_missing_plugins, with_home_region};
use super::rows::{PlanDocument, account_line};
use crate::config::Config;
use crate::pipeline::{self, Service, connect};
use crate::request::Ask;
use crate::terminal::progress::RunProgress;
use crate::terminal::stderr::error_lines;
use crate::terminal::stop::{STDOUT_CLOSED, Stop};
use crate::terminal::{ColorChoice, Look, ReportText, Stderr, hide_bar, stdout_width};

mod outputs;
mod rerun;

pub async fn run(mut args: RunArgs, color: ColorChoice) -> Result<ExitCode, UsageError> {
    let mut config = with_home_region(load_config(&args.config)?, &args.config.file).await?;
    // With an organization, the accounts are known only once listed (with their tags
    // if the selection reads them).
    let mut service = match &mut config.aws.organization {
        Some(organization) => {
            organization.list_tags |= !args.selection.tags.is_empty();
            Some(connect(&mut config).await?)
        }
        None => None,
    };
    serde_json::from_str::<serde_json::Value>(&args.input)
        .context("--input is not valid JSON; fix: quote it for your shell, e.g. --input '{\"key\": \"value\"}'")?;
    if let Some(concurrency) = args.concurrency {
        config.concurrency = usize::from(concurrency);
    }
    let mut selection = validate_selection(std::mem::take(&mut args.selection), &config)?;
    let shard = (args.shard.as_deref())
        .map(|text| Shard::from_flags(text, args.shard_count, |name| std::env::var(name).ok()))
        .transpose()
        .map_err(|problem| anyhow::anyhow!(problem))?;
    // A rerun of a report where nothing failed runs nothing, and says so in each format.
    let mut nothing_to_rerun = None;
    if let Some(path) = &args.rerun_failed {
        let (failed, sha256) = failed_accounts(path, &args.plugin, args.all_accounts)?;
        if failed.is_empty() {
            nothing_to_rerun = Some((path, sha256));
        }
        selection.accounts = failed;
        selection
            .validate(&config)
            .map_err(|problem| anyhow::anyhow!("--rerun-failed {}: {problem}", path.display()))?;
    }
    warn_of_missing_plugins(&config);
    let ask = Ask {
        plugin: args.plugin.clone(),
        input: args.input.clone(),
        all_accounts: args.all_accounts,
        selection,
        shard,
        dry_run: args.dry_run,
        timeout: args.timeout.map(Duration::from_secs),
    };
    let mut request = ask.into_request()?;
    let mut plan = pipeline::plan(&config, &request);
    if plan.selected.is_empty()
        && request.selection != Selection::default()
        && let Some(grant) = config.grant_for(&args.plugin)
    {
        return Err(UsageError(anyhow::anyhow!(
            "the accounts --account/--tag/--exclude select are outside the grant of plugin {:?} ({} in {}); fix: select accounts it covers, or widen its accounts",
            inert(&args.plugin),
            grant.key,
            config.path.display()
        )));
    }
    if let Some((path, sha256)) = nothing_to_rerun {
        plan.accounts.clear();
        plan.selected.clear();
        let said = format!(
            "{}: no account failed or was skipped: nothing to rerun",
            path.display()
        );
        if args.plan {
            eprintln!("{said}");
            print_plan(&plan, config.grant_for(&args.plugin), args.output)?;
            return Ok(ExitCode::SUCCESS);
        }
        return rerun::nothing_to_rerun(&args, &plan, sha256, &said);
    }
    if args.plan {
        print_plan(&plan, config.grant_for(&args.plugin), args.output)?;
        // As `run` would: no account to run is a failed run (a shard may hold none).
        return Ok(if plan.selected.is_empty() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let (audit, page) = outputs::open_outputs(&args)?;
    request.audit = audit;
    // A log of JSON runs (an array job's) says which shard `--shard auto` resolved to;
    // the table's and jsonl's summaries say it at the end.
    if let Some(shard) = &plan.shard
        && args.output == Output::Json
    {
        eprintln!(
            "{} (shard {shard}): {} of the {} selected account(s)",
            inert(&plan.plugin),
            plan.accounts.len(),
            plan.selected.len()
        );
    }
    let stop = Stop::listen(request.cancel.clone())?;
    let sandbox = Arc::new(Sandbox::with_options(
        LoadOptions::for_config(&config),
        config.concurrency as u32,
    )?);
    let service = match service.take() {
        Some(service) => service,
        None => Service::connect(&config, None).await?,
    };
    let progress = RunProgress::new(args.output == Output::Jsonl, request.cancel.clone());
    let report = pipeline::run(&config, &sandbox, &service, &request, &progress).await;
    hide_bar();
    let report = report?;
    if report.entries.is_empty() && config.accounts.is_empty() {
        eprintln!(
            "no account in scope: add [[account]] entries to {}",
            config.path.display()
        );
    }
    let mut stdout = std::io::stdout().lock();
    let written = match args.output {
        Output::Json => report.write_json(&mut stdout),
        Output::Table => report.write_table(
            &mut stdout,
            &Look {
                width: stdout_width(),
                colour: color.colour(std::io::stdout().is_terminal()),
            },
        ),
        // The entries went out as they finished; the summary and recap go to stderr,
        // unless the reader left: then the run ends quietly.
        Output::Jsonl if progress.stdout_closed() => Ok(()),
        Output::Jsonl => report.write_recap(
            &mut Stderr,
            &Look {
                width: terminal_size::terminal_size_of(std::io::stderr())
                    .map(|(width, _)| usize::from(width.0)),
                colour: color.colour(std::io::stderr().is_terminal()),
            },
        ),
    }
    .and_then(|()| stdout.flush());
    drop(stdout);
    // --out-dir and the page after the report: a file that cannot be written loses no
    // report. Every failure is said; the last one is the command's.
    let mut failures = Vec::new();
    if let Some(dir) = &args.out_dir
        && let Err(err) = write_out_dir(dir, &report)
    {
        failures.push(anyhow::Error::from(err).context(format!("--out-dir {}", dir.display())));
    }
    if let Some(page) = page
        && let Err(UsageError(err)) = page.write(&report)
    {
        failures.push(err);
    }
    // A reader that stopped once the run was over (`| head`) is not an error of the run.
    if let Err(err) = written
        && err.kind() != std::io::ErrorKind::BrokenPipe
    {
        failures.push(err.into());
    }
    if let Some(last) = failures.pop() {
        for err in failures {
            eprintln!("error: {}", error_lines(&format!("{err:#}")));
        }
        return Err(UsageError(last));
    }
    Ok(if let Some(code) = stop.code() {
        ExitCode::from(code)
    } else if progress.stdout_closed() {
        ExitCode::from(STDOUT_CLOSED)
    } else if report.all_ok()
        // A shard that hashed no account of a plan that has some did all it had to.
        || (report.shard.is_some() && report.entries.is_empty() && !plan.selected.is_empty())
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The accounts to run again from an earlier JSON report of `plugin`, and the sha256 of
/// the build that ran.
fn failed_accounts(
    path: &Path,
    plugin: &str,
    all_accounts: bool,
) -> Result<(Vec<String>, Option<String>), UsageError> {
    let report = read_report(path)?;
    let mode = if all_accounts {
        Mode::AllAccounts
    } else {
        Mode::PerAccount
    }
    .name();
    if report["plugin"] != plugin || report["mode"] != mode {
        return Err(UsageError(anyhow::anyhow!(
            "--rerun-failed {}: the report is of plugin {} in {} mode, not {} in {mode} mode; fix: rerun the plugin and mode of the report",
            path.display(),
            inert(&report["plugin"].to_string()),
            inert(&report["mode"].to_string()),
            inert(plugin)
        )));
    }
    if !report["entries"].is_array() {
        return Err(UsageError(anyhow::anyhow!(
            "--rerun-failed {}: the report has no `entries` list; fix: pass the JSON of `xacct run --output json` or `xacct report merge`",
            path.display()
        )));
    }
    let sha256 = report["sha256"].as_str().map(str::to_owned);
    Ok((failed(&report), sha256))
}

/// The selection of `args`, every name it holds checked against the config.
pub fn validate_selection(args: SelectionArgs, config: &Config) -> Result<Selection, UsageError> {
    let selection = Selection {
        accounts: args.accounts,
        tags: args.tags,
        exclude: args.exclude,
    };
    selection
        .validate(config)
        .map_err(|problem| anyhow::anyhow!("--account/--exclude: {problem}"))?;
    let matcher = selection.matcher();
    if selection != Selection::default() && !config.accounts.iter().any(|a| matcher.selects(a)) {
        let flags: Vec<String> = (selection.accounts.iter().map(|a| format!("--account {a}")))
            .chain(selection.tags.iter().map(|(k, v)| format!("--tag {k}={v}")))
            .chain(selection.exclude.iter().map(|a| format!("--exclude {a}")))
            .collect();
        return Err(UsageError(anyhow::anyhow!(
            "{} together match no account in {} (tags in use: {}); fix: check the tag's key and value, or drop a flag",
            inert(&flags.join(" ")),
            config.path.display(),
            inert(&tags_in_use(&config.accounts))
        )));
    }
    Ok(selection)
}

/// `DIR/<plugin>/<account>/result.json` and `plugin.log` per entry, owner-only. `DIR`
/// itself is created owner-only if missing, and left as it is if not (it may be shared,
/// e.g. `/tmp`); `<plugin>` and below are xacct's, tightened if an earlier run left them
/// open.
fn write_out_dir(dir: &Path, report: &Report) -> std::io::Result<()> {
    let plugin_dir = dir.join(&report.plugin);
    private::create_dir(&plugin_dir)?;
    for entry in &report.entries {
        let name = if entry.account_id == ALL_ACCOUNTS {
            Mode::AllAccounts.name()
        } else {
            &entry.account_id
        };
        let dir = plugin_dir.join(name);
        private::create_dir(&dir)?;
        let mut result = serde_json::to_vec_pretty(entry)?;
        result.push(b'\n');
        private::write(&dir.join("result.json"), &result)?;
        private::write(&dir.join("plugin.log"), html::plugin_log(entry).as_bytes())?;
    }
    Ok(())
}

/// `--plan`: what would run, with which grant and limits; nothing is called.
fn print_plan(plan: &Plan, grant: Option<&Grant>, output: Output) -> Result<(), UsageError> {
    let document = PlanDocument::of(plan, grant.map(Grant::describe));
    let mut stdout = std::io::stdout().lock();
    if output != Output::Table {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&document)?)?;
        return Ok(());
    }
    // A shard says which: `--shard auto` resolved it from the environment.
    let shard = match &plan.shard {
        Some(shard) => format!(", shard {shard} of the {} selected", plan.selected.len()),
        None => String::new(),
    };
    writeln!(
        stdout,
        "plan: {} ({}) on {} account(s){shard}; nothing is called",
        plan.plugin,
        document.mode,
        plan.accounts.len()
    )?;
    if let Some(note) = &plan.note {
        writeln!(stdout, "note: {}", inert(note))?;
    }
    let grant = serde_json::to_string(&document.grant)?;
    writeln!(stdout, "grant: {}", inert(&grant))?;
    writeln!(
        stdout,
        "limits: {}",
        serde_json::to_string(&document.limits)?
    )?;
    for account in &plan.accounts {
        let cells = (&*account.id, &*account.alias, &*account.region);
        let tags = account.tags.iter().map(|(k, v)| (k, v));
        writeln!(stdout, "{}", account_line(cells, tags, (16, 12)))?;
    }
    Ok(())
}
