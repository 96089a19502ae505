//! Issue 18, Lambda side: the real `xacct-lambda` against the stand-in Runtime API
//! (`super::lambda`) and moto's Organizations behind the shim. Each test names the rule
//! it stands for; each fails against the host as it was when the issue was filed.

use std::sync::Arc;
use std::time::Duration;

use super::lambda::{Answer, RuntimeApi, precompile, start_function};
use super::organizations::organization;
use crate::common;
use common::moto::Moto;
use common::shim::Faults;
use common::{ConfigBuilder, World};
use serde_json::json;

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
    let credentials = [
        ("AWS_ACCESS_KEY_ID", "AKIAXACCTLAMBDATEST1"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let mut function = start_function(address, root, scratch.path(), &credentials);
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
            function = start_function(address, root, scratch.path(), &credentials);
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
