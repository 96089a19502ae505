//! b. and h.: many accounts through xacct against the classic handler's sequential loop.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::classic::*;
use crate::common::moto::ROLE;
use crate::common::{World, full_grants};
use crate::measure::*;
use xacct::pipeline::RunRequest;
use xacct::plan::Mode;

/// b. 50 accounts through xacct vs the classic handler in a sequential loop; then ten
/// runs in one process.
pub(crate) async fn fan_out(results: &mut Results) {
    const ACCOUNTS: usize = 50;
    let (moto, ids, home) = estate(
        300_000_000_000,
        ACCOUNTS,
        |i| format!("fan-{i:02}"),
        ("small.json", &[b'x'; 1024]),
    )
    .await;
    let (proxied, proxy_task) = behind_latency(&moto).await;
    let mut measured = Vec::new();
    for endpoint in [moto.endpoint.as_str(), proxied.as_str()] {
        let home_config = sdk_config(endpoint, home_credentials(&home)).await;
        let started = Instant::now();
        for id in &ids {
            assert_eq!(classic_handler(&home_config, id).await, 1024);
        }
        let native = started.elapsed();

        let mut text = format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{endpoint}\"\n{}",
            full_grants(&["bench"])
        );
        for (i, id) in ids.iter().enumerate() {
            text.push_str(&format!(
                "\n[[account]]\nid = \"{id}\"\nalias = \"fan-{i:02}\"\nrole = \"{ROLE}\"\n"
            ));
        }
        let home_provider =
            aws_credential_types::provider::SharedCredentialsProvider::new(home_credentials(&home));
        let world = World::with_config(&["bench"], &text, Some(home_provider));
        let request = RunRequest::new("bench", r#"{"mode": "sample"}"#, Mode::PerAccount);
        let mut runs = Vec::new();
        let mut assume_role_calls = 0;
        for _ in 0..10 {
            let started = Instant::now();
            let report = world.run_request(world.service().await, &request).await;
            runs.push(started.elapsed());
            assert!(
                report.all_ok(),
                "{:?}",
                report.entries.iter().find_map(|e| e.error.as_ref())
            );
            assume_role_calls = report.assume_role_calls.values().sum::<u64>();
        }
        measured.push((
            native,
            runs[0],
            runs[1..].iter().sum::<Duration>() / 9,
            assume_role_calls,
        ));
    }
    proxy_task.abort();
    let describe = |(native, first, warm, _): (Duration, Duration, Duration, u64)| {
        format!(
            "classic loop {:.2} s, xacct {:.2} s first run ({:.1}×), {:.2} s later runs",
            native.as_secs_f64(),
            first.as_secs_f64(),
            native.as_secs_f64() / first.as_secs_f64(),
            warm.as_secs_f64()
        )
    };
    let (loopback, network) = (measured[0], measured[1]);
    let speedup = network.0.as_secs_f64() / network.1.as_secs_f64();
    let calls = network.3;
    results.add(
        "b. fan-out over 50 accounts",
        format!(
            "moto on loopback: {}; behind {} ms of latency each way: {}; AssumeRole calls over 10 runs: {calls}",
            describe(loopback),
            ONE_WAY_LATENCY.as_millis(),
            describe(network)
        ),
        target(speedup >= 3.0 && calls == 50, "≥ 3× faster, exactly 50 AssumeRole calls"),
        json!({
            "loopback": {"native_s": loopback.0.as_secs_f64(), "xacct_first_s": loopback.1.as_secs_f64(), "xacct_warm_s": loopback.2.as_secs_f64()},
            "latency": {"one_way_ms": ONE_WAY_LATENCY.as_millis() as u64, "native_s": network.0.as_secs_f64(), "xacct_first_s": network.1.as_secs_f64(), "xacct_warm_s": network.2.as_secs_f64()},
            "speedup": speedup,
            "assume_role_calls": calls,
        }),
    );
}

/// h. 1,000 accounts on moto behind a 20 ms round trip: xacct at concurrency 64 against
/// the classic handler in a sequential loop, in the same run.
pub(crate) async fn org_scale_moto(results: &mut Results) {
    const ACCOUNTS: usize = 1_000;
    let bucket = |i: usize| format!("org-{i:04}");
    let (moto, ids, home) = estate(
        910_000_000_000,
        ACCOUNTS,
        bucket,
        ("small.json", &[b'x'; 1024]),
    )
    .await;
    let (endpoint, proxy_task) = behind_latency(&moto).await;

    let home_config = sdk_config(&endpoint, home_credentials(&home)).await;
    let started = Instant::now();
    for id in &ids {
        assert_eq!(classic_handler(&home_config, id).await, 1024);
    }
    let classic = started.elapsed();

    let mut text = format!(
        "concurrency = 64\n[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{endpoint}\"\n{}",
        full_grants(&["bench"])
    );
    for (i, id) in ids.iter().enumerate() {
        text.push_str(&format!(
            "\n[[account]]\nid = \"{id}\"\nalias = \"{}\"\nrole = \"{ROLE}\"\n",
            bucket(i)
        ));
    }
    let world = World::with_config(&["bench"], &text, Some(home.provider()));
    let request = RunRequest::new("bench", r#"{"mode": "sample"}"#, Mode::PerAccount);
    let started = Instant::now();
    let report = world.run_request(world.service().await, &request).await;
    let xacct = started.elapsed();
    proxy_task.abort();
    assert!(
        report.all_ok(),
        "{:?}",
        report.entries.iter().find_map(|e| e.error.as_ref())
    );
    assert_eq!(report.entries.len(), ACCOUNTS);
    let speedup = classic.as_secs_f64() / xacct.as_secs_f64();
    results.add(
        "h. 1,000 accounts on moto, 20 ms RTT, concurrency 64",
        format!(
            "classic loop {:.1} s, xacct {:.1} s ({speedup:.1}×); {:.1} ms per account for xacct",
            classic.as_secs_f64(),
            xacct.as_secs_f64(),
            xacct.as_secs_f64() * 1e3 / ACCOUNTS as f64
        ),
        target(speedup >= 3.0, "≥ 3× faster than the sequential loop"),
        json!({"accounts": ACCOUNTS, "classic_s": classic.as_secs_f64(), "xacct_s": xacct.as_secs_f64(), "speedup": speedup, "one_way_ms": ONE_WAY_LATENCY.as_millis() as u64}),
    );
}
