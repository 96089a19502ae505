//! `xacct check`: assume every selected account's role and print the assumed-role ARN.

use std::io::Write;
use std::process::ExitCode;

use xacct_aws::SessionSpec;
use xacct_core::report::text::inert;

use super::args::{CheckArgs, Output};
use super::error::UsageError;
use super::load::{aws_provider, load_config_file, warn_of_missing_plugins, with_home_region};
use super::rows::CheckRow;
use super::run::validate_selection;
use crate::terminal::Stderr;

pub async fn check(args: CheckArgs) -> Result<ExitCode, UsageError> {
    let mut config = with_home_region(load_config_file(&args.config)?, &args.config).await?;
    let aws = aws_provider(&mut config, "check").await?;
    let selection = validate_selection(args.selection, &config)?;
    warn_of_missing_plugins(&config);
    let matcher = selection.matcher();
    let accounts: Vec<_> = config
        .accounts
        .iter()
        .filter(|a| matcher.selects(a))
        .collect();
    let checks = accounts.iter().map(|account| {
        let sessions = aws.sessions().clone();
        async move {
            let session = sessions.session(&account.id, &SessionSpec::host("check"))?;
            session.caller_arn().await
        }
    });
    let results = futures::future::join_all(checks).await;
    let rows: Vec<CheckRow> = accounts
        .iter()
        .zip(&results)
        .map(|(account, result)| CheckRow {
            account_id: &account.id,
            alias: &account.alias,
            assumed_role_arn: result.as_deref().ok(),
            error: result.as_ref().err().map(ToString::to_string),
            status: if result.is_ok() { "ok" } else { "error" },
        })
        .collect();
    let mut stdout = std::io::stdout().lock();
    match args.output {
        Output::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&rows)?)?,
        Output::Jsonl => {
            for row in &rows {
                writeln!(stdout, "{}", serde_json::to_string(row)?)?;
            }
        }
        Output::Table => {
            for row in &rows {
                let detail = row
                    .assumed_role_arn
                    .or(row.error.as_deref())
                    .unwrap_or_default();
                writeln!(
                    stdout,
                    "{}  {:<16} {:<6} {}",
                    inert(row.account_id),
                    inert(row.alias),
                    row.status,
                    inert(detail)
                )?;
            }
        }
    }
    let failed = results.iter().filter(|r| r.is_err()).count();
    let summary = format!(
        "check: {} ok, {failed} failed of {} account(s)",
        results.len() - failed,
        results.len()
    );
    // The summary follows a table; beside JSON it goes to stderr, as with `run`.
    if args.output == Output::Table {
        writeln!(stdout, "{summary}")?;
    } else {
        let _ = writeln!(Stderr, "{summary}");
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
