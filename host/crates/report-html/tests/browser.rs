//! The page in a real browser: headless Chromium (Debian's, driven by Playwright for
//! Python: `browser/check_page.py`) loads pages rendered here and checks what they show
//! and that nothing on them executes, loads or injects. Each test writes its page and
//! screenshots under `target/tmp/report-html/`.
//!
//! Without Chromium or Playwright these tests fail, saying to run
//! `scripts/install-browser` (which `scripts/test` runs first).

// Test code states what it expects with unwrap (the workspace denies it in code that
// ships).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use xacct_report_html::{Options, render};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-html");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `check_page.py CASE` on `page` (written to the artefact directory) with what the
/// test knows of the report.
fn check(case: &str, page: Option<&str>, expect: Value) {
    check_named(case, case, page, expect);
}

fn check_named(case: &str, name: &str, page: Option<&str>, expect: Value) {
    let python = workspace().join(".venv/bin/python");
    assert!(
        python.exists() && Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Debian's chromium and Playwright for Python in .venv: run scripts/install-browser"
    );
    let dir = artefacts();
    let page_path = dir.join(format!("{name}.html"));
    if let Some(page) = page {
        std::fs::write(&page_path, page).unwrap();
    }
    let expect_path = dir.join(format!("{name}.expect.json"));
    std::fs::write(&expect_path, expect.to_string()).unwrap();
    let output = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/check_page.py"))
        .args([
            case.as_ref(),
            page_path.as_os_str(),
            expect_path.as_os_str(),
            dir.as_os_str(),
        ])
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", python.display()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{case}: the page failed in Chromium ({}):\n{stderr}{}",
        page_path.display(),
        String::from_utf8_lossy(&output.stdout)
    );
}

/// `[status, count]` of a report's entries, as the cards show them.
fn counts(report: &Value) -> Value {
    let mut counts = BTreeMap::new();
    for status in ["ok", "error", "skipped"] {
        counts.insert(status.to_owned(), 0);
    }
    for entry in entries(report) {
        *counts
            .entry(entry["status"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    json!(counts)
}

fn entries(report: &Value) -> &Vec<Value> {
    report["entries"].as_array().unwrap()
}

/// The account of the longest (`longest`) or shortest entry, the first in report order
/// among equals.
fn by_duration(report: &Value, longest: bool) -> String {
    let mut sorted: Vec<&Value> = entries(report).iter().collect();
    sorted.sort_by_key(|entry| entry["duration_ms"].as_u64().unwrap());
    if longest {
        sorted.reverse();
        let top = sorted[0]["duration_ms"].clone();
        sorted.retain(|entry| entry["duration_ms"] == top);
        sorted.reverse();
    }
    sorted[0]["account_id"].as_str().unwrap().to_owned()
}

fn entry(id: &str, alias: &str, status: &str, duration_ms: u64, start_ms: u64) -> Value {
    json!({"account_id": id, "alias": alias, "scope": [id], "status": status,
           "duration_ms": duration_ms, "start_ms": start_ms, "s3_calls": 3, "denied_calls": 0,
           "aws_denied_calls": 0, "bytes_read": 2048, "bytes_written": 0,
           "tags": {"env": alias.split('-').next().unwrap(), "team": "core"}})
}

fn failed(mut entry: Value, kind: &str, message: &str) -> Value {
    entry["error"] = json!({"kind": kind, "message": message});
    entry
}

/// Eight accounts: three ok, two with the same missing-bucket failure, one AWS denial,
/// one time limit, one skipped; a shard's report with the newer fields.
fn sample_report() -> Value {
    let mut denied = failed(
        entry("555555555555", "prod-ledger", "error", 640, 120),
        "plugin-error",
        "access denied: s3:GetObject on s3://ledger-555555555555/2026/",
    );
    denied["error"]["denied_by_aws"] =
        json!({"action": "s3:GetObject", "resource": "arn:aws:s3:::ledger-555555555555/2026/*"});
    denied["aws_denied_calls"] = 1.into();
    let mut ok = entry("222222222222", "prod-payments", "ok", 3100, 100);
    ok["output"] = json!({"account": "222222222222", "buckets": [{"name": "payments-exports", "objects": 12, "bytes": 4096}], "objects": 12, "bytes": 4096});
    let mut first = entry("111111111111", "dev-core", "ok", 820, 0);
    first["output"] = json!({"account": "111111111111", "buckets": [], "objects": 0, "bytes": 0});
    let mut sandbox = entry("777777777777", "sandbox-lab", "ok", 45, 900);
    sandbox["output"] = json!(null);
    json!({
        "plugin": "inventory",
        "sha256": "5f2b8c1d9e0a7b6c3d4e5f60718293a4b5c6d7e8f90123456789abcdef012345",
        "mode": "per-account",
        "dry_run": false,
        "started_at": "2026-11-02T09:30:00Z",
        "duration_ms": 4200,
        "plan_hash": "9c1d7e4f2a3b5c6d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5",
        "shard": {"index": 2, "count": 4, "planned": 32, "positions": [0, 1, 2, 3, 4, 5, 6, 7]},
        "entries": [
            first,
            ok,
            failed(entry("333333333333", "prod-search", "error", 400, 200), "plugin-error", "bucket \"prod-search-logs\" not found"),
            failed(entry("444444444444", "staging-search", "error", 380, 210), "plugin-error", "bucket \"staging-search-logs\" not found"),
            denied,
            failed(entry("666666666666", "dev-ml", "error", 3000, 300), "time-limit", "time limit of 3 s exceeded"),
            sandbox,
            failed(entry("888888888888", "archive-old", "skipped", 0, 0), "skipped", "the run was cancelled before this invocation started"),
        ],
        "assume_role_calls": {"111111111111": 1, "222222222222": 2},
        "call_stats": {"222222222222": {"retries": 3, "throttled": 2, "refreshes": 1, "resumes": 0}},
        "orphaned_uploads": [{"account": "222222222222", "bucket": "payments-exports", "key": "big.parquet", "upload_id": "2~abc", "reason": "S3 InternalError (HTTP 500)"}],
        "notes": ["inventory has no grant in xacct.toml"],
    })
}

#[test]
fn a_shard_report_reads_counts_recap_filters_sort_keyboard_and_detail() {
    let report = sample_report();
    let log = "== stdout\nlisting 1 bucket\n== stderr\nslow down: retrying\n";
    let options = Options {
        logs: BTreeMap::from([("222222222222".to_owned(), log.to_owned())]),
        report_path: Some("runs/inventory.json".to_owned()),
    };
    let page = render(&report, &options).unwrap();
    let output = serde_json::to_string_pretty(&entries(&report)[1]["output"]).unwrap();
    check(
        "sample",
        Some(&page),
        json!({
            "plugin": "inventory",
            "total": 8,
            "counts": counts(&report),
            "header": ["inventory", "sha256:5f2b8c1d", "per-account", "2/4", "2026-11-02T09:30:00Z",
                       "2026-11-02T09:30:04.200Z", "9c1d7e4f"],
            // "search" is in two aliases (and in their error messages).
            "search": {"text": "search", "matches": 2},
            "groups": 3,
            "denied_groups": 1,
            "first_group_accounts": ["333333333333", "444444444444"],
            "rerun_command": "xacct run inventory --rerun-failed runs/inventory.json",
            // The AWS denial is the Error filter's own choice, apart from its kind.
            "kind_filter": {"kind": "k:plugin-error", "matches": 2},
            "slowest": by_duration(&report, true),
            "fastest": by_duration(&report, false),
            "detail": {"title": "222222222222 · prod-payments", "output": output, "log": log},
            "orphans": 1,
        }),
    );
}

/// Every way a value could try to become markup, code or a request, with bidi and
/// control characters. Plugin names are file names, which cannot hold NUL.
const HOSTILE: &str = "</script><script>window.__pwned=1;alert(1)</script><!-- --> \
    <img src=x onerror=\"window.__pwned=2;alert(2)\"> javascript:window.__pwned=3 \
    <a href=\"javascript:alert(5)\">click</a> <svg onload=alert(4)><iframe src=\"https://example.com/\"> \
    <link rel=stylesheet href=//example.com/x.css><meta http-equiv=refresh content=\"0;url=https://example.com/\"> \
    <style>*{background:url(//example.com/x.png)}</style> {{DATA}} ${alert(6)} \
    \u{202e}exe.txt \u{2066}\u{2069}\u{200b} \x01\x07\x08\x1b[2J\x1b]52;c;cm0=\x07\r\n\t \u{85}\u{9b}2J \u{2028}\u{2029} \
    ok\u{e0020}\u{e0041}\u{e007f}\u{3164}\u{115f}\u{1160}\u{ffa0}\u{2800}\u{34f}\u{180e}\u{fe0f}\u{e0100}\u{e01ef}end \
    lone\rreturn";

/// How the page shows `HOSTILE`'s invisible characters: each as its escape.
const INVISIBLE_ESCAPED: &str = "ok\\u{e0020}\\u{e0041}\\u{e007f}\\u{3164}\\u{115f}\\u{1160}\\u{ffa0}\\u{2800}\\u{34f}\\u{180e}\\u{fe0f}\\u{e0100}\\u{e01ef}end";

/// A plugin name past every bound the page sets on text.
fn hostile_plugin() -> String {
    HOSTILE.repeat(1 + 2 * xacct_report_html::TEXT_CHARS / HOSTILE.len())
}

fn hostile_report() -> Value {
    let with_nul = format!("{HOSTILE}\0");
    let huge = HOSTILE.repeat(1 + (1 << 20) / HOSTILE.len());
    let hostile_object = json!({HOSTILE: [HOSTILE, {"nested": with_nul}], "n": 1});
    json!({
        "plugin": hostile_plugin(),
        "sha256": huge,
        "mode": HOSTILE,
        "dry_run": false,
        "started_at": HOSTILE,
        "duration_ms": 100,
        "plan_hash": HOSTILE,
        "entries": [
            {"account_id": HOSTILE, "alias": with_nul, "scope": [HOSTILE], "tags": {HOSTILE: with_nul},
             "status": "error", "duration_ms": 10, "start_ms": 0,
             "error": {"kind": HOSTILE, "message": with_nul,
                       "denied_by_aws": {"action": HOSTILE, "resource": HOSTILE}},
             "output": hostile_object, "planned": [{"op": HOSTILE, "key": HOSTILE}], "planned_omitted": 2},
            {"account_id": "222222222222", "alias": huge, "scope": ["222222222222"],
             "tags": {"k": huge}, "status": HOSTILE, "duration_ms": 20, "start_ms": 5,
             "error": {"kind": huge, "message": huge}, "output": {"big": huge}},
            {"account_id": "*", "alias": "all accounts", "scope": [HOSTILE, huge], "status": "ok",
             "duration_ms": 30, "start_ms": 10, "output": huge},
            {"account_id": "333333333333", "alias": "x", "scope": ["333333333333"], "status": "skipped",
             "duration_ms": 0, "error": {"kind": "skipped", "message": HOSTILE}},
        ],
        "assume_role_calls": {HOSTILE: 1},
        "call_stats": {HOSTILE: {"retries": 1, "throttled": 1, "refreshes": 0, "resumes": 0}},
        "orphaned_uploads": [{"account": HOSTILE, "bucket": HOSTILE, "key": huge, "upload_id": HOSTILE, "reason": HOSTILE}],
        "notes": [HOSTILE, huge],
    })
}

/// No value executes, loads, or becomes an element; each shows as the text it is.
#[test]
fn hostile_values_in_every_field_stay_inert_text() {
    let report = hostile_report();
    let huge_log = format!("{HOSTILE}\n").repeat(1 + (1 << 20) / HOSTILE.len());
    let report_path = format!("runs/$(touch pwned)'{HOSTILE}.json");
    let options = Options {
        logs: BTreeMap::from([
            (HOSTILE.to_owned(), huge_log),
            ("*".to_owned(), HOSTILE.to_owned()),
        ]),
        report_path: Some(report_path.clone()),
    };
    let page = render(&report, &options).unwrap();
    let first_row = "#rows tr.row[data-position='0']";
    check(
        "hostile",
        Some(&page),
        json!({
            "total": 4,
            // Markup shows as its characters; controls and bidi as visible escapes.
            "shown_as_text": [
                ["#title", "</script><script>window.__pwned=1;alert(1)</script>"],
                [format!("{first_row} td:nth-child(1)"), "<img src=x onerror="],
                [format!("{first_row} td:nth-child(2)"), "\\u{202e}exe.txt"],
                [format!("{first_row} td:nth-child(2)"), "\\u{1b}[2J\\u{1b}]52;c;cm0=\\u{7}\\u{d}\\u{a}\\u{9} \\u{85}\\u{9b}2J \\u{2028}\\u{2029}"],
                // Fillers, tag characters, variation selectors and other blanks that
                // would let a value pass for another ("ok end").
                [format!("{first_row} td:nth-child(2)"), INVISIBLE_ESCAPED],
                [format!("{first_row} td:nth-child(2)"), "lone\\u{d}return\\u{0}"],
                ["#run-header", "javascript:window.__pwned=3"],
                ["#notes", "{{DATA}} ${alert(6)}"],
                // The skipped entry's message, alone in its group: shown exactly, as text.
                ["#failure-groups", "<svg onload=alert(4)><iframe src=\"https://example.com/\">"],
                ["#orphan-rows", "<iframe src=\"https://example.com/\">"],
            ],
            "detail_shows": ["</script>", "\\u{202e}exe.txt", "<svg onload=alert(4)>", "\"op\": \"</script>",
                             INVISIBLE_ESCAPED],
            // In a block (the error message, the log) a CRLF is a line break; a lone CR
            // is still escaped.
            "detail_pre_shows": ["cm0=\\u{7}\n\t \\u{85}", "lone\\u{d}return"],
            "detail_pre_lacks": ["\\u{d}\n", "\r"],
            // What bash makes of the copied command: exactly these words.
            "rerun_words": [hostile_plugin(), "--rerun-failed", report_path],
        }),
    );
}

/// The harness sees an injection in a page built to have one: the hostile test can fail.
#[test]
fn the_harness_catches_a_page_that_injects_markup() {
    check("selftest", None, json!({}));
}

/// Reports as today's host writes them (captured from `xacct run` on the sample data: an
/// inventory merged from two shards, and a dry run the grant refused): no tags, start
/// offsets, AWS denial counts or start time. The page shows what they have and says what
/// they lack.
#[test]
fn reports_without_the_newer_fields_still_read() {
    for (name, fixture, text) in [
        (
            "legacy-merged",
            include_str!("fixtures/inventory-merged.json"),
            "staging",
        ),
        (
            "legacy-denied",
            include_str!("fixtures/replicate-denied.json"),
            "nope",
        ),
    ] {
        let report: Value = serde_json::from_str(fixture).unwrap();
        let page = render(&report, &Options::default()).unwrap();
        // Every entry whose JSON holds the text (none of them is a field name).
        let matches = entries(&report)
            .iter()
            .filter(|entry| entry.to_string().contains(text))
            .count();
        assert!(matches > 0, "{name}: search for something that is there");
        check_named(
            "legacy",
            name,
            Some(&page),
            json!({
                "total": entries(&report).len(),
                "counts": counts(&report),
                "search": {"text": text, "matches": matches},
            }),
        );
    }
}

/// A report's numbers are its own to choose: the largest ones (durations, offsets,
/// counts, a run ending past what a date can hold) still make a working page.
#[test]
fn the_largest_numbers_still_read() {
    let max = u64::MAX;
    let mut report = sample_report();
    report["duration_ms"] = max.into();
    for (i, entry) in report["entries"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        entry["duration_ms"] = (max - i as u64).into();
        entry["start_ms"] = max.into();
        entry["s3_calls"] = max.into();
        entry["bytes_read"] = max.into();
    }
    report["call_stats"] = json!({"111111111111": {"retries": max, "throttled": max}});
    let page = render(&report, &Options::default()).unwrap();
    check(
        "extremes",
        Some(&page),
        json!({
            "total": 8,
            "counts": counts(&report),
            "search": {"text": "search", "matches": 2},
            "slowest": by_duration(&report, true),
        }),
    );
}

/// 10,000 accounts: counts, filter, sort, search and the keyboard to the last row, with
/// only the rows in view in the document. (Its timings are measured by browser/measure.py,
/// not asserted here.)
#[test]
fn ten_thousand_accounts_filter_sort_and_scroll() {
    let report = xacct_report_html::synthetic::report(10_000);
    let page = render(&report, &Options::default()).unwrap();
    let entries = entries(&report);
    let alias_has = |text: &str| {
        entries
            .iter()
            .filter(|e| e["alias"].as_str().unwrap().contains(text))
            .count()
    };
    let kind_count = entries
        .iter()
        .filter(|e| e["error"]["kind"] == "time-limit")
        .count();
    let mut ids: Vec<&str> = entries
        .iter()
        .map(|e| e["account_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    check(
        "scale",
        Some(&page),
        json!({
            "total": entries.len(),
            "counts": counts(&report),
            "search": {"text": "growth-prod", "matches": alias_has("growth-prod")},
            "kind_filter": {"kind": "k:time-limit", "matches": kind_count},
            "slowest": by_duration(&report, true),
            "one_account": xacct_report_html::synthetic::account_id(1234),
            "last_account": entries.iter().map(|e| e["account_id"].as_str().unwrap()).max().unwrap(),
            "second_account": ids[1],
        }),
    );
}

/// The table's cells at their widest and the numbers at their rounding edges: every
/// number shows whole with its unit (and exactly on hover), durations and sizes carry when
/// rounding reaches the next unit, the Error column's text is what search finds, and the
/// group filter's clear button is visible and clickable under a long label.
#[test]
fn numbers_fit_their_cells_round_and_carry_and_the_filter_clears() {
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    const TIB: u64 = 1 << 40;
    let mut report = sample_report();
    let long = "bucket \"ledger\" refused the upload: ".repeat(12);
    let cases = [
        // account, bytes read, bytes written, duration, calls
        (
            "100000000001",
            10239 * MIB / 10,
            8128 * GIB / 10,
            119_600,
            1_234_567,
        ),
        ("100000000002", u64::MAX, MIB - 1, 3_599_999, 999_999),
        ("100000000003", 1023, 1024 * TIB - 1, 59_999, 12),
        ("100000000004", 10239 * TIB / 10, GIB - 1, 9_999, 0),
        ("100000000005", 999 * GIB, 1000 * MIB, 3_599_000, 12_345),
    ];
    let mut rows = Vec::new();
    for (i, (id, read, written, duration, calls)) in cases.into_iter().enumerate() {
        let mut e = entry(id, "edge", "ok", duration, 10 * i as u64);
        e["bytes_read"] = read.into();
        e["bytes_written"] = written.into();
        e["s3_calls"] = calls.into();
        e["denied_calls"] = 999_999.into();
        rows.push(e);
    }
    rows[0] = failed(rows[0].clone(), "time-limit", "time limit of 60 s exceeded");
    rows[0]["status"] = "error".into();
    rows[1] = failed(rows[1].clone(), "plugin-error", &long);
    rows[1]["status"] = "error".into();
    report["entries"] = Value::Array(rows);
    report["call_stats"] = json!({"100000000005": {"retries": 999_999, "throttled": 999_999}});
    let page = render(&report, &Options::default()).unwrap();
    check(
        "layout",
        Some(&page),
        json!({
            "total": 5,
            "cells": [
                ["100000000001", "Read", "1023.9 MiB", "1,073,636,966 bytes"],
                ["100000000001", "Written", "812.8 GiB", "872,737,354,547 bytes"],
                ["100000000001", "Duration", "2 min 0 s", "119,600 ms"],
                ["100000000001", "Calls", "1,234,567", "1,234,567"],
                ["100000000002", "Read", "16.0 EiB", null],
                ["100000000002", "Written", "1.0 MiB", "1,048,575 bytes"],
                ["100000000002", "Duration", "60 min 0 s", "3,599,999 ms"],
                ["100000000003", "Read", "1023 B", "1,023 bytes"],
                ["100000000003", "Written", "1.0 PiB", null],
                ["100000000003", "Duration", "1 min 0 s", "59,999 ms"],
                ["100000000004", "Read", "1023.9 TiB", null],
                ["100000000004", "Written", "1.0 GiB", "1,073,741,823 bytes"],
                ["100000000004", "Duration", "10.0 s", "9,999 ms"],
                ["100000000005", "Read", "999.0 GiB", null],
                ["100000000005", "Written", "1000.0 MiB", null],
                ["100000000005", "Duration", "59 min 59 s", "3,599,000 ms"],
                ["100000000005", "Retries", "999,999", "999,999"],
            ],
            // As the Error column shows it.
            "error_search": {"text": "time-limit: time limit", "matches": 1},
            "long_group": "100000000002",
        }),
    );
}

/// Invocations of 0 ms still ran: they count in the timeline's concurrency, at their
/// start; back-to-back invocations (one ends as the next starts) are not concurrent.
#[test]
fn the_timeline_counts_invocations_of_no_duration() {
    let timed = |start: u64, duration: u64, n: u64| {
        entry(
            &format!("{:012}", 111_111_111_111 * n),
            "t-x",
            "ok",
            duration,
            start,
        )
    };
    for (name, run_ms, entries, peak) in [
        (
            "timeline-zero",
            0,
            vec![timed(0, 0, 1), timed(0, 0, 2), timed(0, 0, 3)],
            3,
        ),
        (
            "timeline-zero-staggered",
            40,
            vec![
                timed(0, 0, 1),
                timed(10, 0, 2),
                timed(20, 0, 3),
                timed(10, 20, 4),
            ],
            2,
        ),
        (
            "timeline-back-to-back",
            30,
            vec![timed(0, 10, 1), timed(10, 10, 2), timed(20, 10, 3)],
            1,
        ),
    ] {
        let mut report = sample_report();
        report["duration_ms"] = run_ms.into();
        report["entries"] = Value::Array(entries);
        report["call_stats"] = json!({});
        let page = render(&report, &Options::default()).unwrap();
        check_named(
            "timeline",
            name,
            Some(&page),
            json!({"peak": format!("at most {peak} at once")}),
        );
    }
}

/// Search covers every text the page holds for an account, whole: deep in an output, past
/// the head of a long error message, an AWS denial's action and resource, an output's
/// preview, planned operations and the log. The Error column and filter mark AWS denials
/// as the terminal does; "Show in table" drops the filters that would hide the group.
#[test]
fn search_finds_all_the_page_holds_and_groups_show_whatever_the_filters() {
    let mut report = sample_report();
    let entries = report["entries"].as_array_mut().unwrap();
    let buckets: Vec<Value> = (0..400)
        .map(|i| json!({"name": format!("bucket-{i:04}"), "objects": i}))
        .collect();
    entries[1]["output"] = json!({"account": "222222222222", "buckets": buckets});
    entries[7]["error"]["message"] = format!("{} needle-in-error", "x".repeat(1500)).into();
    entries[0]["planned"] = json!([{"op": "put-object", "key": "planned-needle"}]);
    entries[5]["output"] =
        json!({"a": "x".repeat(3000), "b": "preview-needle", "pad": "y".repeat(300_000)});
    let options = Options {
        logs: BTreeMap::from([(
            "777777777777".to_owned(),
            "== stdout\nlog-needle\n".to_owned(),
        )]),
        report_path: None,
    };
    let page = render(&report, &options).unwrap();
    let denial = "denied by AWS: s3:GetObject on arn:aws:s3:::ledger-555555555555/2026/*";
    check(
        "filters",
        Some(&page),
        json!({
            "total": 8,
            "searches": [["bucket-0010", 1], ["BUCKET-0399", 1], ["needle-in-error", 1],
                         ["s3:GetObject", 1], ["arn:aws:s3:::ledger-555555555555/2026/*", 1],
                         ["preview-needle", 1], ["planned-needle", 1], ["log-needle", 1],
                         ["plugin-error: bucket", 2], ["denied by aws", 1],
                         // Literally, whatever a pattern would make of it.
                         [".*", 0], ["2026/*", 1], ["(", 0]],
            "cells": [["555555555555", "Error", denial, denial],
                      ["666666666666", "Error", "time-limit: time limit of 3 s exceeded", null]],
            "kind_options": ["any", "denied by AWS (1)", "plugin-error (2)", "skipped (1)", "time-limit (1)"],
            "kind_filters": [["aws", ["555555555555"]], ["k:plugin-error", ["333333333333", "444444444444"]]],
            // Status ok, error time-limit, search "dev": each hides the missing buckets'
            // group; then a search that holds every account of the group stays.
            "conflicts": [["status", "ok"], ["kind", "k:time-limit"], ["search", "dev"]],
            "kept_search": "search",
            "group": ["333333333333", "444444444444"],
        }),
    );
}

/// Pages with no invocation: a shard with no account, a plugin with no grant, a run all
/// skipped. They say so (not that the report lacks start times, or that no account
/// matches), and total the AWS denials they count: 0.
#[test]
fn a_report_with_no_invocation_says_so() {
    let mut skipped = sample_report();
    skipped["entries"] = json!([failed(
        entry("888888888888", "archive-old", "skipped", 0, 0),
        "skipped",
        "cancelled"
    )]);
    for (name, entries, empty_row) in [
        (
            "no-account",
            json!([]),
            Some("The report holds no account."),
        ),
        ("all-skipped", skipped["entries"].clone(), None),
    ] {
        let mut report = sample_report();
        report["entries"] = entries;
        for field in [
            "shard",
            "call_stats",
            "assume_role_calls",
            "orphaned_uploads",
        ] {
            report.as_object_mut().unwrap().remove(field);
        }
        // As the host writes it: no entry to carry aws_denied_calls.
        if let Some(entries) = report["entries"].as_array_mut() {
            for entry in entries {
                entry.as_object_mut().unwrap().remove("aws_denied_calls");
            }
        }
        let page = render(&report, &Options::default()).unwrap();
        check_named("empty", name, Some(&page), json!({"empty_row": empty_row}));
    }
}
