//! Issue 18, the Step Functions run (`deploy/step-functions.json`) as the real
//! `xacct-lambda` serves its three steps, against the stand-in Runtime API
//! (`super::lambda`) and moto's Organizations and S3 behind the shim: the plan made once
//! per Map run, each shard running only its plan, and the merge of the shards' results
//! as the Map's `ResultWriter` lays them out in S3, failed shards included.

use std::sync::Arc;

use super::lambda::{Answer, HOME_KEYS, RuntimeApi, precompile, start_function};
use super::organizations::{Organization, organization};
use crate::common;
use common::moto::{HOME_ACCOUNT, Moto, object_bytes};
use common::{ConfigBuilder, World};
use serde_json::{Value, json};

const RESULTS: &str = "xacct-results";

/// A deployment package over moto's organization, the function serving it, and the
/// results bucket in the home account.
struct Deployed {
    moto: Moto,
    org: Organization,
    api: Arc<RuntimeApi>,
    function: std::process::Child,
    _package: World,
    _scratch: tempfile::TempDir,
    s3: aws_sdk_s3::Client,
}

impl Drop for Deployed {
    fn drop(&mut self) {
        let _ = self.function.kill();
        let _ = self.function.wait();
    }
}

async fn deployed() -> Deployed {
    let moto = Moto::start();
    let org = organization(&moto).await;
    let s3 = moto.s3_in(HOME_ACCOUNT).await;
    s3.create_bucket().bucket(RESULTS).send().await.unwrap();
    let config = ConfigBuilder::aws(&moto.endpoint)
        .section("[organization]")
        .full_grants(&["hello"]);
    let package = World::with_config(&["hello"], &config, None);
    precompile(package.dir.path());
    let api = Arc::new(RuntimeApi::default());
    let address = api.clone().serve().await;
    let scratch = tempfile::tempdir().unwrap();
    let function = start_function(address, package.dir.path(), scratch.path(), &HOME_KEYS);
    Deployed {
        moto,
        org,
        api,
        function,
        _package: package,
        _scratch: scratch,
        s3,
    }
}

impl Deployed {
    async fn invoke(&self, id: &str, event: Value) -> Answer {
        self.api.invoke(id, event);
        self.api.answer_to(id).await
    }

    async fn response(&self, id: &str, event: Value) -> Value {
        match self.invoke(id, event).await {
            Answer::Response(value) => value,
            Answer::Error(error) => panic!("{id} failed: {error}"),
        }
    }

    async fn error(&self, id: &str, event: Value) -> String {
        match self.invoke(id, event).await {
            Answer::Error(error) => error.to_string(),
            Answer::Response(value) => panic!("{id} succeeded: {value}"),
        }
    }

    async fn put(&self, key: &str, body: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(RESULTS)
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap();
    }

    /// The organization's members, which every plan here covers.
    fn members(&self) -> Vec<String> {
        let org = &self.org;
        let mut ids = vec![
            org.in_apps.clone(),
            org.in_prod.clone(),
            org.in_sandbox.clone(),
            org.at_root.clone(),
        ];
        ids.sort();
        ids
    }
}

/// The ids of a report's entries, sorted.
fn ids(report: &Value) -> Vec<String> {
    let mut ids: Vec<String> = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["account_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Stands for the Distributed Map's fan-out ("Map state in Distributed mode", Step
/// Functions Developer Guide: up to `MaxConcurrency` child executions at once, each an
/// invocation of the function) and Organizations' low request rates ("Quotas for AWS
/// Organizations"): the organization is listed once per Map run, by the Plan step, not
/// once per shard or per execution environment; each shard runs the accounts its plan
/// names. A plan goes through S3 when it is large (Step Functions passes at most
/// 256 KiB between states: "Step Functions service quotas"; forced here with
/// `inline_plan_max_bytes = 0`), and its sha256, carried in the state machine's data,
/// makes a shard refuse a plan changed in the bucket; a plan of another plugin build,
/// input or account set runs nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_run_lists_the_organization_once_and_each_shard_runs_its_plan() {
    let run = deployed().await;
    // The test's own setup listed the roots once.
    let listings = || run.moto.injected().account_listings - 1;
    let plan = run
        .response(
            "plan",
            json!({"plan": {"plugin": "hello", "input": {"n": 1}, "shards": 2,
                "results": {"bucket": RESULTS, "prefix": "runs"}, "inline_plan_max_bytes": 0}}),
        )
        .await;
    assert_eq!(listings(), 1, "the plan lists it");
    assert_eq!(
        run.moto.injected().tag_listings_in_flight_max,
        0,
        "nothing reads tags: none listed (one request per account)"
    );
    assert_eq!(plan["shards"], json!(["1/2", "2/2"]));
    assert_eq!(plan["tolerated_failure_percentage"], 10.0, "the default");
    assert_eq!(plan["accounts"], 4);
    let from_plan = plan["from_plan"].clone();
    let key = from_plan["location"]["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("runs/plans/"), "{from_plan}");
    assert!(from_plan.get("document").is_none(), "{from_plan}");

    let mut reports = Vec::new();
    for shard in ["1/2", "2/2"] {
        let event = json!({"shard": shard, "from_plan": from_plan});
        let report = run.response(&shard.replace('/', "-of-"), event).await;
        assert_eq!(report["plan_hash"], plan["plan_hash"]);
        assert!(
            report["entries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["status"] == "ok"),
            "{report}"
        );
        reports.push(report);
    }
    assert_eq!(listings(), 1, "no shard listed the organization");
    let mut ran: Vec<String> = reports.iter().flat_map(ids).collect();
    ran.sort();
    assert_eq!(ran, run.members());

    // The plan changed in the bucket: refused, nothing run.
    let plan_text = object_bytes(&run.s3, RESULTS, &key).await;
    let mut changed: Value = serde_json::from_slice(&plan_text).unwrap();
    changed["accounts"].as_array_mut().unwrap().pop();
    run.put(&key, serde_json::to_vec(&changed).unwrap()).await;
    let refused = run
        .error("changed", json!({"shard": "1/2", "from_plan": from_plan}))
        .await;
    assert!(refused.contains("was changed"), "{refused}");

    // Another plan, consistent in itself (its sha256 recomputed) but not this
    // deployment's: its plan hash is not what the shard plans, so nothing runs.
    changed["input"] = "{\"n\":2}".into();
    let document = serde_json::to_string(&changed).unwrap();
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(document.as_bytes()));
    let foreign = json!({"shard": "1/2", "from_plan": {"sha256": sha256, "document": document}});
    let refused = run.error("foreign", foreign).await;
    assert!(
        refused.contains("is not the plan it was given"),
        "{refused}"
    );
    assert_eq!(listings(), 1);

    // A run selected by tag: its plan lists the tags, and selects by them.
    let plan = run
        .response(
            "by-tag",
            json!({"plan": {"plugin": "hello", "shards": 1, "tags": {"team": "blue"},
                "results": {"bucket": RESULTS}}}),
        )
        .await;
    assert_eq!(listings(), 2);
    assert_eq!(plan["accounts"], 1, "{plan}");
    let report = run
        .response(
            "by-tag-1",
            json!({"shard": "1/1", "from_plan": plan["from_plan"]}),
        )
        .await;
    assert_eq!(ids(&report), vec![run.org.in_apps.clone()]);
    assert_eq!(report["entries"][0]["tags"]["team"], "blue");
}

/// A child execution as a `ResultWriter` result file lists it ("ResultWriter (Map)",
/// Step Functions Developer Guide, Transformation NONE: `Input` and `Output` as JSON
/// text).
fn child_execution(shard: &str, from_plan: &Value, status: &str, output: Option<&Value>) -> Value {
    let name = format!("shard-{}", shard.replace('/', "-of-"));
    let mut execution = json!({
        "ExecutionArn": format!("arn:aws:states:us-east-1:{HOME_ACCOUNT}:execution:xacct/Run shards:{name}"),
        "Input": json!({"shard": shard, "from_plan": from_plan}).to_string(),
        "InputDetails": {"Included": true},
        "Name": name,
        "RedriveCount": 0,
        "StartDate": "2026-12-06T23:00:00.000Z",
        "StateMachineArn": format!("arn:aws:states:us-east-1:{HOME_ACCOUNT}:stateMachine:xacct/Run shards"),
        "Status": status,
        "StopDate": "2026-12-06T23:00:05.000Z",
    });
    match output {
        Some(report) => {
            execution["Output"] = report.to_string().into();
            execution["OutputDetails"] = json!({"Included": true});
        }
        None => {
            execution["Error"] = "Lambda.Unknown".into();
            execution["Cause"] = "The Lambda function timed out after 900 seconds".into();
        }
    }
    execution
}

/// Stands for the Distributed Map's results in S3 ("ResultWriter (Map)", Step Functions
/// Developer Guide: `manifest.json` under `PREFIX/MAP-RUN-ID/`, listing `SUCCEEDED_n.json`
/// and `FAILED_n.json` by status, each an array of child executions) and its failure
/// threshold ("ToleratedFailurePercentage", "Map state in Distributed mode"): the merge
/// reads the shards' reports from there, and a failed shard's accounts are in the merged
/// report as not run, with the error Step Functions recorded — never silently fewer
/// accounts. What it reads is untrusted: a manifest pointing outside its run, a report
/// changed, an oversized manifest are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merge_reads_the_map_results_from_s3_and_lists_failed_shards() {
    let run = deployed().await;
    let plan = run
        .response(
            "plan",
            json!({"plan": {"plugin": "hello", "shards": 2, "results": {"bucket": RESULTS}}}),
        )
        .await;
    assert!(
        plan["from_plan"]["document"].is_string(),
        "a small plan travels inline"
    );
    let from_plan = &plan["from_plan"];
    let mut reports = Vec::new();
    for shard in ["1/2", "2/2"] {
        let report = run
            .response(
                &shard.replace('/', "-of-"),
                json!({"shard": shard, "from_plan": from_plan}),
            )
            .await;
        reports.push((shard, report));
    }
    // The shard with more accounts is the one that fails, so that it has some.
    reports.sort_by_key(|(_, report)| report["entries"].as_array().unwrap().len());
    let (succeeded, report) = &reports[0];
    let (failed, lost) = &reports[1];
    assert!(!ids(lost).is_empty());

    let dir = "xacct/0b5c8e4e-6d53-3a4e-9b7a-4f1d2c3b4a59/";
    let succeeded_file = json!([child_execution(
        succeeded,
        from_plan,
        "SUCCEEDED",
        Some(report)
    )]);
    let failed_file = json!([child_execution(failed, from_plan, "FAILED", None)]);
    let manifest = |succeeded_key: &str| {
        json!({
            "DestinationBucket": RESULTS,
            "MapRunArn": format!("arn:aws:states:us-east-1:{HOME_ACCOUNT}:mapRun:xacct/Run shards:0b5c8e4e-6d53-3a4e-9b7a-4f1d2c3b4a59"),
            "ResultFiles": {
                "FAILED": [{"Key": format!("{dir}FAILED_0.json"), "Size": failed_file.to_string().len()}],
                "PENDING": [],
                "SUCCEEDED": [{"Key": succeeded_key, "Size": succeeded_file.to_string().len()}],
            }
        })
    };
    run.put(
        &format!("{dir}SUCCEEDED_0.json"),
        succeeded_file.to_string().into_bytes(),
    )
    .await;
    run.put(
        &format!("{dir}FAILED_0.json"),
        failed_file.to_string().into_bytes(),
    )
    .await;
    run.put(
        &format!("{dir}manifest.json"),
        manifest(&format!("{dir}SUCCEEDED_0.json"))
            .to_string()
            .into_bytes(),
    )
    .await;
    let merge = |key: &str| json!({"merge": {"from_plan": from_plan, "results": {"Bucket": RESULTS, "Key": key}}});
    let merged = run
        .response("merge", merge(&format!("{dir}manifest.json")))
        .await;
    assert_eq!(
        ids(&merged),
        run.members(),
        "every planned account, failed or not"
    );
    for entry in merged["entries"].as_array().unwrap() {
        let id = entry["account_id"].as_str().unwrap().to_owned();
        if ids(lost).contains(&id) {
            assert_eq!(entry["status"], "error", "{entry}");
            assert_eq!(entry["error"]["kind"], "shard", "{entry}");
            let message = entry["error"]["message"].as_str().unwrap();
            assert!(
                message.starts_with(&format!("shard {failed} did not run")),
                "{message}"
            );
            assert!(
                message.contains("Lambda.Unknown") && message.contains("timed out"),
                "{message}"
            );
        } else {
            assert_eq!(entry["status"], "ok", "{entry}");
        }
    }
    assert_eq!(merged["failed_shards"][0]["shard"], *failed);
    assert_eq!(merged["plan_hash"], plan["plan_hash"]);
    assert!(
        merged["notes"].to_string().contains("did not run"),
        "{merged}"
    );

    // A manifest naming a file outside its run.
    run.put(
        "xacct/other/manifest.json",
        manifest(&format!("{dir}SUCCEEDED_0.json"))
            .to_string()
            .into_bytes(),
    )
    .await;
    let refused = run
        .error("outside", merge("xacct/other/manifest.json"))
        .await;
    assert!(refused.contains("not beside it"), "{refused}");

    // A shard's report changed in the bucket: an account of the failed shard added as
    // if it had run there.
    let mut changed = report.clone();
    let moved = lost["entries"][0].clone();
    changed["entries"].as_array_mut().unwrap().push(moved);
    let changed_file = json!([child_execution(
        succeeded,
        from_plan,
        "SUCCEEDED",
        Some(&changed)
    )]);
    run.put(
        &format!("{dir}SUCCEEDED_0.json"),
        changed_file.to_string().into_bytes(),
    )
    .await;
    let refused = run
        .error("changed", merge(&format!("{dir}manifest.json")))
        .await;
    assert!(refused.contains("does not belong to shard"), "{refused}");

    // A manifest larger than any the Map writes: refused unread.
    let mut huge = manifest(&format!("{dir}SUCCEEDED_0.json"));
    huge["Padding"] = "x".repeat(2 << 20).into();
    run.put("xacct/huge/manifest.json", huge.to_string().into_bytes())
        .await;
    let refused = run.error("huge", merge("xacct/huge/manifest.json")).await;
    assert!(refused.contains("larger than"), "{refused}");
}

/// Stands for the limit on a child execution's output ("Maximum input or output size for
/// a task, state, or execution: 256 KiB", "Step Functions service quotas"): a shard's
/// report too long for it (forced here with `inline_report_max_bytes = 0`) is written to
/// S3 under the run's prefix and the shard's output names it; the merge reads it from
/// there, and only from there — a report location elsewhere in the bucket is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_reports_too_long_for_step_functions_go_through_s3() {
    let run = deployed().await;
    let plan = run
        .response(
            "plan",
            json!({"plan": {"plugin": "hello", "shards": 2, "inline_report_max_bytes": 0,
                "results": {"bucket": RESULTS, "prefix": "big"}}}),
        )
        .await;
    let from_plan = &plan["from_plan"];
    let prefix = format!("big/reports/{}/", plan["plan_hash"].as_str().unwrap());
    let mut executions = Vec::new();
    for shard in ["1/2", "2/2"] {
        let output = run
            .response(
                &shard.replace('/', "-of-"),
                json!({"shard": shard, "from_plan": from_plan}),
            )
            .await;
        let key = output["report_location"]["key"].as_str().unwrap();
        assert!(key.starts_with(&prefix), "{output}");
        assert!(output.get("entries").is_none(), "{output}");
        executions.push(child_execution(
            shard,
            from_plan,
            "SUCCEEDED",
            Some(&output),
        ));
    }
    let dir = "big/5d1e2f3a-0000-4000-8000-000000000001/";
    let write = |executions: &Vec<Value>| {
        let file = Value::Array(executions.clone()).to_string();
        let manifest = json!({
            "DestinationBucket": RESULTS,
            "MapRunArn": format!("arn:aws:states:us-east-1:{HOME_ACCOUNT}:mapRun:xacct/Run shards:5d1e2f3a-0000-4000-8000-000000000001"),
            "ResultFiles": {
                "FAILED": [],
                "PENDING": [],
                "SUCCEEDED": [{"Key": format!("{dir}SUCCEEDED_0.json"), "Size": file.len()}],
            }
        });
        (file, manifest.to_string())
    };
    let (file, manifest) = write(&executions);
    run.put(&format!("{dir}SUCCEEDED_0.json"), file.into_bytes())
        .await;
    run.put(&format!("{dir}manifest.json"), manifest.into_bytes())
        .await;
    let merge = json!({"merge": {"from_plan": from_plan,
        "results": {"Bucket": RESULTS, "Key": format!("{dir}manifest.json")}}});
    let merged = run.response("merge", merge.clone()).await;
    assert_eq!(ids(&merged), run.members());
    assert!(
        merged["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "ok"),
        "{merged}"
    );
    assert!(merged.get("failed_shards").is_none(), "{merged}");

    // A shard's output pointing elsewhere in the bucket (here, at the manifest).
    executions[0]["Output"] = json!({"report_location": {"bucket": RESULTS,
        "key": format!("{dir}manifest.json")}})
    .to_string()
    .into();
    let (file, _) = write(&executions);
    run.put(&format!("{dir}SUCCEEDED_0.json"), file.into_bytes())
        .await;
    let refused = run.error("elsewhere", merge).await;
    assert!(refused.contains("not under the run's"), "{refused}");
}
