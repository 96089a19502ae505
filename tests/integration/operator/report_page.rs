//! The run as a page: `xacct run --html` writes one beside the run's report, `xacct
//! report html` makes one from a JSON report (a merged one too, with the logs of the
//! run's `--out-dir`), and Chromium reads them: counts, tags, the timeline, each
//! account's log.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::browser::check_run_page;
use common::{ConfigBuilder, World};
use serde_json::{Value, json};

fn id(i: u64) -> String {
    (710_000_000_000 + i).to_string()
}

/// Four local accounts, two per team.
fn world() -> World {
    let mut config = ConfigBuilder::local("data").full_grants(&["misbehave"]);
    for i in 0..4 {
        let team = if i < 2 { "team-a" } else { "team-b" };
        config = config
            .account(id(i), format!("p-{i}"))
            .tags(&[("team", team)]);
    }
    let world = World::with_config(&["misbehave"], &config, None);
    for i in 0..4 {
        world.bucket(&id(i), "b");
    }
    world
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn expect(name: &str, report: &Value, header: &[&str], log_account: &str) -> Value {
    let entries = report["entries"].as_array().unwrap();
    let count = |status: &str| entries.iter().filter(|e| e["status"] == status).count();
    json!({
        "name": name,
        "total": entries.len(),
        "counts": {"ok": count("ok"), "error": count("error"), "skipped": count("skipped")},
        // The tags are in the JSON report and in the page's search.
        "search": {"text": "team-b", "matches": 2},
        "header": header,
        "denied_groups": 0,
        "denied_shows": [],
        "detail": {"account": log_account, "shows": [format!("to stdout from {log_account}")]},
    })
}

#[test]
fn a_run_writes_its_page_and_report_html_makes_one_from_a_merged_report() {
    let world = world();
    let dir = world.dir.path();
    let input = json!({"mode": "print", "only": id(1)}).to_string();
    let run = world
        .xacct()
        .args([
            "run",
            "misbehave",
            "--output",
            "json",
            "--html",
            "run.html",
            "--input",
            &input,
        ])
        .output();
    assert!(run.success(), "{run:?}");
    let report = run.json();
    let entry = &report["entries"][2];
    assert_eq!(entry["tags"], json!({"team": "team-b"}));
    assert!(
        entry["start_ms"].is_u64() && report["started_at"].is_string(),
        "{report}"
    );
    assert_eq!(
        mode(&dir.join("run.html")),
        0o600,
        "the page is the operator's alone"
    );
    // The log comes from the run itself: no --out-dir was given.
    check_run_page(
        &dir.join("run.html"),
        &expect("run", &report, &["misbehave", "per-account"], &id(1)),
    );

    // Shards with their --out-dir, merged, then the page of the merged report.
    for shard in ["1/2", "2/2"] {
        let output = world
            .xacct()
            .args([
                "run",
                "misbehave",
                "--output",
                "json",
                "--out-dir",
                "out",
                "--shard",
                shard,
                "--input",
                &input,
            ])
            .output();
        assert!(output.success(), "{output:?}");
        let name = format!("shard-{}.json", &shard[..1]);
        std::fs::write(dir.join(name), &output.stdout).unwrap();
    }
    let merged = world
        .xacct()
        .args(["report", "merge", "shard-1.json", "shard-2.json"])
        .output();
    assert!(merged.success(), "{merged:?}");
    std::fs::write(dir.join("merged.json"), &merged.stdout).unwrap();
    let merged = merged.json();
    assert_eq!(merged["merged_shards"], 2);
    let page = world
        .xacct()
        .args(["report", "html", "merged.json", "--out-dir", "out"])
        .output();
    assert!(page.success(), "{page:?}");
    assert!(page.stderr.contains("merged.html"), "{}", page.stderr);
    assert_eq!(mode(&dir.join("merged.html")), 0o600);
    let header = ["misbehave", "merged from 2 shards"];
    check_run_page(
        &dir.join("merged.html"),
        &expect("merged", &merged, &header, &id(1)),
    );
}

#[test]
fn what_is_not_a_report_makes_no_page() {
    let world = world();
    let dir = world.dir.path();
    std::fs::write(dir.join("list.json"), "[1, 2]").unwrap();
    std::fs::write(dir.join("text.json"), "not json").unwrap();
    for (file, says) in [
        ("list.json", "not an xacct report"),
        ("text.json", "is not a JSON report"),
        ("none.json", "cannot read"),
    ] {
        let output = world
            .xacct()
            .args(["report", "html", file, "-o", "page.html"])
            .output();
        assert_eq!(output.code(), Some(2), "{file}: {output:?}");
        assert!(output.stderr.contains(says), "{file}: {}", output.stderr);
        assert!(!dir.join("page.html").exists());
    }
    // A report's plugin and account names are not paths to follow out of --out-dir.
    let report =
        json!({"plugin": "../../etc", "entries": [{"account_id": "../passwd", "status": "ok"}]});
    std::fs::write(dir.join("odd.json"), report.to_string()).unwrap();
    let output = world
        .xacct()
        .args(["report", "html", "odd.json", "--out-dir", "out"])
        .output();
    assert!(output.success(), "{output:?}");
    let page = std::fs::read_to_string(dir.join("odd.html")).unwrap();
    assert!(
        !page.contains("root:"),
        "nothing outside --out-dir was read"
    );
}
