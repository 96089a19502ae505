//! Issue 18, Lambda and Step Functions side: the real `xacct-lambda` against the stand-in
//! Runtime API (`super::lambda`) and moto's Organizations behind the shim, and the state
//! machine the README deploys (`deploy/step-functions.json`), checked by a real Amazon
//! States Language validator. Each test names the rule it stands for; each fails against
//! the host as it was when the issue was filed.

use std::sync::Arc;
use std::time::Duration;

use super::lambda::{Answer, HOME_KEYS, RuntimeApi, precompile, start_function};
use super::organizations::organization;
use crate::common;
use common::moto::Moto;
use common::shim::Faults;
use common::{ConfigBuilder, World};
use serde_json::{Value, json};

/// Stands for Lambda's execution environment lifecycle ("Understanding the Lambda
/// execution environment lifecycle", Lambda Developer Guide: an environment serves many
/// invocations; an initialization failure is reported and the environment is reset, then
/// initialized again): when AWS Organizations is out for the first calls, the first
/// invocation may fail, but a later one must be served — by a deployment opened again,
/// or by a new environment if the first exited. Today the failure is stored when the
/// environment starts and returned to every later invocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_that_could_not_open_is_opened_again() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    // Two attempts per call, both failed: the first listing of the organization fails.
    let config = ConfigBuilder::aws(&moto.endpoint)
        .backend("max_attempts", 2)
        .section("[organization]")
        .full_grants(&["hello"]);
    let package = World::with_config(&["hello"], &config, None);
    let root = package.dir.path();
    precompile(root);
    moto.inject(Faults {
        organizations_fail_first: 2,
        ..Faults::default()
    });
    let api = Arc::new(RuntimeApi::default());
    let address = api.clone().serve().await;
    let scratch = tempfile::tempdir().unwrap();
    let mut function = start_function(address, root, scratch.path(), &HOME_KEYS);
    let event = json!({"plugin": "hello", "accounts": [org.in_apps]});
    api.invoke("first", event.clone());
    let first = api.answer_to("first").await;
    assert!(
        moto.injected().organizations_failures == 2,
        "the outage happened"
    );
    api.invoke("second", event);
    // Lambda starts a new environment where the last one exited; the event waits for it.
    let second = tokio::spawn({
        let api = api.clone();
        async move { api.answer_to("second").await }
    });
    while !second.is_finished() {
        if function.try_wait().unwrap().is_some() {
            function = start_function(address, root, scratch.path(), &HOME_KEYS);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let second = second.await.unwrap();
    let _ = function.kill();
    let _ = function.wait();
    let Answer::Response(report) = second else {
        panic!("the second invocation failed too: {second:?} (the first: {first:?})");
    };
    assert_eq!(report["entries"][0]["account_id"], org.in_apps.as_str());
    assert_eq!(report["entries"][0]["status"], "ok");
}

/// The state machine the README deploys (`deploy/step-functions.json`), as text.
fn state_machine_text() -> String {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/step-functions.json");
    std::fs::read_to_string(path).unwrap()
}

fn state_machine() -> Value {
    serde_json::from_str(&state_machine_text()).unwrap()
}

/// Stands for the Distributed Map's failure threshold ("ToleratedFailurePercentage" and
/// "ToleratedFailureCount", "Map state in Distributed mode", Step Functions Developer
/// Guide: by default one failed child execution fails the Map run): one failed shard must
/// not lose the run's other shards. The threshold comes from the Plan step's output,
/// which fills in the documented default.
#[test]
fn the_state_machine_tolerates_failed_shards() {
    let machine = state_machine();
    let map = &machine["States"]["Run shards"];
    assert_eq!(map["Type"], "Map");
    assert_eq!(
        map["ToleratedFailurePercentagePath"], "$.tolerated_failure_percentage",
        "{map}"
    );
    assert_eq!(machine["StartAt"], "Plan");
    assert_eq!(machine["States"]["Plan"]["Next"], "Run shards");
}

/// Stands for Step Functions' payload limit ("Maximum input or output size for a task,
/// state, or execution: 256 KiB", "Step Functions service quotas"; a Distributed Map
/// writes its children's results to S3 with "ResultWriter", "ResultWriter (Map)"):
/// shards' reports larger than 256 KiB in all must not fail the run, so the Map writes
/// them to S3 (the bucket and prefix of the run's input) and the merge reads them from
/// there (`aws::step_functions` tests that reading).
#[test]
fn the_state_machine_writes_shard_reports_to_s3() {
    let machine = state_machine();
    let map = &machine["States"]["Run shards"];
    let writer = &map["ResultWriter"];
    assert_eq!(writer["Resource"], "arn:aws:states:::s3:putObject", "{map}");
    assert_eq!(writer["Parameters"]["Bucket.$"], "$.results.bucket");
    let merge = &machine["States"]["Merge reports"]["Parameters"]["Payload"]["merge"];
    assert_eq!(merge["results.$"], "$.shard_results.ResultWriterDetails");
    assert_eq!(map["ResultPath"], "$.shard_results");
}

/// The npm `asl-validator` that `scripts/install-asl-validator` installs (scripts/test
/// runs it first).
fn asl_validator() -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/asl-validator/node_modules/.bin/asl-validator");
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-asl-validator (scripts/test does)",
        path.display()
    );
    path
}

/// Whether the validator accepts `definition`, and what it said.
fn validate(definition: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("definition.json");
    std::fs::write(&path, definition).unwrap();
    let output = std::process::Command::new(asl_validator())
        .arg("--json-path")
        .arg(&path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

/// Stands for the Amazon States Language ("Amazon States Language specification"; what
/// CreateStateMachine validates): the deployed definition is valid ASL — Distributed Map,
/// ResultWriter, ToleratedFailurePercentagePath and all — as a real validator (npm
/// `asl-validator`) reads it, and the same validator refuses a broken copy, so this test
/// can fail.
#[test]
fn the_state_machine_is_valid_amazon_states_language() {
    let text = state_machine_text();
    let (valid, said) = validate(&text);
    assert!(valid, "{said}");
    let broken = text.replace(r#""Next": "Merge reports""#, r#""Next": "Merge""#);
    assert_ne!(broken, text);
    let (valid, said) = validate(&broken);
    assert!(!valid, "a transition to no state passed: {said}");
    assert!(said.contains("MISSING_TRANSITION_TARGET"), "{said}");
    let mut misplaced = state_machine();
    misplaced["States"]["Run shards"]["ToleratedFailurePercentagePath"] = "percent".into();
    let (valid, said) = validate(&misplaced.to_string());
    assert!(
        !valid,
        "a threshold path that is no reference path passed: {said}"
    );
    assert!(said.contains("ToleratedFailurePercentagePath"), "{said}");
}
