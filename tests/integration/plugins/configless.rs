//! Developing without a config: `xacct run PLUGIN --local-root DIR` finds the accounts at
//! the top of DIR, offers the exact grant the plugin lacks, and `--plugins` takes a cargo
//! target directory as it is.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

fn xacct(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xacct"))
        .current_dir(cwd)
        .args(args)
        .env_remove("XACCT_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn a_directory_of_data_and_the_offered_grant_are_enough_to_run() {
    let dir = tempfile::tempdir().unwrap();
    for bucket in [
        "111111111111/dev-bucket",
        "222222222222/prod-bucket",
        "notes",
    ] {
        std::fs::create_dir_all(dir.path().join("data").join(bucket)).unwrap();
    }
    let target = common::target_dir();
    // The cargo target directory itself: hello is in its wasm32-wasip2/release.
    let args = [
        "run",
        "hello",
        "--local-root",
        "data",
        "--plugins",
        target.to_str().unwrap(),
        "--output",
        "json",
    ];

    let first = xacct(dir.path(), &args);
    assert_eq!(first.status.code(), Some(1), "{first:?}");
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let note = report["notes"][0].as_str().unwrap();
    let grant = note
        .split_once("add this line at the top of xacct.toml: ")
        .and_then(|(_, rest)| rest.split_once(" (then"))
        .map(|(line, _)| line)
        .unwrap_or_else(|| panic!("no grant offered: {note}"));
    assert!(
        String::from_utf8_lossy(&first.stderr)
            .contains("not 12-digit ids) at the top of the local root: notes"),
        "{first:?}"
    );

    std::fs::write(dir.path().join("xacct.toml"), format!("{grant}\n")).unwrap();
    let second = xacct(dir.path(), &args);
    assert!(second.status.success(), "{second:?}");
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    let buckets: Vec<_> = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["account_id"].clone(),
                entry["output"]["buckets"].clone(),
            )
        })
        .collect();
    assert_eq!(
        buckets,
        [
            ("111111111111".into(), serde_json::json!(["dev-bucket"])),
            ("222222222222".into(), serde_json::json!(["prod-bucket"])),
        ]
    );
}
