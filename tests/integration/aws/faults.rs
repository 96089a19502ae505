//! AWS's faults, injected by the shim in front of moto on deterministic schedules: STS
//! throttling (in STS's own XML), S3 `SlowDown`, connections closed in the middle of a
//! large body, `ExpiredToken` for credentials mid-run, and a refused
//! `AbortMultipartUpload`. Each costs time, never an account or a byte, and the report's
//! counters match what was injected.

use crate::common;
use common::moto::{self, Home, Moto, ROLE};
use common::shim::Faults;
use common::{World, full_grants, ok, step_error, step_ok};
use serde_json::{Value, json};
use xacct::aws::stats::CallStats;
use xacct::plan::Mode;
use xacct::report::Report;

const ACCOUNTS: usize = 12;
const OBJECT_BYTES: usize = 3 << 20;

/// The bytes of object `n` of account `i`: distinct everywhere, so a mixed-up or shifted
/// copy cannot pass for the original.
fn object(i: usize, n: usize) -> Vec<u8> {
    (0..OBJECT_BYTES)
        .map(|b| ((b / 7) as u8) ^ (i as u8).wrapping_mul(31) ^ (n as u8).wrapping_mul(17))
        .collect()
}

fn bucket(i: usize) -> String {
    format!("faulty-{i:02}")
}

fn ids() -> Vec<String> {
    (0..ACCOUNTS)
        .map(|i| (800_000_000_000u64 + i as u64).to_string())
        .collect()
}

/// Twelve accounts, each with a bucket holding two 3 MiB objects and a small one.
async fn estate(extra: &str) -> (Moto, Home, World) {
    let moto = Moto::start();
    let ids = ids();
    let home = moto::seed_accounts(&moto, &ids, bucket).await;
    for (i, id) in ids.iter().enumerate() {
        let s3 = moto.s3_in(id).await;
        for n in 0..2 {
            s3.put_object()
                .bucket(bucket(i))
                .key(format!("data/big-{n}"))
                .body(object(i, n).into())
                .send()
                .await
                .unwrap();
        }
        s3.put_object()
            .bucket(bucket(i))
            .key("data/small")
            .body(b"small".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let mut config = format!(
        "concurrency = 6\n[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n{extra}{}",
        moto.endpoint,
        full_grants(&["hello", "inventory", "replicate", "s3script"])
    );
    for (i, id) in ids.iter().enumerate() {
        config.push_str(&format!(
            "\n[[account]]\nid = \"{id}\"\nalias = \"f{i:02}\"\nrole = \"{ROLE}\"\n"
        ));
    }
    let world = World::with_config(
        &["hello", "inventory", "replicate", "s3script"],
        &config,
        Some(home.provider()),
    );
    moto.enforce_iam();
    (moto, home, world)
}

fn totals(report: &Report) -> CallStats {
    let mut total = CallStats::default();
    for stats in report.call_stats.values() {
        total.add(*stats);
    }
    total
}

/// The four faults of the issue at its rates: every 2nd AssumeRole throttled, every 4th
/// S3 request slowed down, every 2nd large GET cut after 64 KiB, and each account's
/// credentials declared expired once, mid-run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_resets_and_expiry_cost_no_account_and_no_byte() {
    let (moto, home, world) = estate("").await;
    moto.inject(Faults {
        sts_throttle_every: 2,
        s3_slowdown_every: 4,
        reset_large_get_every: 2,
        expire_each_account_at: 3,
        ..Faults::default()
    });

    let started = std::time::Instant::now();
    let hello = world.run("hello", json!({}), Mode::PerAccount).await;
    eprintln!("hello: {:?}", started.elapsed());
    assert!(
        hello.all_ok(),
        "{:?}",
        hello.entries.iter().map(|e| &e.error).collect::<Vec<_>>()
    );
    let inventory = world.run("inventory", json!({}), Mode::PerAccount).await;
    eprintln!("inventory: {:?}", started.elapsed());
    for entry in &inventory.entries {
        let output = ok(entry);
        assert_eq!(output["objects"], 3, "{output}");
        assert_eq!(output["bytes"], 2 * OBJECT_BYTES as u64 + 5, "{output}");
    }
    let ids = ids();
    let replicate = world
        .run(
            "replicate",
            json!({
                "source": {"account": ids[0], "bucket": bucket(0)},
                "target": {"account": ids[1], "bucket": bucket(1)},
                "prefix": "data/",
                "target_prefix": "copied/",
            }),
            Mode::AllAccounts,
        )
        .await;
    eprintln!("replicate: {:?}", started.elapsed());
    let output = ok(&replicate.entries[0]);
    assert_eq!(output["copied"], 3, "{output}");

    let injected = moto.injected();
    moto.inject(Faults::default());
    assert!(
        injected.sts_throttles > 0
            && injected.slowdowns > 0
            && injected.resets > 0
            && injected.expirations > 0,
        "every kind of fault was injected: {injected:?}"
    );
    // The report counts exactly what was injected (the process's counters are
    // cumulative, so the last report holds them all).
    let counted = totals(&replicate);
    assert_eq!(
        counted.throttled,
        u64::from(injected.sts_throttles + injected.slowdowns),
        "{counted:?} {injected:?}"
    );
    assert_eq!(
        counted.resumes,
        u64::from(injected.resets),
        "{counted:?} {injected:?}"
    );
    assert_eq!(
        counted.refreshes,
        u64::from(injected.expirations),
        "{counted:?} {injected:?}"
    );
    assert!(counted.retries >= counted.throttled, "{counted:?}");
    assert!(
        replicate.summary().contains("AWS faults absorbed"),
        "{}",
        replicate.summary()
    );

    // Byte-exact copies, and nothing left open.
    let target = moto.s3_as_home(&home, &ids[1]).await;
    for n in 0..2 {
        let key = format!("copied/big-{n}");
        let copied = moto
            .object_as_home(&home, &ids[1], (&bucket(1), &key))
            .await;
        assert!(copied == object(0, n), "copy {n} is byte-exact");
    }
    let uploads = target
        .list_multipart_uploads()
        .bucket(bucket(1))
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty());
}

/// A read resumed after a broken connection, of an object that changed meanwhile, ends
/// with a clear error and never hands over bytes of the other version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_resumed_on_a_changed_object_fails_clearly() {
    let (moto, _home, world) = estate("").await;
    moto.inject(Faults {
        reset_large_get_every: 1,
        changed_since_read: true,
        ..Faults::default()
    });
    let ids = ids();
    let results = world
        .script(json!([{"op": "get", "account": ids[0], "bucket": bucket(0), "key": "data/big-0"}]))
        .await;
    let read = step_ok(&results[0]);
    let error = read["read_error"]
        .as_str()
        .unwrap_or_else(|| panic!("the read fails: {read}"));
    assert!(
        error.contains("the object changed while it was read"),
        "{error}"
    );
    assert!(moto.injected().preconditions >= 1);
}

/// An upload whose abort S3 refuses is reported with its bucket, key and upload id, and
/// it is really still open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_abort_is_reported_with_its_upload_id() {
    let (moto, home, world) = estate("").await;
    moto.inject(Faults {
        refuse_abort: true,
        ..Faults::default()
    });
    let ids = ids();
    let chunk = "x".repeat(1 << 20);
    let report = world
        .run(
            "s3script",
            json!({"steps": [
                {"op": "put_abandon", "account": ids[0], "bucket": bucket(0), "key": "orphan", "body": chunk, "repeat": 12},
                {"op": "head", "account": ids[0], "bucket": bucket(0), "key": "orphan"},
            ]}),
            Mode::AllAccounts,
        )
        .await;
    let results = ok(&report.entries[0])["results"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(step_error(&results[1]), "not-found");
    assert_eq!(moto.injected().refused_aborts, 1);
    moto.inject(Faults::default());
    let [orphan] = &report.orphaned_uploads[..] else {
        panic!("one orphan: {:?}", report.orphaned_uploads)
    };
    assert_eq!(
        (
            orphan.account.as_str(),
            orphan.bucket.as_str(),
            orphan.key.as_str()
        ),
        (ids[0].as_str(), bucket(0).as_str(), "orphan")
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("AbortIncompleteMultipartUpload"))
    );
    let json: Value = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["orphaned_uploads"][0]["upload_id"],
        orphan.upload_id.as_str()
    );
    let open = moto
        .s3_as_home(&home, &ids[0])
        .await
        .list_multipart_uploads()
        .bucket(bucket(0))
        .send()
        .await
        .unwrap();
    let open: Vec<&str> = open
        .uploads()
        .iter()
        .filter_map(|u| u.upload_id())
        .collect();
    assert_eq!(
        open,
        [orphan.upload_id.as_str()],
        "the reported upload is the open one"
    );
}
