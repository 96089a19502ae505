//! l.: the report page at 10,000 accounts in headless Chromium, beside the same page at
//! 1,000 accounts in the same run.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::target_dir;
use crate::measure::*;

/// The page of a synthetic report (`xacct_report_html::synthetic`: a realistic mix of
/// statuses, errors, outputs, tags and start offsets) measured by the page crate's
/// `browser/measure.py`: navigation start to `data-ready` (the table answers input), a
/// search and a sort until the next painted frame; medians of 5 runs in fresh contexts.
fn measure_page(accounts: usize) -> Value {
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join(format!("report-{accounts}.html"));
    let report = xacct_report_html::synthetic::report(accounts);
    let html = xacct_report_html::render(&report, &Default::default()).unwrap();
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

pub(crate) fn report_page(results: &mut Results) {
    let (small, large) = (measure_page(1_000), measure_page(10_000));
    let median = |figures: &Value, key: &str| figures[key]["median"].as_f64().unwrap();
    let ready = median(&large, "load_to_ready_ms");
    let answer = ["search_ms", "clear_ms", "sort_ms"]
        .into_iter()
        .map(|key| median(&large, key))
        .fold(0.0, f64::max);
    let mib = large["bytes"].as_f64().unwrap() / (1024.0 * 1024.0);
    let ratio = ready / median(&small, "load_to_ready_ms");
    results.add(
        "l. report page, 10,000 accounts (Chromium)",
        format!(
            "ready {ready:.0} ms ({ratio:.1}x the 1,000-account page's {:.0} ms); search {:.0} ms, clear {:.0} ms, sort {:.0} ms; {mib:.1} MiB",
            median(&small, "load_to_ready_ms"),
            median(&large, "search_ms"),
            median(&large, "clear_ms"),
            median(&large, "sort_ms"),
        ),
        target(
            ready < 1500.0 && answer < 100.0 && mib < 10.0,
            "ready < 1.5 s, filter and sort < 100 ms, < 10 MiB",
        ),
        json!({"1000": small, "10000": large}),
    );
}
