//! The host as a Lambda function: the real `xacct-lambda` binary started as Lambda starts
//! `bootstrap`, served by the stand-in Runtime API (`common::lambda_runtime`).

use crate::common;

use std::process::Command;
use std::sync::Arc;

use common::lambda_runtime::{Answer, RuntimeApi, start_function};
use common::{World, full_grants};
use serde_json::{Value, json};

fn untimed(mut report: Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("duration_ms");
                map.values_mut().for_each(strip);
            }
            Value::Array(list) => list.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut report);
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_function_runs_shards_and_merges_them_through_the_runtime_api() {
    // The deployment package: config, plugins, data (the local backend) and the plugins
    // compiled ahead of time.
    let mut text = format!("[local]\nroot = \"data\"\n{}", full_grants(&["hello"]));
    for i in 0..6u64 {
        text.push_str(&format!(
            "\n[[account]]\nid = \"{}\"\nalias = \"l-{i}\"\n",
            800_000_000_000 + i
        ));
    }
    let package = World::with_config(&["hello"], &text, None);
    for i in 0..6u64 {
        package.bucket(&(800_000_000_000 + i).to_string(), "b");
    }
    let root = package.dir.path();
    let precompiled = Command::new(env!("CARGO_BIN_EXE_xacct"))
        .args(["plugins", "--config", "xacct.toml"])
        .current_dir(root)
        .env("XDG_CACHE_HOME", root.join("xacct-cache"))
        .env("XDG_STATE_HOME", root.join("xacct-state"))
        .output()
        .unwrap();
    assert!(precompiled.status.success(), "{precompiled:?}");
    let whole = Command::new(env!("CARGO_BIN_EXE_xacct"))
        .args(["run", "hello", "--output", "json"])
        .current_dir(root)
        .env_remove("XACCT_CONFIG")
        .output()
        .unwrap();
    let whole: Value = serde_json::from_slice(&whole.stdout).unwrap();

    let api = Arc::new(RuntimeApi::default());
    let address = api.clone().serve().await;
    let scratch = tempfile::tempdir().unwrap();
    let mut function = start_function(root, scratch.path(), address);

    api.invoke("shard-0", json!({"plugin": "hello", "shard": "0/2"}));
    api.invoke(
        "shard-1",
        json!({"plugin": "hello", "input": {}, "shard": "1/2"}),
    );
    let mut shards = Vec::new();
    for id in ["shard-0", "shard-1"] {
        let Answer::Response(report) = api.answer_to(id).await else {
            panic!("{id} failed");
        };
        assert_eq!(report["plugin"], "hello");
        assert_eq!(report["plan_hash"], whole["plan_hash"]);
        shards.push(report);
    }
    assert_eq!(
        shards[0]["entries"].as_array().unwrap().len()
            + shards[1]["entries"].as_array().unwrap().len(),
        6
    );
    api.invoke("merge", json!({"reports": shards}));
    let Answer::Response(merged) = api.answer_to("merge").await else {
        panic!("the merge failed");
    };
    assert_eq!(untimed(merged), untimed(whole));

    // A malformed event, a missing shard: the invocation's error, and the function serves on.
    api.invoke("typo", json!({"plugin": "hello", "shards": "0/2"}));
    api.invoke("partial", json!({"reports": [shards[0]]}));
    api.invoke("again", json!({"plugin": "hello", "accounts": ["l-2"]}));
    assert!(matches!(api.answer_to("typo").await, Answer::Error(_)));
    let Answer::Error(partial) = api.answer_to("partial").await else {
        panic!("a partial merge succeeded");
    };
    assert!(partial.to_string().contains("missing"), "{partial}");
    let Answer::Response(again) = api.answer_to("again").await else {
        panic!("the function stopped serving");
    };
    assert_eq!(again["entries"][0]["alias"], "l-2");
    assert_eq!(again["entries"][0]["status"], "ok");

    // The package's compiled plugin served the invocations: copied to the scratch
    // directory, not compiled again.
    let copied: Vec<_> = std::fs::read_dir(scratch.path().join("xacct/xacct-cache"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let packaged: Vec<_> = std::fs::read_dir(root.join("xacct-cache/xacct"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(!packaged.is_empty());
    assert_eq!(
        copied.len(),
        packaged.len(),
        "nothing compiled in the function"
    );

    function.kill().unwrap();
    let output = function.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(!log.contains("compile cache"), "{log}");
}
