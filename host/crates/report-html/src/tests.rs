use super::*;
use serde_json::json;
use std::collections::BTreeMap;

fn minimal(entries: Value) -> Value {
    json!({"plugin": "hello", "mode": "per-account", "dry_run": false, "duration_ms": 5,
           "plan_hash": "ab", "entries": entries})
}

/// The JSON the page embeds, as the browser's HTML parser would hand it to `JSON.parse`:
/// everything up to the first `</script` after the block's start tag.
fn embedded_json(page: &str) -> Value {
    let start_tag = r#"<script type="application/json" id="report-data">"#;
    let start = page.find(start_tag).expect("a data block") + start_tag.len();
    let end = start
        + page[start..]
            .to_ascii_lowercase()
            .find("</script")
            .expect("its end");
    serde_json::from_str(&page[start..end]).expect("the block holds JSON")
}

const HOSTILE: &str = "</script><script>alert(1)</script><!--<img src=x onerror=alert(2)>\u{2028}\u{2029}&amp;</SCRIPT >";

#[test]
fn no_value_can_leave_the_data_block() {
    let report = minimal(json!([{
        "account_id": HOSTILE, "alias": HOSTILE, "status": "error",
        "error": {"kind": HOSTILE, "message": HOSTILE},
        "output": {HOSTILE: [HOSTILE]}, "duration_ms": 1,
    }]));
    let mut report = report;
    report["plugin"] = HOSTILE.into();
    report["notes"] = json!([HOSTILE]);
    let page = render(&report, &Options::default()).unwrap();
    let lower = page.to_ascii_lowercase();
    // The data block's end and the script's: nothing else closes a script.
    assert_eq!(lower.matches("</script").count(), 2, "{page}");
    assert_eq!(lower.matches("<script").count(), 2);
    assert!(!page.contains("<!--"));
    assert!(!page.contains('\u{2028}') && !page.contains('\u{2029}'));
    // And the values arrive whole.
    let data = embedded_json(&page);
    assert_eq!(data["header"]["plugin"], HOSTILE);
    assert_eq!(data["entries"][0]["alias"], HOSTILE);
    assert_eq!(data["entries"][0]["error"]["message"], HOSTILE);
    let output: Value =
        serde_json::from_str(data["entries"][0]["output"].as_str().unwrap()).unwrap();
    assert_eq!(output[HOSTILE][0], HOSTILE);
    assert_eq!(data["notes"][0], HOSTILE);
}

#[test]
fn the_policy_allows_exactly_the_inline_script_and_style() {
    let page = render(&minimal(json!([])), &Options::default()).unwrap();
    let between = |open: &str, close: &str| {
        let start = page.find(open).unwrap() + open.len();
        page[start..start + page[start..].find(close).unwrap()].to_owned()
    };
    let policy = between(r#"http-equiv="Content-Security-Policy" content=""#, "\"");
    let script = between("<script>", "</script>");
    let style = between("<style>", "</style>");
    assert_eq!(
        policy,
        format!(
            "default-src 'none'; script-src '{}'; style-src '{}'; img-src data:; base-uri 'none'; form-action 'none'",
            sha256_source(&script),
            sha256_source(&style)
        )
    );
    // The policy comes before anything it governs.
    assert!(page.find("Content-Security-Policy").unwrap() < page.find("<style>").unwrap());
}

/// Values reach the page only through text nodes: the script has no way to parse markup
/// or code from a string.
#[test]
fn the_script_never_parses_markup_or_code() {
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "createContextualFragment",
        "DOMParser",
        "eval(",
        "Function(",
        "setTimeout(\"",
        "srcdoc",
        "href",
        "src=",
    ] {
        assert!(!SCRIPT.contains(sink), "the page's script uses {sink}");
    }
}

#[test]
fn a_document_that_is_not_a_report_is_refused() {
    let options = Options::default();
    assert_eq!(
        render(&json!([1, 2]), &options),
        Err(RenderError::NotAReport("the document is not a JSON object"))
    );
    assert_eq!(
        render(&json!({"plugin": "x"}), &options),
        Err(RenderError::NotAReport("it has no `entries` list"))
    );
    // Every report names its plugin: an empty list of entries alone is no report.
    assert_eq!(
        render(&json!({"entries": []}), &options),
        Err(RenderError::NotAReport("it names no `plugin`"))
    );
    assert_eq!(
        render(&minimal(json!([{}, "x"])), &options),
        Err(RenderError::BadEntry(1))
    );
}

#[test]
fn header_counts_and_totals() {
    let mut report = minimal(json!([
        {"account_id": "1", "alias": "a", "scope": ["1"], "status": "ok", "duration_ms": 3,
         "s3_calls": 4, "denied_calls": 1, "bytes_read": 10, "bytes_written": 2, "output": {}},
        {"account_id": "2", "alias": "b", "scope": ["2"], "status": "error", "duration_ms": 3,
         "s3_calls": 1, "denied_calls": 0, "bytes_read": 0, "bytes_written": 0,
         "error": {"kind": "trap", "message": "plugin trapped: unreachable"}},
        {"account_id": "3", "alias": "c", "scope": ["3"], "status": "weird", "duration_ms": 0},
    ]));
    report["shard"] = json!({"index": 2, "count": 4, "planned": 9, "positions": [0, 1, 2]});
    report["call_stats"] = json!({"1": {"retries": 2, "throttled": 1, "refreshes": 0, "resumes": 1},
                                  "9": {"retries": 5, "throttled": 0, "refreshes": 1, "resumes": 0}});
    report["assume_role_calls"] = json!({"1": 2, "2": 1});
    let data = embedded_json(&render(&report, &Options::default()).unwrap());
    assert_eq!(data["header"]["shards"], "2/4");
    assert_eq!(
        data["counts"],
        json!([["ok", 1], ["error", 1], ["skipped", 0], ["weird", 1]])
    );
    assert_eq!(
        data["totals"],
        json!({"s3_calls": 5, "denied_calls": 1, "aws_denied_calls": null, "bytes_read": 10,
               "bytes_written": 2, "assume_role_calls": 3, "retries": 7, "throttled": 1,
               "refreshes": 1, "resumes": 1})
    );
    // Each entry carries its account's counts; zeros are left out.
    assert_eq!(data["entries"][0]["retries"], 2);
    assert_eq!(data["entries"][0]["assume_role_calls"], 2);
    assert!(data["entries"][1].get("retries").is_none());
    assert!(data["entries"][0].get("scope").is_none());
    assert_eq!(
        data["rerun_command"],
        "xacct run hello --rerun-failed REPORT.json"
    );
}

#[test]
fn a_merged_report_says_so_and_a_clean_run_offers_no_rerun() {
    let mut report = minimal(json!([{"account_id": "1", "status": "ok", "output": 1}]));
    report["merged_shards"] = 3.into();
    let data = embedded_json(&render(&report, &Options::default()).unwrap());
    assert_eq!(data["header"]["shards"], "merged from 3 shards");
    assert!(data.get("rerun_command").is_none());
    assert_eq!(data["groups"], json!([]));
}

#[test]
fn the_rerun_command_names_the_report_path_and_mode() {
    let mut report = minimal(json!([{"account_id": "*", "status": "error",
        "scope": ["1", "2"], "error": {"kind": "trap", "message": "x"}}]));
    report["mode"] = "all-accounts".into();
    report["dry_run"] = true.into();
    let options = Options {
        report_path: Some("runs/it's.json".into()),
        ..Options::default()
    };
    let data = embedded_json(&render(&report, &options).unwrap());
    assert_eq!(
        data["rerun_command"],
        r"xacct run hello --all-accounts --dry-run --rerun-failed 'runs/it'\''s.json'"
    );
    assert_eq!(data["entries"][0]["scope"], json!(["1", "2"]));
}

#[test]
fn huge_values_are_cut_and_say_so() {
    let huge = "é".repeat(TEXT_CHARS + 10);
    let big_output = json!({"blob": "x".repeat(OUTPUT_BYTES)});
    let report = minimal(json!([
        {"account_id": "1", "alias": huge, "status": "ok", "output": big_output},
        {"account_id": "2", "status": "error", "error": {"kind": "k", "message": "m".repeat(MESSAGE_CHARS * 2)}},
    ]));
    let mut logs = BTreeMap::new();
    let log = format!("== stdout\n{}\nEND", "ü".repeat(LOG_BYTES));
    logs.insert("1".to_owned(), log.clone());
    logs.insert("2".to_owned(), "short log\n".to_owned());
    let data = embedded_json(
        &render(
            &report,
            &Options {
                logs,
                ..Options::default()
            },
        )
        .unwrap(),
    );
    let entry = &data["entries"][0];
    let alias = entry["alias"].as_str().unwrap();
    assert!(alias.starts_with(&"é".repeat(TEXT_CHARS)));
    assert!(
        alias.ends_with("… (10 more characters: the JSON report has them all)"),
        "{alias}"
    );
    assert!(entry.get("output").is_none());
    assert!(
        entry["output_omitted"]
            .as_str()
            .unwrap()
            .contains("over the 256 KiB the page shows"),
        "{entry}"
    );
    assert!(
        entry["output_preview"]
            .as_str()
            .unwrap()
            .starts_with("{\"blob\":\"xxx")
    );
    let kept = entry["log"].as_str().unwrap();
    assert!(kept.starts_with("== stdout\n") && kept.ends_with("\nEND"));
    assert!(kept.contains("bytes left out here"));
    assert!(kept.len() <= LOG_BYTES + 200, "{}", kept.len());
    assert_eq!(data["entries"][1]["log"], "short log\n");
    let message = data["entries"][1]["error"]["message"].as_str().unwrap();
    assert_eq!(
        message,
        format!(
            "{}… ({MESSAGE_CHARS} more characters: the JSON report has them all)",
            "m".repeat(MESSAGE_CHARS)
        )
    );
}

#[test]
fn the_page_stops_embedding_outputs_once_its_budget_is_spent() {
    // Each output just under the per-account bound; more of them than the page holds.
    // The last account failed: its output is embedded before the others'.
    let output = json!("o".repeat(OUTPUT_BYTES - 16));
    let count = PAGE_BYTES / OUTPUT_BYTES + 3;
    let entries: Vec<Value> = (0..count)
        .map(|i| {
            let status = if i == count - 1 { "error" } else { "ok" };
            json!({"account_id": i.to_string(), "status": status, "output": output})
        })
        .collect();
    let page = render(&minimal(Value::Array(entries)), &Options::default()).unwrap();
    // The budget, and the page's own script and style.
    assert!(page.len() < PAGE_BYTES + 256 * 1024, "{}", page.len());
    let data = embedded_json(&page);
    let entries = data["entries"].as_array().unwrap();
    assert!(entries[count - 1].get("output").is_some(), "failed first");
    assert!(entries[0].get("output").is_some());
    let left_out = &entries[count - 2];
    assert!(left_out.get("output").is_none());
    let why = left_out["output_omitted"].as_str().unwrap();
    assert!(
        why.contains("under 9 MiB") && why.contains("failed accounts' first"),
        "{why}"
    );
}

/// The reviewer's case: 10,000 accounts with about 6 KB of output each made a 58 MB page
/// (the budget was 64 MiB of outputs and logs alone). The page stays under 10 MB.
#[test]
fn ten_thousand_accounts_with_outputs_stay_under_ten_megabytes() {
    let output = json!({"buckets": (0..60).map(|i| format!("bucket-{i:03}-with-a-long-name-{}", "x".repeat(60))).collect::<Vec<_>>()});
    assert!(output.to_string().len() > 5_000);
    let entries: Vec<Value> = (0..10_000)
        .map(|i| json!({"account_id": format!("{i:012}"), "status": "ok", "output": output}))
        .collect();
    let page = render(&minimal(Value::Array(entries)), &Options::default()).unwrap();
    assert!(page.len() < 10_000_000, "{} bytes", page.len());
    let data = embedded_json(&page);
    let entries = data["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 10_000);
    assert!(entries[0].get("output").is_some());
    assert!(entries[9_999].get("output_omitted").is_some());
}

/// The detail shows the output as the report holds it: pretty-printed by the host, so a
/// browser's `JSON.parse` cannot round an integer past 2^53.
#[test]
fn outputs_are_embedded_pretty_and_exact() {
    let report = minimal(json!([
        {"account_id": "1", "status": "ok", "output": {"big": 12345678901234567890u64, "min": i64::MIN}},
    ]));
    let data = embedded_json(&render(&report, &Options::default()).unwrap());
    assert_eq!(
        data["entries"][0]["output"],
        "{\n  \"big\": 12345678901234567890,\n  \"min\": -9223372036854775808\n}"
    );
}

/// Hand-written or damaged reports still make a page: an error that is a bare string is
/// its message, a missing status is `unknown`.
#[test]
fn loose_errors_and_statuses_read() {
    let report = minimal(json!([
        {"account_id": "1", "status": "error", "error": "boom"},
        {"account_id": "2", "status": null},
    ]));
    let data = embedded_json(&render(&report, &Options::default()).unwrap());
    assert_eq!(
        data["entries"][0]["error"],
        json!({"kind": "unknown", "message": "boom"})
    );
    assert_eq!(data["entries"][1]["status"], "unknown");
    let groups = data["groups"].as_array().unwrap();
    assert!(
        groups
            .iter()
            .any(|g| g["pattern"] == "boom" && g["entries"] == json!([0]))
    );
}

#[test]
fn a_synthetic_report_of_ten_thousand_accounts_stays_under_ten_megabytes() {
    let report = synthetic::report(10_000);
    let page = render(&report, &Options::default()).unwrap();
    assert!(page.len() < 10_000_000, "{} bytes", page.len());
    let data = embedded_json(&page);
    assert_eq!(data["entries"].as_array().unwrap().len(), 10_000);
}

/// Counts are the report's to choose: the largest add up without overflowing.
#[test]
fn the_largest_counts_saturate() {
    let max = u64::MAX;
    let mut report = minimal(json!([
        {"account_id": "1", "status": "ok", "s3_calls": max, "bytes_read": max, "aws_denied_calls": max,
         "planned": [], "planned_omitted": max},
        {"account_id": "2", "status": "ok", "s3_calls": max, "bytes_read": max, "aws_denied_calls": max},
        {"account_id": "*", "scope": ["1", "2"], "status": "ok"},
    ]));
    report["call_stats"] = json!({"1": {"retries": max}, "2": {"retries": max}});
    report["assume_role_calls"] = json!({"1": max, "2": max});
    let data = embedded_json(&render(&report, &Options::default()).unwrap());
    assert_eq!(data["totals"]["s3_calls"], max);
    assert_eq!(data["totals"]["aws_denied_calls"], max);
    assert_eq!(data["totals"]["retries"], max);
    assert_eq!(data["totals"]["assume_role_calls"], max);
    assert_eq!(data["entries"][2]["retries"], max);
}

/// A report of a version that counts AWS denials (it has `started_at`, which came with
/// `aws_denied_calls`) totals them, 0 when no entry ran; an older one leaves them out.
#[test]
fn aws_denials_total_zero_in_a_report_that_counts_them_with_no_entry() {
    let mut report = minimal(json!([]));
    let data = embedded_json(&render(&report, &Options::default()).unwrap());
    assert_eq!(data["totals"]["aws_denied_calls"], Value::Null);
    report["started_at"] = "2026-12-07T03:03:44Z".into();
    let data = embedded_json(&render(&report, &Options::default()).unwrap());
    assert_eq!(data["totals"]["aws_denied_calls"], 0);
    let skipped = json!([{"account_id": "1", "status": "skipped", "duration_ms": 0,
                          "error": {"kind": "skipped", "message": "cancelled"}}]);
    report["entries"] = skipped.clone();
    let data = embedded_json(&render(&report, &Options::default()).unwrap());
    assert_eq!(data["totals"]["aws_denied_calls"], 0);
    let mut old = minimal(skipped);
    old["entries"][0]["aws_denied_calls"] = 2.into();
    let data = embedded_json(&render(&old, &Options::default()).unwrap());
    assert_eq!(data["totals"]["aws_denied_calls"], 2);
}
