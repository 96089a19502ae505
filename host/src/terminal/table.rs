//! The report for people: a table of the entries fitted to the terminal, the summary
//! line, and a recap of what failed. Every cell is made [`inert`]: results, errors and
//! notes carry text a plugin chose. (The JSON report is the core's.)

use std::io::{self, Write};

use xacct_core::capability::budget::Usage;
use xacct_core::provider::CallStats;
use xacct_core::report::text::inert;
use xacct_core::report::{Entry, Report, Status};

/// The report as text.
pub trait ReportText {
    /// `N ok, M failed, K skipped in T s; S3 calls, bytes, AssumeRole calls`: clauses
    /// separated by `; `.
    fn summary(&self) -> String;
    /// The notes, a table of the entries fitted to `look.width` (results wrapped to
    /// [`RESULT_LINES`] lines, then elided: the JSON outputs keep them whole), then
    /// [`ReportText::write_recap`].
    fn write_table(&self, out: &mut dyn Write, look: &Look) -> io::Result<()>;
    /// The summary line, orphaned uploads and a recap of the accounts that failed: one
    /// line each (account, alias, error kind, the reason elided to `look.width`), the
    /// skipped ones counted.
    fn write_recap(&self, out: &mut dyn Write, look: &Look) -> io::Result<()>;
}

impl ReportText for Report {
    fn summary(&self) -> String {
        let count = |status| self.entries.iter().filter(|e| e.status == status).count();
        let total = |f: fn(&Usage) -> u64| self.entries.iter().map(|e| f(&e.usage)).sum::<u64>();
        let mut faults = CallStats::default();
        for stats in self.call_stats.values() {
            faults.add(*stats);
        }
        let faults = if faults == CallStats::default() {
            String::new()
        } else {
            format!(
                "; AWS faults absorbed: {} retries ({} throttled), {} credential refreshes, {} resumed reads",
                faults.retries, faults.throttled, faults.refreshes, faults.resumes
            )
        };
        // The total only: the per-account counts are in the JSON report.
        let assume_roles = if self.assume_role_calls.is_empty() {
            String::new()
        } else {
            format!(
                "; {} AssumeRole calls",
                self.assume_role_calls.values().sum::<u64>()
            )
        };
        let orphans = if self.orphaned_uploads.is_empty() {
            String::new()
        } else {
            format!("; {} orphaned uploads", self.orphaned_uploads.len())
        };
        // Refusals by the grant are the plugin's or its grant's to fix, AWS's are IAM's.
        let denied = match total(|u| u.aws_denied_calls) {
            0 => format!("{} denied", total(|u| u.denied_calls)),
            by_aws => format!(
                "{} denied by the grant, {by_aws} by AWS",
                total(|u| u.denied_calls)
            ),
        };
        format!(
            "{} ok, {} failed, {} skipped in {:.1} s; {} S3 calls ({denied}), {} read, {} written{assume_roles}{orphans}{faults}{}",
            count(Status::Ok),
            count(Status::Error),
            count(Status::Skipped),
            self.duration_ms as f64 / 1000.0,
            total(|u| u.s3_calls),
            bytes(total(|u| u.bytes_read)),
            bytes(total(|u| u.bytes_written)),
            if self.dry_run {
                " (dry run: mutations planned, not executed)"
            } else {
                ""
            },
        )
    }

    fn write_table(&self, out: &mut dyn Write, look: &Look) -> io::Result<()> {
        for note in &self.notes {
            writeln!(out, "note: {}", inert(note))?;
        }
        let mut table = comfy_table::Table::new();
        table.load_style(comfy_table::presets::NOTHING);
        if look.colour {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        match look.width {
            Some(width) => {
                table
                    .set_width(u16::try_from(width).unwrap_or(u16::MAX))
                    .set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
            }
            None => {
                table.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
            }
        }
        table.set_header(["ACCOUNT", "ALIAS", "STATUS", "MS", "RESULT"]);
        for entry in &self.entries {
            let result = match (&entry.output, &entry.error) {
                (Some(output), _) => output.to_string(),
                (None, Some(error)) => match &error.denied_by_aws {
                    Some(denial) => format!(
                        "denied by AWS: {} on {} ({}: {})",
                        denial.action, denial.resource, error.kind, error.message
                    ),
                    None => format!("{}: {}", error.kind, error.message),
                },
                (None, None) => String::new(),
            };
            let status = comfy_table::Cell::new(word(entry.status));
            let status = match entry.status {
                Status::Ok => status.fg(comfy_table::Color::Green),
                Status::Error => status.fg(comfy_table::Color::Red),
                Status::Skipped => status.fg(comfy_table::Color::Yellow),
            };
            // Unbounded only when the width is unknown (not a terminal): a file still
            // gets whole lines, but never a megabyte in one cell.
            let result = match look.width {
                Some(_) => inert(&result).into_owned(),
                None => elide(&inert(&result), UNFITTED_RESULT_CHARS),
            };
            let mut row = comfy_table::Row::from(vec![
                comfy_table::Cell::new(inert(&entry.account_id)),
                comfy_table::Cell::new(inert(&entry.alias)),
                status,
                comfy_table::Cell::new(entry.duration_ms),
                comfy_table::Cell::new(result),
            ]);
            row.max_height(RESULT_LINES);
            table.add_row(row);
        }
        // The fixed columns first: ids are 12 digits, the rest is short; the result gets
        // what remains, and the alias gives way before it does.
        for (index, constraint) in [
            comfy_table::ColumnConstraint::ContentWidth,
            comfy_table::ColumnConstraint::UpperBoundary(comfy_table::Width::Fixed(24)),
            comfy_table::ColumnConstraint::ContentWidth,
            comfy_table::ColumnConstraint::ContentWidth,
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(column) = table.column_mut(index) {
                column.set_constraint(constraint);
            }
        }
        if let Some(column) = table.column_mut(0) {
            column.set_padding((0, 1));
        }
        for line in table.lines() {
            writeln!(out, "{}", line.trim_end())?;
        }
        self.write_recap(out, look)
    }

    fn write_recap(&self, out: &mut dyn Write, look: &Look) -> io::Result<()> {
        let paint = |text: &str, code: &str| {
            if look.colour {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text.to_owned()
            }
        };
        let fit = |line: String| match look.width {
            Some(width) => elide(&line, width),
            None => line,
        };
        // The summary wraps between its clauses rather than losing any.
        let summary = self.summary();
        let clauses: Vec<&str> = summary.split("; ").collect();
        // A shard says which (`--shard auto` took it from the environment), as people
        // count: `shard 2/2`.
        let mut line = match &self.shard {
            Some(shard) => format!(
                "{} (shard {}/{}):",
                inert(&self.plugin),
                shard.index,
                shard.count
            ),
            None => format!("{}:", inert(&self.plugin)),
        };
        for (i, clause) in clauses.iter().enumerate() {
            let clause = if i + 1 < clauses.len() {
                format!("{clause};")
            } else {
                (*clause).to_owned()
            };
            if look
                .width
                .is_some_and(|width| line.chars().count() + 1 + clause.chars().count() > width)
            {
                writeln!(out, "{line}")?;
                line = format!(" {clause}");
            } else {
                line.push(' ');
                line.push_str(&clause);
            }
        }
        writeln!(out, "{}", fit(line))?;
        if !self.orphaned_uploads.is_empty() {
            writeln!(
                out,
                "{}",
                paint(
                    &format!(
                        "orphaned uploads ({}): S3 refused their abort; abort them, or add an AbortIncompleteMultipartUpload lifecycle rule",
                        self.orphaned_uploads.len()
                    ),
                    "1;31"
                )
            )?;
            for upload in &self.orphaned_uploads {
                writeln!(
                    out,
                    "  {}  s3://{}/{}  upload id {}: {}",
                    inert(&upload.account),
                    inert(&upload.bucket),
                    inert(&upload.key),
                    inert(&upload.upload_id),
                    inert(&upload.reason)
                )?;
            }
        }
        let (denied, failed): (Vec<&Entry>, Vec<&Entry>) = self
            .entries
            .iter()
            .filter(|e| e.status == Status::Error)
            .partition(|e| e.error.as_ref().is_some_and(|e| e.denied_by_aws.is_some()));
        if !denied.is_empty() {
            writeln!(
                out,
                "{}",
                paint(
                    &format!(
                        "denied by AWS ({}): fix IAM (the role's policies, bucket policies, KMS keys), not the plugin:",
                        denied.len()
                    ),
                    "1;31"
                )
            )?;
            let alias_width = denied.iter().map(|e| e.alias.len()).max().unwrap_or(0);
            for entry in denied.iter().take(RECAP_LINES) {
                let Some(denial) = entry.error.as_ref().and_then(|e| e.denied_by_aws.as_ref())
                else {
                    continue;
                };
                writeln!(
                    out,
                    "{}",
                    fit(format!(
                        "  {}  {:<alias_width$}  {} on {}",
                        inert(&entry.account_id),
                        inert(&entry.alias),
                        inert(&denial.action),
                        inert(&denial.resource)
                    ))
                )?;
            }
            if denied.len() > RECAP_LINES {
                writeln!(
                    out,
                    "  … and {} more (every entry is in the report)",
                    denied.len() - RECAP_LINES
                )?;
            }
        }
        if !failed.is_empty() {
            writeln!(
                out,
                "{}",
                paint(&format!("failed ({}):", failed.len()), "1;31")
            )?;
            let alias_width = failed.iter().map(|e| e.alias.len()).max().unwrap_or(0);
            let kind_width = failed
                .iter()
                .filter_map(|e| e.error.as_ref().map(|err| err.kind.len()))
                .max()
                .unwrap_or(0);
            for entry in failed.iter().take(RECAP_LINES) {
                let (kind, message) = entry
                    .error
                    .as_ref()
                    .map_or(("", ""), |e| (e.kind.as_str(), e.message.as_str()));
                writeln!(
                    out,
                    "{}",
                    fit(format!(
                        "  {}  {:<alias_width$}  {:<kind_width$}  {}",
                        inert(&entry.account_id),
                        inert(&entry.alias),
                        kind,
                        inert(message)
                    ))
                )?;
            }
            if failed.len() > RECAP_LINES {
                writeln!(
                    out,
                    "  … and {} more (every entry is in the report)",
                    failed.len() - RECAP_LINES
                )?;
            }
        }
        let skipped = self
            .entries
            .iter()
            .filter(|e| e.status == Status::Skipped)
            .count();
        if skipped > 0 {
            writeln!(
                out,
                "{}",
                paint(
                    &format!("skipped ({skipped}): the run was stopped before they started"),
                    "33"
                )
            )?;
        }
        Ok(())
    }
}
/// How the text report is laid out: the terminal's width (`None`: not a terminal, no
/// wrapping) and whether it takes colour.
#[derive(Debug, Clone, Copy, Default)]
pub struct Look {
    pub width: Option<usize>,
    pub colour: bool,
}

/// Lines a table row's result may wrap to before it is elided.
pub const RESULT_LINES: usize = 3;
/// A result's length in a table that is not fitted to a terminal.
const UNFITTED_RESULT_CHARS: usize = 1000;
/// Failed accounts listed by name at the end; the rest are counted.
const RECAP_LINES: usize = 50;

fn word(status: Status) -> &'static str {
    match status {
        Status::Ok => "ok",
        Status::Error => "error",
        Status::Skipped => "skipped",
    }
}

/// Bytes for people: `512 B`, `1.5 KiB`, `3.0 MiB`, `2.0 GiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `text` cut to `max` columns, with `…` where it was cut.
fn elide(text: &str, max: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    if unicode_width::UnicodeWidthStr::width(text) <= max {
        return text.to_owned();
    }
    let mut short = String::new();
    let mut used = 0;
    for c in text.chars() {
        let width = c.width().unwrap_or(0);
        if used + width + 1 > max {
            break;
        }
        used += width;
        short.push(c);
    }
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;
    use xacct_core::plan::Mode;
    use xacct_core::sandbox::{Failure, Outcome};

    fn outcome(result: Result<serde_json::Value, Failure>) -> Outcome {
        Outcome::ended(result, Duration::from_millis(7))
    }

    fn account(id: &str, alias: &str) -> xacct_core::bindings::Account {
        xacct_core::bindings::Account {
            id: id.into(),
            alias: alias.into(),
            region: "eu-west-1".into(),
            tags: Vec::new(),
        }
    }

    /// A per-account report of `plugin`: dev's entry ends in `dev`, prod's in `prod`.
    fn report(
        plugin: &str,
        duration_ms: u64,
        notes: Vec<String>,
        dev: Result<serde_json::Value, Failure>,
        prod: Result<serde_json::Value, Failure>,
    ) -> Report {
        Report {
            plugin: plugin.into(),
            sha256: None,
            signer: None,
            mode: "per-account",
            dry_run: false,
            started_at: "2026-12-01T10:00:00Z".into(),
            duration_ms,
            plan_hash: String::new(),
            shard: None,
            assume_role_calls: BTreeMap::new(),
            call_stats: BTreeMap::new(),
            orphaned_uploads: Vec::new(),
            notes,
            entries: vec![
                Entry::new(
                    Mode::PerAccount,
                    &[account("111111111111", "dev")],
                    0,
                    outcome(dev),
                ),
                Entry::new(
                    Mode::PerAccount,
                    &[account("222222222222", "prod")],
                    0,
                    outcome(prod),
                ),
            ],
        }
    }

    #[test]
    fn the_table_and_the_summary_show_every_entry() {
        let report = report(
            "hello",
            1500,
            Vec::new(),
            Ok(serde_json::json!({"n": 1})),
            Err(Failure::TimeLimit(Duration::from_secs(2))),
        );
        assert!(!report.all_ok());
        assert_eq!(
            report.summary(),
            "1 ok, 1 failed, 0 skipped in 1.5 s; 0 S3 calls (0 denied), 0 B read, 0 B written"
        );
        let mut table = Vec::new();
        report.write_table(&mut table, &Look::default()).unwrap();
        let table = String::from_utf8(table).unwrap();
        assert!(
            table
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("111111111111  dev "),
            "{table}"
        );
        assert!(
            table.contains("time-limit: time limit of 2 s exceeded"),
            "{table}"
        );
    }

    #[test]
    fn a_shard_names_itself_in_the_summary_line() {
        let mut report = report("hello", 10, Vec::new(), Ok(1.into()), Ok(2.into()));
        let recap = |report: &Report| {
            let mut out = Vec::new();
            report.write_recap(&mut out, &Look::default()).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert!(
            recap(&report).starts_with("hello: 2 ok"),
            "{}",
            recap(&report)
        );
        report.shard = Some(xacct_core::shard::ShardStamp {
            index: 2,
            count: 2,
            planned: 3,
            accounts: Vec::new(),
            input_sha256: String::new(),
        });
        // Counted from 1, as `--shard K/N`: index 1 of AWS Batch is shard 2/2.
        assert!(
            recap(&report).starts_with("hello (shard 2/2): 2 ok"),
            "{}",
            recap(&report)
        );
    }

    #[test]
    fn failures_caused_by_aws_denials_have_their_own_heading() {
        let mut report = report(
            "replicate",
            10,
            Vec::new(),
            Err(Failure::Plugin("access denied by AWS".into())),
            Err(Failure::Plugin("bucket missing".into())),
        );
        let error = report.entries[0].error.as_mut().unwrap();
        error.denied_by_aws = Some(xacct_core::capability::budget::AwsDenial {
            action: "s3:PutObject".into(),
            resource: "arn:aws:s3:::b/k".into(),
        });
        report.entries[0].usage.aws_denied_calls = 1;
        report.entries[1].usage.denied_calls = 2;
        assert!(
            report
                .summary()
                .contains("(2 denied by the grant, 1 by AWS)"),
            "{}",
            report.summary()
        );
        let mut table = Vec::new();
        report.write_table(&mut table, &Look::default()).unwrap();
        let table = String::from_utf8(table).unwrap();
        let recap = &table[table.find("denied by AWS (1)").expect("the heading")..];
        assert!(
            recap.contains("111111111111  dev  s3:PutObject on arn:aws:s3:::b/k"),
            "{table}"
        );
        let failed = &recap[recap.find("failed (1):").expect("the others' heading")..];
        assert!(
            failed.contains("222222222222") && !failed.contains("111111111111"),
            "{table}"
        );
    }

    /// What a hostile plugin returns: OSC 52 (set the clipboard), CSI (clear the screen),
    /// a C1 CSI, and a CR and an LF forging a row.
    const HOSTILE: &str = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\u{9b}H\rALL OK\n111111111111  dev  ok";

    fn hostile_report() -> Report {
        report(
            "misbehave",
            1,
            vec![format!("note {HOSTILE}")],
            Ok(serde_json::json!({ "text": HOSTILE })),
            Err(Failure::Plugin(HOSTILE.into())),
        )
    }

    #[test]
    fn the_table_shows_hostile_errors_and_output_inert_one_line_each() {
        let mut table = Vec::new();
        hostile_report()
            .write_table(&mut table, &Look::default())
            .unwrap();
        let table = String::from_utf8(table).unwrap();
        let lines: Vec<&str> = table.lines().collect();
        // A note, the header, two rows, the summary, the recap of the failure: nothing
        // forged.
        assert_eq!(lines.len(), 7, "{table}");
        assert!(lines[6].contains(r"plugin-error  \u{1b}]52;"), "{table}");
        assert!(
            !table.chars().any(|c| c.is_control() && c != '\n'),
            "{table:?}"
        );
        assert!(lines[0].starts_with(r"note: note \u{1b}]52;"), "{table}");
        assert!(
            lines[3].contains(
                r"plugin-error: \u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2J\u{9b}H\rALL OK\n111"
            ),
            "{table}"
        );
        // The output is JSON (which escapes C0 itself), yet C1 is not JSON's to escape.
        assert!(
            lines[2].contains(r"\u001b]52;") && lines[2].contains(r"\u{9b}H"),
            "{table}"
        );
    }

    #[test]
    fn the_json_report_keeps_hostile_text_exact() {
        let report = hostile_report();
        let mut json = Vec::new();
        report.write_json(&mut json).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(json["entries"][0]["output"]["text"], HOSTILE);
        assert_eq!(json["entries"][1]["error"]["message"], HOSTILE);
        assert_eq!(json["notes"][0], format!("note {HOSTILE}"));
    }
}
