//! Issue 17, "The Lambda runtime writes no audit log (`Deployment::handle` never sets
//! one), and always uses one fixed scratch directory under the temp dir for the compile
//! cache", and the Lambda merge event taking tampered shard reports as the CLI did.
//!
//! Defences these need (issue 17, Deliver 9 and 2): the function writes one JSON line per
//! S3 call to its log stream (stdout or stderr, which Lambda collects) — the very line the
//! CLI's `--audit` writes for the same call — unless the config names an S3 location for
//! it; its scratch directory is private (created 0700, fresh, with an unpredictable name)
//! per execution environment, never a fixed path under the temp directory; and its merge
//! event refuses what `xacct report merge` refuses.
//!
//! The function is the real `xacct-lambda` binary, served by the stand-in Runtime API
//! (`aws::lambda`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use super::lambda::{Answer, RuntimeApi, precompile, start_function};
use crate::common;
use common::{ConfigBuilder, World};

/// The deployment package: the `s3script` guest granted everything over two local
/// accounts, each with bucket `bkt`, and the plugin compiled ahead of time.
fn package() -> World {
    let config = ConfigBuilder::local("data")
        .full_grants(&["s3script"])
        .account("810000000000", "l-0")
        .account("810000000001", "l-1");
    let package = World::with_config(&["s3script"], &config, None);
    for id in ["810000000000", "810000000001"] {
        package.bucket(id, "bkt");
    }
    precompile(package.dir.path());
    package
}

/// The audit lines among `text`'s lines, without their times.
fn audit_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
        .filter(|value| value.get("operation").is_some() && value.get("outcome").is_some())
        .map(|mut line| {
            let fields = line.as_object_mut().unwrap();
            fields.remove("time");
            fields.remove("duration_ms");
            line
        })
        .collect()
}

fn steps() -> Value {
    json!({"steps": [
        {"op": "put", "bucket": "bkt", "key": "from-lambda.txt", "body": "x"},
        {"op": "get", "bucket": "bkt", "key": "from-lambda.txt"},
        {"op": "list", "bucket": "bkt"},
        {"op": "delete", "bucket": "bkt", "key": "from-lambda.txt"},
    ]})
}

/// The function's audit: each S3 call of an invocation, on its log stream, as the very
/// line the CLI's `--audit` writes for it (time and duration aside). Today: none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_audits_every_call_to_its_log_stream() {
    let package = package();
    let root = package.dir.path();
    let cli = package
        .xacct()
        .args(["run", "s3script", "--account", "l-0"])
        .args([
            "--audit",
            "cli-audit.jsonl",
            "--input",
            &steps().to_string(),
        ])
        .output();
    assert!(cli.success(), "{cli:?}");
    let expected = audit_lines(&std::fs::read_to_string(root.join("cli-audit.jsonl")).unwrap());
    assert_eq!(expected.len(), 4, "{expected:?}");

    let api = Arc::new(RuntimeApi::default());
    let address = api.clone().serve().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut function = start_function(address, root, tmp.path(), &[]);
    api.invoke(
        "run",
        json!({"plugin": "s3script", "input": steps(), "accounts": ["l-0"]}),
    );
    let answer = api.answer_to("run").await;
    function.kill().unwrap();
    let output = function.wait_with_output().unwrap();
    let Answer::Response(report) = answer else {
        panic!("the run failed: {answer:?}");
    };
    assert_eq!(report["entries"][0]["status"], "ok", "{report}");
    let mut logged = audit_lines(&String::from_utf8_lossy(&output.stdout));
    logged.extend(audit_lines(&String::from_utf8_lossy(&output.stderr)));
    assert_eq!(
        logged, expected,
        "one audit line per call, as the CLI writes it"
    );
}

/// Two execution environments sharing a temporary directory in which `xacct` is a
/// planted link: each works in a private directory of its own (0700, created fresh),
/// and nothing is written through the link. Today both use `$TMPDIR/xacct`, following it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_environment_works_in_a_private_scratch_directory() {
    let package = package();
    let root = package.dir.path();
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, tmp.path().join("xacct")).unwrap();
    let before = entries(tmp.path());

    let api = Arc::new(RuntimeApi::default());
    let address = api.clone().serve().await;
    // One environment after the other, each serving an invocation.
    for id in ["first", "second"] {
        let mut function = start_function(address, root, tmp.path(), &[]);
        api.invoke(
            id,
            json!({"plugin": "s3script", "input": steps(), "accounts": ["l-0"]}),
        );
        let answer = api.answer_to(id).await;
        function.kill().unwrap();
        function.wait().unwrap();
        let Answer::Response(report) = answer else {
            panic!("{id}: {answer:?}");
        };
        assert_eq!(report["entries"][0]["status"], "ok", "{report}");
    }

    assert_eq!(
        entries(&elsewhere),
        Vec::<PathBuf>::new(),
        "written through the planted link"
    );
    let fresh: Vec<PathBuf> = entries(tmp.path())
        .into_iter()
        .filter(|path| !before.contains(path))
        .collect();
    assert_eq!(
        fresh.len(),
        2,
        "one scratch directory per environment: {fresh:?}"
    );
    for dir in fresh {
        let meta = std::fs::symlink_metadata(&dir).unwrap();
        assert!(meta.is_dir(), "{}", dir.display());
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o700,
            "{}",
            dir.display()
        );
    }
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    entries
}
