//! Stopping a run: a signal stops every new invocation, cancels the running ones with
//! their uploads aborted, and still writes the whole report; a closed stdout ends a run
//! quietly.

use crate::common;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::moto::{self, Moto};
use common::{World, full_grants};
use serde_json::Value;

/// A local world of `n` accounts, each with bucket `bkt`.
fn accounts(n: usize, guests: &[&str]) -> World {
    let mut text = format!("[local]\nroot = \"data\"\n{}", full_grants(guests));
    for i in 0..n {
        text.push_str(&format!(
            "\n[[account]]\nid = \"{}\"\nalias = \"acct-{i:03}\"\n",
            100_000_000_000u64 + i as u64
        ));
    }
    let world = World::with_config(guests, &text, None);
    for i in 0..n {
        world.bucket(&(100_000_000_000u64 + i as u64).to_string(), "bkt");
    }
    world
}

fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xacct"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("XACCT_CONFIG")
        .env_remove("RUST_LOG")
        .env(
            "XDG_CACHE_HOME",
            common::target_dir().join("xacct-test-cache-cli"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    command.spawn().unwrap()
}

fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits until `ready` holds, for up to a minute.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn report_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The accounts whose object `bkt/written` exists.
fn written(world: &World, n: usize) -> usize {
    (0..n)
        .filter(|i| {
            world
                .data()
                .join(format!("{}/bkt/written", 100_000_000_000u64 + *i as u64))
                .exists()
        })
        .count()
}

/// 200 accounts at concurrency 4, each invocation writing an object as it starts and
/// then running on: once the second wave has written, a SIGTERM must let no queued
/// invocation start (before the fix, the slots the cancelled ones freed went to queued
/// invocations, which then wrote).
#[test]
fn after_a_stop_no_invocation_starts_and_the_report_is_complete() {
    const N: usize = 200;
    let world = accounts(N, &["misbehave"]);
    let child = spawn(
        world.dir.path(),
        &[
            "run",
            "misbehave",
            "--concurrency",
            "4",
            "--timeout",
            "3",
            "--output",
            "json",
            "--audit",
            "audit.jsonl",
            "--out-dir",
            "out",
            "--input",
            r#"{"mode": "write-then-spin"}"#,
        ],
        &[],
    );
    // The first wave runs out its 3 s; the second starts, writes, and runs on.
    wait_for("the second wave's writes", || written(&world, N) >= 8);
    std::thread::sleep(Duration::from_millis(500));
    let before = written(&world, N);
    assert_eq!(before, 8, "one wave of 4 at a time");
    signal(&child, "TERM");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(143), "{stderr}");
    assert_eq!(written(&world, N), before, "no write after the stop");

    let report = report_of(&output);
    let entries = report["entries"].as_array().unwrap();
    assert_eq!(entries.len(), N, "every account is reported");
    let kind = |kind: &str| {
        entries
            .iter()
            .filter(|e| e["error"]["kind"] == kind)
            .count()
    };
    assert_eq!(
        (kind("time-limit"), kind("cancelled"), kind("skipped")),
        (4, 4, N - 8),
        "{stderr}"
    );
    assert!(stderr.contains("SIGTERM: stopping"), "{stderr}");
    // The audit log and --out-dir are whole: a put per started invocation, a result per
    // account.
    let audit = std::fs::read_to_string(world.dir.path().join("audit.jsonl")).unwrap();
    let puts = audit
        .lines()
        .filter(|l| l.contains("\"PutObject\""))
        .count();
    assert_eq!(puts, before);
    let kept = std::fs::read_dir(world.dir.path().join("out/misbehave"))
        .unwrap()
        .count();
    assert_eq!(kept, N);
    assert!(
        common::files_below(&world.data().join(".xacct/tmp")).is_empty(),
        "no partial body is left behind"
    );
}

/// SIGINT and SIGHUP stop as SIGTERM does, each with its own exit code.
#[test]
fn each_signal_has_its_exit_code() {
    let world = accounts(3, &["misbehave"]);
    let run = |signals: &[&str]| {
        let child = spawn(
            world.dir.path(),
            &[
                "run",
                "misbehave",
                "--concurrency",
                "1",
                "--output",
                "json",
                "--input",
                r#"{"mode": "write-then-spin"}"#,
            ],
            &[],
        );
        wait_for("the first write", || written(&world, 3) >= 1);
        for name in signals {
            signal(&child, name);
            std::thread::sleep(Duration::from_millis(200));
        }
        let output = child.wait_with_output().unwrap();
        for i in 0..3 {
            let _ = std::fs::remove_file(
                world
                    .data()
                    .join(format!("{}/bkt/written", 100_000_000_000u64 + i)),
            );
        }
        output
    };
    for (name, code) in [("INT", 130), ("HUP", 129)] {
        let output = run(&[name]);
        assert_eq!(output.status.code(), Some(code), "SIG{name}");
        assert_eq!(report_of(&output)["entries"].as_array().unwrap().len(), 3);
    }
}

/// A writing plugin with a multipart upload open in each running account, on moto: after
/// the stop, no upload is left open and no object was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_on_aws_leaves_no_multipart_upload_open() {
    const N: usize = 8;
    let moto = Moto::start();
    let ids: Vec<String> = (0..N)
        .map(|i| (210_000_000_000u64 + i as u64).to_string())
        .collect();
    let home = moto::seed_accounts(&moto, &ids, |i| format!("stop-{i:03}")).await;
    let mut text = format!(
        "plugins = \"plugins\"\n[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n{}",
        moto.endpoint,
        full_grants(&["misbehave"])
    );
    for (i, id) in ids.iter().enumerate() {
        text.push_str(&format!(
            "\n[[account]]\nid = \"{id}\"\nalias = \"aws-{i:03}\"\nrole = \"{}\"\n",
            moto::ROLE
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    std::fs::copy(
        common::guest("misbehave"),
        dir.path().join("plugins/misbehave.wasm"),
    )
    .unwrap();
    std::fs::write(dir.path().join("xacct.toml"), text).unwrap();
    let mut clients = Vec::new();
    for id in &ids {
        clients.push(moto.s3_in(id).await);
    }
    let open_uploads = async |clients: &[aws_sdk_s3::Client]| {
        let mut open = 0;
        for (i, client) in clients.iter().enumerate() {
            let listed = client
                .list_multipart_uploads()
                .bucket(format!("stop-{i:03}"))
                .send()
                .await
                .unwrap();
            open += listed.uploads().len();
        }
        open
    };

    let env = [
        ("AWS_ACCESS_KEY_ID", home.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", home.secret_access_key.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let no_file = dir.path().join("none");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xacct"));
    child
        .args([
            "run",
            "misbehave",
            "--concurrency",
            "4",
            "--output",
            "json",
            "--input",
            // Past one part (8 MiB): each running invocation has a multipart upload open.
            r#"{"mode": "put-then-spin", "bucket": "*", "size": 9437184}"#,
        ])
        .current_dir(dir.path())
        .env_remove("XACCT_CONFIG")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", &no_file)
        .env("AWS_SHARED_CREDENTIALS_FILE", &no_file)
        .env(
            "XDG_CACHE_HOME",
            common::target_dir().join("xacct-test-cache-cli"),
        )
        .envs(env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = child.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while open_uploads(&clients).await < 4 {
        assert!(Instant::now() < deadline, "no upload was opened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    signal(&child, "TERM");
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(143), "{stderr}");
    let report = report_of(&output);
    let kinds: Vec<&str> = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["error"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "cancelled").count(),
        4,
        "{kinds:?}"
    );
    assert_eq!(kinds.iter().filter(|k| **k == "skipped").count(), N - 4);
    assert_eq!(open_uploads(&clients).await, 0, "every upload was aborted");
    assert!(report.get("orphaned_uploads").is_none());
}

/// `| head -1` closes stdout early: whatever the format, the run ends without a panic;
/// a stream cut short exits 141 and starts nothing more.
#[test]
fn a_closed_stdout_ends_the_run_quietly_in_every_format() {
    // More JSON lines than a pipe buffers, so that the stream outlives its reader.
    const N: usize = 400;
    let world = accounts(N, &["hello"]);
    for output in ["table", "json", "jsonl"] {
        let mut child = spawn(
            world.dir.path(),
            &["run", "hello", "--concurrency", "2", "--output", output],
            &[],
        );
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 1];
        if output == "jsonl" {
            stdout.read_exact(&mut first).unwrap();
        }
        drop(stdout);
        let result = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(!stderr.contains("panicked"), "{output}: {stderr}");
        let expected = if output == "jsonl" { 141 } else { 0 };
        assert_eq!(result.status.code(), Some(expected), "{output}: {stderr}");
        assert!(
            !stderr.contains("failed ("),
            "{output}: a reader that left gets no recap: {stderr}"
        );
    }
}
