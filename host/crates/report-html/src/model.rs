//! What the page embeds: the report's header, counts and totals computed once here, its
//! entries with each one's AWS fault counts beside it, the failure recap, and the plugin
//! logs, with every value bounded so that a hostile or enormous report still makes a page
//! a browser opens (the JSON report keeps everything; the page says where it cut).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::inputs::{Options, RenderError};
use crate::recap::{FailureGroup, failure_groups};
use crate::shell;

/// Characters of a short value (an id, an alias, a tag, a note) the page shows.
pub const TEXT_CHARS: usize = 4096;
/// Characters of an error message, or of a string inside a planned operation.
pub const MESSAGE_CHARS: usize = 16 * 1024;
/// Bytes of one entry's output (as compact JSON) the page embeds whole, pretty-printed
/// when that fits too; a larger output is shown as a preview of its first
/// [`PREVIEW_BYTES`].
pub const OUTPUT_BYTES: usize = 256 * 1024;
pub const PREVIEW_BYTES: usize = 16 * 1024;
/// Bytes of one account's plugin log: the first quarter and the last three quarters of
/// this are kept (where the plugin started, and how it ended).
pub const LOG_BYTES: usize = 256 * 1024;
/// Bytes of data the whole page embeds, outputs and logs included (as the page holds them:
/// JSON-escaped, script-safe): the entries and the recap are embedded whatever their size,
/// and outputs and logs fill what they leave — failed accounts' first, then in report
/// order — past which each says it was left out. So a 10,000-account page stays near
/// 10 MB, which a browser opens and searches at once (BENCHMARKS.md, row l).
pub const PAGE_BYTES: usize = 9 * 1024 * 1024;
/// Planned operations listed per entry; the rest are counted.
pub const PLANNED_LISTED: usize = 1000;
/// Notes and orphaned uploads listed; the rest are counted.
pub const LISTED: usize = 1000;

#[derive(Debug, Serialize)]
pub struct PageData {
    pub header: Header,
    /// `[status, count]`: `ok`, `error`, `skipped` always, in that order, then any other
    /// status a report holds.
    pub counts: Vec<(String, usize)>,
    pub totals: Totals,
    pub entries: Vec<PageEntry>,
    pub groups: Vec<FailureGroup>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orphaned_uploads: Vec<BTreeMap<&'static str, String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Notes and orphaned uploads past [`LISTED`].
    #[serde(skip_serializing_if = "is_zero")]
    pub unlisted: u64,
    /// `xacct run … --rerun-failed REPORT`, shell-quoted; absent when nothing failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerun_command: Option<String>,
    /// What the operator must add to the command for it to rerun what ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerun_note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Header {
    pub plugin: String,
    pub sha256: Option<String>,
    pub mode: String,
    pub dry_run: bool,
    /// As the report writes it (RFC 3339); the page works out the end from the duration.
    pub started_at: Option<String>,
    pub duration_ms: u64,
    pub plan_hash: String,
    /// `K/N`, counted from 1, for a shard's report; `merged from N shards` for a merged one.
    pub shards: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Totals {
    pub s3_calls: u64,
    pub denied_calls: u64,
    /// Absent when the report does not count AWS's refusals apart: one of a version before
    /// `aws_denied_calls` (which came with `started_at`) whose entries have no such field.
    pub aws_denied_calls: Option<u64>,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub assume_role_calls: u64,
    pub retries: u64,
    pub throttled: u64,
    pub refreshes: u64,
    pub resumes: u64,
}

/// One entry as the page shows it; zero counts are left out (the page reads them as 0).
#[derive(Debug, Default, Serialize)]
pub struct PageEntry {
    pub id: String,
    pub alias: String,
    /// The accounts an all-accounts entry covers (absent when just `id`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<PageError>,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub s3_calls: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub denied_calls: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_denied_calls: Option<u64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub bytes_read: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub bytes_written: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub assume_role_calls: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub refreshes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub resumes: u64,
    /// The output's JSON, pretty-printed here (exactly as the report holds it: a browser's
    /// `JSON.parse` would round integers past 2^53).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Why the output is not embedded whole, with [`PageEntry::output_preview`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_omitted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_preview: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub planned: Vec<Value>,
    #[serde(skip_serializing_if = "is_zero")]
    pub planned_omitted: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct PageError {
    pub kind: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_by_aws: Option<BTreeMap<&'static str, String>>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The page's data from a report (single run or merged) and the options.
pub fn page_data(report: &Value, options: &Options) -> Result<PageData, RenderError> {
    let Some(object) = report.as_object() else {
        return Err(RenderError::NotAReport("the document is not a JSON object"));
    };
    let Some(entries) = object.get("entries").and_then(Value::as_array) else {
        return Err(RenderError::NotAReport("it has no `entries` list"));
    };
    if !object.get("plugin").is_some_and(Value::is_string) {
        return Err(RenderError::NotAReport("it names no `plugin`"));
    }
    if let Some(position) = entries.iter().position(|entry| !entry.is_object()) {
        return Err(RenderError::BadEntry(position));
    }
    let plugin = text(&report["plugin"], TEXT_CHARS);
    let stats = AccountStats {
        call_stats: &report["call_stats"],
        assume_role_calls: &report["assume_role_calls"],
    };
    let page_entries: Vec<PageEntry> = entries
        .iter()
        .map(|entry| page_entry(entry, &stats))
        .collect();
    let notes = listed(&report["notes"]);
    let orphans = listed(&report["orphaned_uploads"]);
    let mode = text(&report["mode"], TEXT_CHARS);
    let dry_run = report["dry_run"].as_bool().unwrap_or(false);
    // The plugin's name whole: a command must name exactly the plugin that ran.
    let rerun_command = report["plugin"]
        .as_str()
        .filter(|_| page_entries.iter().any(|entry| entry.status != "ok"))
        .map(|plugin| {
            shell::rerun_failed_command(
                plugin,
                mode == "all-accounts",
                dry_run,
                options.report_path.as_deref().unwrap_or("REPORT.json"),
            )
        });
    let rerun_note = rerun_command.as_ref().map(|_| {
        let same = "Pass the same --input, --config, --plugins and --local-root as the run had: the report does not keep them.";
        match options.report_path {
            Some(_) => same.to_owned(),
            None => format!("REPORT.json stands for this run's JSON report (xacct run --output json). {same}"),
        }
    });
    let mut data = PageData {
        header: Header {
            sha256: optional_text(&report["sha256"]),
            mode,
            dry_run,
            started_at: optional_text(&report["started_at"]),
            duration_ms: number(&report["duration_ms"]),
            plan_hash: text(&report["plan_hash"], TEXT_CHARS),
            shards: shards(report),
            plugin,
        },
        counts: counts(&page_entries),
        totals: totals(&page_entries, report),
        groups: failure_groups(entries),
        entries: page_entries,
        orphaned_uploads: orphans
            .iter()
            .take(LISTED)
            .map(|upload| {
                ["account", "bucket", "key", "upload_id", "reason"]
                    .into_iter()
                    .map(|field| (field, text(&upload[field], TEXT_CHARS)))
                    .collect()
            })
            .collect(),
        notes: notes
            .iter()
            .take(LISTED)
            .map(|note| text(note, TEXT_CHARS))
            .collect(),
        unlisted: unlisted_count(&[notes, orphans]),
        rerun_command,
        rerun_note,
    };
    // What is left of the page's bytes goes to outputs and logs, less what saying that one
    // was left out costs (its note, in the entry's `output_omitted` or `log`).
    let noted = entries
        .iter()
        .filter(|entry| entry.get("output").is_some())
        .count()
        + (data.entries.iter())
            .filter(|entry| options.logs.contains_key(&entry.id))
            .count();
    let notes_cost =
        noted.saturating_mul(embedded_len(&omitted(&page_full())) + "\"output_omitted\":,".len());
    let mut budget = PAGE_BYTES.saturating_sub(embedded_len(&data).saturating_add(notes_cost));
    let failed_first = {
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by_key(|&i| data.entries[i].status == "ok");
        order
    };
    for i in failed_first {
        let page = &mut data.entries[i];
        if let Some(output) = entries[i].get("output") {
            embed_output(page, output, &mut budget);
        }
        if let Some(log) = options.logs.get(&page.id) {
            embed_log(page, log, &mut budget);
        }
    }
    Ok(data)
}

/// The bytes `value` takes in the page: its JSON, script-safe (`<`, `>`, `&`, U+2028 and
/// U+2029 are 6-byte escapes there).
fn embedded_len(value: &impl Serialize) -> usize {
    let json = serde_json::to_string(value).expect("the page data serialises");
    let escaped = json
        .chars()
        .filter(|c| matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}'))
        .count();
    json.len() + escaped * 5
}

/// Per-account counts the report keeps beside its entries.
struct AccountStats<'a> {
    call_stats: &'a Value,
    assume_role_calls: &'a Value,
}

impl AccountStats<'_> {
    /// The AWS fault counts and AssumeRole calls of `accounts`, added up.
    fn fill(&self, entry: &mut PageEntry, accounts: &[&str]) {
        for account in accounts {
            let stats = &self.call_stats[*account];
            add(&mut entry.retries, &stats["retries"]);
            add(&mut entry.throttled, &stats["throttled"]);
            add(&mut entry.refreshes, &stats["refreshes"]);
            add(&mut entry.resumes, &stats["resumes"]);
            add(
                &mut entry.assume_role_calls,
                &self.assume_role_calls[*account],
            );
        }
    }
}

/// An entry without its output and log (which [`page_data`] adds within the page's budget).
fn page_entry(entry: &Value, stats: &AccountStats) -> PageEntry {
    let id = text(&entry["account_id"], TEXT_CHARS);
    let scope: Vec<String> = entry["scope"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|account| text(account, TEXT_CHARS))
        .collect();
    let mut page = PageEntry {
        alias: text(&entry["alias"], TEXT_CHARS),
        tags: tags(&entry["tags"]),
        status: match &entry["status"] {
            Value::Null => "unknown".to_owned(),
            status => text(status, TEXT_CHARS),
        },
        error: page_error(&entry["error"]),
        duration_ms: number(&entry["duration_ms"]),
        start_ms: entry["start_ms"].as_u64(),
        s3_calls: number(&entry["s3_calls"]),
        denied_calls: number(&entry["denied_calls"]),
        aws_denied_calls: entry["aws_denied_calls"].as_u64(),
        bytes_read: number(&entry["bytes_read"]),
        bytes_written: number(&entry["bytes_written"]),
        planned: entry["planned"]
            .as_array()
            .into_iter()
            .flatten()
            .take(PLANNED_LISTED)
            .map(|operation| capped_strings(operation, MESSAGE_CHARS))
            .collect(),
        planned_omitted: number(&entry["planned_omitted"])
            + entry["planned"].as_array().map_or(0, |planned| {
                planned.len().saturating_sub(PLANNED_LISTED) as u64
            }),
        ..PageEntry::default()
    };
    let accounts: Vec<&str> = if scope.is_empty() {
        vec![id.as_str()]
    } else {
        scope.iter().map(String::as_str).collect()
    };
    stats.fill(&mut page, &accounts);
    // A per-account entry's scope is its own account: not repeated.
    if scope != [id.as_str()] {
        page.scope = scope;
    }
    page.id = id;
    page
}

/// An error as the page shows it: a report's error object, or (from a report written by
/// hand) a bare message.
fn page_error(error: &Value) -> Option<PageError> {
    if error.is_string() {
        return Some(PageError {
            kind: "unknown".to_owned(),
            message: text(error, MESSAGE_CHARS),
            denied_by_aws: None,
        });
    }
    let error = error.as_object()?;
    Some(PageError {
        kind: text(&error.get("kind").cloned().unwrap_or_default(), TEXT_CHARS),
        message: text(
            &error.get("message").cloned().unwrap_or_default(),
            MESSAGE_CHARS,
        ),
        denied_by_aws: error
            .get("denied_by_aws")
            .and_then(Value::as_object)
            .map(|denial| {
                ["action", "resource"]
                    .into_iter()
                    .map(|field| {
                        let value = denial.get(field).cloned().unwrap_or_default();
                        (field, text(&value, TEXT_CHARS))
                    })
                    .collect()
            }),
    })
}

/// Why an output or a log is not in the page though it fits an account's bound.
fn page_full() -> String {
    format!(
        "left out to keep the page under {} MiB (failed accounts' first)",
        PAGE_BYTES >> 20
    )
}

/// Why an output is not in the page, and where it is.
fn omitted(reason: &str) -> String {
    format!("{reason}; the JSON report has it whole")
}

/// The output, pretty-printed, when it fits the entry's and the page's bounds (compact
/// when only that fits); else a preview of its compact JSON.
fn embed_output(page: &mut PageEntry, output: &Value, budget: &mut usize) {
    let compact = output.to_string();
    if compact.len() <= OUTPUT_BYTES {
        let shown = pretty_within(output, OUTPUT_BYTES).unwrap_or_else(|| compact.clone());
        for text in [shown, compact.clone()] {
            let cost = embedded_len(&text);
            if cost <= *budget {
                *budget -= cost;
                page.output = Some(text);
                return;
            }
        }
    }
    let reason = if compact.len() > OUTPUT_BYTES {
        format!(
            "the output is {} bytes, over the {} KiB the page shows per account",
            compact.len(),
            OUTPUT_BYTES / 1024
        )
    } else {
        page_full()
    };
    page.output_omitted = Some(omitted(&reason));
    let preview = head(&compact, PREVIEW_BYTES);
    let cost = embedded_len(&preview);
    if cost <= *budget {
        *budget -= cost;
        page.output_preview = Some(preview.to_owned());
    }
}

/// The account's log, its head and tail within [`LOG_BYTES`], when the page has room.
fn embed_log(page: &mut PageEntry, log: &str, budget: &mut usize) {
    let log = head_and_tail(log);
    let cost = embedded_len(&log);
    page.log = Some(if cost <= *budget {
        *budget -= cost;
        log
    } else {
        format!(
            "({}; a run with --out-dir keeps every log whole)",
            page_full()
        )
    });
}

/// `value` as pretty-printed JSON, unless that takes more than `max` bytes (indentation
/// grows with depth: a compact output within bounds need not be one pretty).
fn pretty_within(value: &Value, max: usize) -> Option<String> {
    struct Capped(Vec<u8>, usize);
    impl std::io::Write for Capped {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if self.0.len() + bytes.len() > self.1 {
                return Err(std::io::ErrorKind::FileTooLarge.into());
            }
            self.0.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Capped(Vec::new(), max);
    serde_json::to_writer_pretty(&mut out, value).ok()?;
    String::from_utf8(out.0).ok()
}

/// A string value as text, anything else as its JSON; at most `max` characters, then a
/// note of how many more there are.
pub fn text(value: &Value, max: usize) -> String {
    let whole = match value {
        Value::Null => return String::new(),
        Value::String(text) => text.as_str(),
        other => &other.to_string(),
    };
    match whole.char_indices().nth(max) {
        None => whole.to_owned(),
        Some((cut, _)) => format!(
            "{}… ({} more characters: the JSON report has them all)",
            &whole[..cut],
            whole[cut..].chars().count()
        ),
    }
}

fn optional_text(value: &Value) -> Option<String> {
    (!value.is_null()).then(|| text(value, TEXT_CHARS))
}

fn number(value: &Value) -> u64 {
    value.as_u64().unwrap_or_default()
}

/// Adds a report's count to `total`; a report can hold any number, so saturating.
fn add(total: &mut u64, value: &Value) {
    *total = total.saturating_add(number(value));
}

/// A list value's items (none when it is not a list).
fn listed(value: &Value) -> Vec<&Value> {
    value.as_array().into_iter().flatten().collect()
}

fn unlisted_count(lists: &[Vec<&Value>]) -> u64 {
    lists
        .iter()
        .map(|list| list.len().saturating_sub(LISTED) as u64)
        .sum()
}

/// The account's tags as `[key, value]` pairs, in key order.
fn tags(value: &Value) -> Vec<(String, String)> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .take(LISTED)
        .map(|(key, value)| {
            let key = text(&Value::String(key.clone()), TEXT_CHARS);
            (key, text(value, TEXT_CHARS))
        })
        .collect()
}

/// `value` with each string in it cut to `max` characters.
fn capped_strings(value: &Value, max: usize) -> Value {
    match value {
        Value::String(_) => Value::String(text(value, max)),
        Value::Array(items) => items.iter().map(|item| capped_strings(item, max)).collect(),
        Value::Object(fields) => fields
            .iter()
            .map(|(key, item)| {
                (
                    text(&Value::String(key.clone()), max),
                    capped_strings(item, max),
                )
            })
            .collect(),
        other => other.clone(),
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn head(text: &str, max: usize) -> &str {
    let mut cut = max.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// A log within [`LOG_BYTES`]: its first quarter and its last three quarters, and how much
/// was left out between them.
fn head_and_tail(log: &str) -> String {
    if log.len() <= LOG_BYTES {
        return log.to_owned();
    }
    let start = head(log, LOG_BYTES / 4);
    let mut from = log.len() - LOG_BYTES * 3 / 4;
    while !log.is_char_boundary(from) {
        from += 1;
    }
    format!(
        "{start}\n… {} bytes left out here (the whole log is in the run's --out-dir) …\n{}",
        from - start.len(),
        &log[from..]
    )
}

/// `K/N` (from 1) for a shard's report, `merged from N shards` for a merged report that
/// says so.
fn shards(report: &Value) -> Option<String> {
    let shard = &report["shard"];
    if let (Some(number), Some(count)) = (shard["index"].as_u64(), shard["count"].as_u64()) {
        // The report numbers shards as `--shard K/N` does, from 1.
        return Some(format!("{number}/{count}"));
    }
    report["merged_shards"]
        .as_u64()
        .map(|count| format!("merged from {count} shards"))
}

fn counts(entries: &[PageEntry]) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = ["ok", "error", "skipped"]
        .into_iter()
        .map(|status| (status.to_owned(), 0))
        .collect();
    for entry in entries {
        match counts
            .iter_mut()
            .find(|(status, _)| *status == entry.status)
        {
            Some((_, count)) => *count += 1,
            None => counts.push((entry.status.clone(), 1)),
        }
    }
    counts
}

fn totals(entries: &[PageEntry], report: &Value) -> Totals {
    let mut totals = Totals::default();
    // A report that has a start time counts AWS denials, even with no entry to count them
    // (an empty shard, a plugin with no grant, a run all skipped).
    if !report["started_at"].is_null() {
        totals.aws_denied_calls = Some(0);
    }
    for entry in entries {
        totals.s3_calls = totals.s3_calls.saturating_add(entry.s3_calls);
        totals.denied_calls = totals.denied_calls.saturating_add(entry.denied_calls);
        if let Some(denied) = entry.aws_denied_calls {
            let total = totals.aws_denied_calls.get_or_insert(0);
            *total = total.saturating_add(denied);
        }
        totals.bytes_read = totals.bytes_read.saturating_add(entry.bytes_read);
        totals.bytes_written = totals.bytes_written.saturating_add(entry.bytes_written);
    }
    // Every account's counts, whichever entries name it.
    let call_stats = report["call_stats"].as_object().into_iter().flatten();
    for stats in call_stats.map(|(_, stats)| stats) {
        add(&mut totals.retries, &stats["retries"]);
        add(&mut totals.throttled, &stats["throttled"]);
        add(&mut totals.refreshes, &stats["refreshes"]);
        add(&mut totals.resumes, &stats["resumes"]);
    }
    let assume_role_calls = report["assume_role_calls"]
        .as_object()
        .into_iter()
        .flatten();
    for (_, calls) in assume_role_calls {
        add(&mut totals.assume_role_calls, calls);
    }
    totals
}
