//! hello's own test: its component in the embedded host, with xacct-testing.

use serde_json::json;
use xacct_testing::{Estate, Status, build};

#[test]
fn greets_each_account_with_exactly_its_buckets() {
    let plugin = build(env!("CARGO_MANIFEST_DIR")).unwrap();
    let estate = Estate::new()
        .account("111111111111", "dev")
        .account("222222222222", "prod")
        .object("111111111111", "dev-reports", "2024/jan.csv", "jan,1200\n")
        .bucket("222222222222", "prod-archive")
        .grant(
            r#"accounts = ["*"]
s3 = [{ buckets = "*", actions = ["list"] }]"#,
        );
    let report = estate.run(&plugin, json!({})).unwrap();
    let outputs: Vec<_> = report
        .entries
        .iter()
        .map(|entry| {
            assert_eq!(entry.status, Status::Ok, "{:?}", entry.error);
            entry.output.clone().unwrap()
        })
        .collect();
    assert_eq!(outputs[0]["greeting"], "Hello from dev (111111111111)!");
    assert_eq!(outputs[0]["buckets"], json!(["dev-reports"]));
    assert_eq!(outputs[1]["buckets"], json!(["prod-archive"]));
}

#[test]
fn without_a_grant_it_runs_nowhere() {
    let plugin = build(env!("CARGO_MANIFEST_DIR")).unwrap();
    let estate = Estate::new().account("111111111111", "dev");
    let report = estate.run(&plugin, json!({})).unwrap();
    assert!(report.entries.is_empty());
    assert!(
        report.notes[0].contains("has no grant"),
        "{:?}",
        report.notes
    );
}
