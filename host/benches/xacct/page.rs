//! l.: the report page at 10,000 accounts in headless Chromium, beside the same page at
//! 1,000 accounts in the same run, and a 10,000-account report whose outputs alone are
//! 60 MB (the page keeps what fits its 9 MiB).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::target_dir;
use crate::measure::*;

/// The page of a synthetic report (`xacct_report_html::synthetic`: a realistic mix of
/// statuses, errors, outputs, tags and start offsets) measured by the page crate's
/// `browser/measure.py`: navigation start to `data-ready` (the table answers input), a
/// search and a sort until the next painted frame; medians of 5 runs in fresh contexts.
fn measure_page(name: &str, report: &Value) -> Value {
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join(format!("report-{name}.html"));
    let html = xacct_report_html::render(report, &Default::default()).unwrap();
    std::fs::write(&page, html).unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(workspace.join(".venv/bin/python"))
        .arg(workspace.join("host/crates/report-html/browser/measure.py"))
        .arg(&page)
        .output()
        .expect("the page's measure needs .venv (scripts/install-browser)");
    assert!(
        output.status.success(),
        "measure.py {}: {}",
        page.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The synthetic report of `accounts` accounts with each output padded to about 6 KB.
fn heavy_report(accounts: usize) -> Value {
    let mut report = xacct_report_html::synthetic::report(accounts);
    for entry in report["entries"].as_array_mut().unwrap() {
        if let Some(output) = entry.get_mut("output").and_then(Value::as_object_mut) {
            output.insert("padding".into(), json!("p".repeat(6_000)));
        }
    }
    report
}

pub(crate) fn report_page(results: &mut Results) {
    let synthetic = xacct_report_html::synthetic::report;
    let small = measure_page("1000", &synthetic(1_000));
    let large = measure_page("10000", &synthetic(10_000));
    let heavy = measure_page("10000-heavy", &heavy_report(10_000));
    let median = |figures: &Value, key: &str| figures[key]["median"].as_f64().unwrap();
    let ready = median(&large, "load_to_ready_ms");
    let answer = ["search_ms", "clear_ms", "sort_ms"]
        .into_iter()
        .map(|key| median(&large, key))
        .fold(0.0, f64::max);
    let mib = |figures: &Value| figures["bytes"].as_f64().unwrap() / (1024.0 * 1024.0);
    let ratio = ready / median(&small, "load_to_ready_ms");
    let heavy_ready = median(&heavy, "load_to_ready_ms");
    let heavy_answer = ["search_ms", "clear_ms", "sort_ms"]
        .into_iter()
        .map(|key| median(&heavy, key))
        .fold(0.0, f64::max);
    results.add(
        "l. report page, 10,000 accounts (Chromium)",
        format!(
            "ready {ready:.0} ms ({ratio:.1}x the 1,000-account page's {:.0} ms); search {:.0} ms, clear {:.0} ms, sort {:.0} ms; {:.1} MiB. With 6 KB outputs: ready {heavy_ready:.0} ms, slowest answer {heavy_answer:.0} ms, {:.1} MiB",
            median(&small, "load_to_ready_ms"),
            median(&large, "search_ms"),
            median(&large, "clear_ms"),
            median(&large, "sort_ms"),
            mib(&large),
            mib(&heavy),
        ),
        target(
            ready.max(heavy_ready) < 1500.0
                && answer.max(heavy_answer) < 100.0
                && mib(&large).max(mib(&heavy)) < 10.0,
            "ready < 1.5 s, filter and sort < 100 ms, < 10 MiB",
        ),
        json!({"1000": small, "10000": large, "10000-heavy": heavy}),
    );
}
