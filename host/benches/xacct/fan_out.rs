//! b. and h.: many accounts through xacct against the classic handler's sequential loop.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::classic::*;
use crate::common::moto::{self, Moto, ROLE};
use crate::common::{ConfigBuilder, World};
use crate::measure::*;
use xacct::pipeline::RunRequest;
use xacct::plan::Mode;

/// b. 50 accounts through xacct vs the classic handler in a sequential loop; then ten
/// runs in one process.
pub(crate) async fn fan_out(results: &mut Results) {
    const ACCOUNTS: usize = 50;
    let moto = Moto::start();
    let ids: Vec<String> = (0..ACCOUNTS)
        .map(|i| (300_000_000_000u64 + i as u64).to_string())
        .collect();
    let bucket = |i: usize| format!("fan-{i:02}");
    let home = moto::seed_accounts(&moto, &ids, bucket).await;
    put_in_each(&moto, &ids, bucket, "small.json", &[b'x'; 1024]).await;
    moto.enforce_iam();
    let (proxied, proxy_task) = behind_latency(&moto).await;
    let mut measured = Vec::new();
    for endpoint in [moto.endpoint.as_str(), proxied.as_str()] {
        let home_config = sdk_config(endpoint, home_credentials(&home)).await;
        let started = Instant::now();
        for id in &ids {
            assert_eq!(classic_handler(&home_config, id).await, 1024);
        }
        let native = started.elapsed();

        let config = ConfigBuilder::aws(endpoint)
            .full_grants(&["bench"])
            .accounts(
                ids.iter()
                    .enumerate()
                    .map(|(i, id)| (id, format!("fan-{i:02}"))),
            )
            .role_everywhere(ROLE);
        let home_provider =
            aws_credential_types::provider::SharedCredentialsProvider::new(home_credentials(&home));
        let world = World::with_config(&["bench"], &config, Some(home_provider));
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
    let moto = Moto::start();
    let ids: Vec<String> = (0..ACCOUNTS)
        .map(|i| (910_000_000_000u64 + i as u64).to_string())
        .collect();
    let bucket = |i: usize| format!("org-{i:04}");
    let home = moto::seed_accounts(&moto, &ids, bucket).await;
    put_in_each(&moto, &ids, bucket, "small.json", &[b'x'; 1024]).await;
    moto.enforce_iam();
    let (endpoint, proxy_task) = behind_latency(&moto).await;

    let home_config = sdk_config(&endpoint, home_credentials(&home)).await;
    let started = Instant::now();
    for id in &ids {
        assert_eq!(classic_handler(&home_config, id).await, 1024);
    }
    let classic = started.elapsed();

    let config = ConfigBuilder::aws(&endpoint)
        .top_level("concurrency", 64)
        .full_grants(&["bench"])
        .accounts(ids.iter().enumerate().map(|(i, id)| (id, bucket(i))))
        .role_everywhere(ROLE);
    let world = World::with_config(&["bench"], &config, Some(home.provider()));
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
