//! d., e. and f.: cold start, memory per instance, and host memory under hostile plugins.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::classic::*;
use crate::common::moto::{self, Moto, ROLE};
use crate::common::{ConfigBuilder, World};
use crate::measure::*;
use xacct::pipeline::RunRequest;
use xacct::plan::Mode;

/// d. Process start to first result, with and without the compiled-component cache.
pub(crate) fn cold_start(results: &mut Results) {
    let world = World::new(&["bench"], "");
    let cache = world.dir.path().join("cache");
    let start = |fresh: bool| {
        if fresh {
            let _ = std::fs::remove_dir_all(&cache);
        }
        let started = Instant::now();
        let output = world
            .xacct()
            .args([
                "run",
                "bench",
                "--account",
                "dev",
                "--output",
                "json",
                "--input",
                r#"{"mode": "noop"}"#,
            ])
            .env("XDG_CACHE_HOME", &cache)
            .output();
        let elapsed = started.elapsed();
        assert!(output.success(), "{}", output.stderr);
        elapsed
    };
    let uncached: Vec<Duration> = (0..7).map(|_| start(true)).collect();
    start(false);
    let cached: Vec<Duration> = (0..7).map(|_| start(false)).collect();
    let (uncached, _) = median_p99(uncached);
    let (cached, _) = median_p99(cached);
    let ratio = uncached / cached;
    results.add(
        "d. cold start (process start to first result)",
        format!(
            "without cache {:.1} ms, with cache {:.1} ms ({ratio:.1}× faster)",
            uncached / 1000.0,
            cached / 1000.0
        ),
        target(ratio >= 20.0, "cached ≥ 20× faster"),
        json!({"uncached_ms": uncached / 1000.0, "cached_ms": cached / 1000.0, "ratio": ratio}),
    );
}

/// e. Memory per concurrent plugin instance.
pub(crate) async fn concurrent_instances(results: &mut Results) {
    const INSTANCES: usize = 256;
    let config = ConfigBuilder::local("data")
        .top_level("concurrency", INSTANCES as i64)
        .full_grants(&["bench"])
        .accounts((0..INSTANCES).map(|i| (500_000_000_000u64 + i as u64, format!("i{i:03}"))));
    let world = World::with_config(&["bench"], &config, None);
    std::fs::create_dir_all(world.data()).unwrap();
    // Warm up: the engine, the compiled plugin, one instance.
    let warm = RunRequest::new("bench", r#"{"mode": "noop"}"#, Mode::PerAccount);
    world.run_request(world.service().await, &warm).await;
    let baseline = rss_mib();
    let sampler = PeakSampler::start();
    let request = RunRequest::new(
        "bench",
        r#"{"mode": "sleep", "ms": 3000}"#,
        Mode::PerAccount,
    );
    let report = world.run_request(world.service().await, &request).await;
    let peak = sampler.stop();
    assert!(report.all_ok());
    assert_eq!(report.entries.len(), INSTANCES);
    let per_instance = (peak - baseline) / INSTANCES as f64;
    results.add(
        "e. 256 concurrent plugin instances",
        format!("host RSS {baseline:.0} MiB idle, {peak:.0} MiB with 256 instances: {per_instance:.2} MiB per instance"),
        target(per_instance <= 4.0, "≤ 4 MiB per instance"),
        json!({"baseline_mib": baseline, "peak_mib": peak, "per_instance_mib": per_instance}),
    );
}

/// f. Plugins that try to exhaust the host's memory, 16 at once at the default limits on
/// the AWS backend (moto): each opens as many object streams as it can and reads none,
/// then starts as many uploads as it can, writes 7 MiB to each and finishes none. Peak
/// host RSS against the idle baseline of the same process.
pub(crate) async fn hostile_memory(results: &mut Results) {
    const INVOCATIONS: usize = 16;
    let moto = Moto::start();
    let ids: Vec<String> = (0..INVOCATIONS)
        .map(|i| (600_000_000_000u64 + i as u64).to_string())
        .collect();
    let bucket = |i: usize| format!("hoard-{i:02}");
    let home = moto::seed_accounts(&moto, &ids, bucket).await;
    put_in_each(&moto, &ids, bucket, "object", &vec![7u8; 4 << 20]).await;
    let config = ConfigBuilder::aws(&moto.endpoint)
        .top_level("concurrency", INVOCATIONS as i64)
        .full_grants(&["s3script"])
        .accounts(
            ids.iter()
                .enumerate()
                .map(|(i, id)| (id, format!("h{i:02}"))),
        )
        .role_everywhere(ROLE);
    let world = World::with_config(&["s3script"], &config, Some(home.provider()));
    moto.enforce_iam();
    let warm = RunRequest::new("s3script", r#"{"steps": []}"#, Mode::PerAccount);
    world.run_request(world.service().await, &warm).await;
    let baseline = rss_mib();
    let sampler = PeakSampler::start();
    let mib = "h".repeat(1 << 20);
    let started = Instant::now();
    let runs = ids.iter().enumerate().map(|(i, id)| {
        let steps = json!([
            {"op": "hoard_streams", "bucket": bucket(i), "key": "object", "repeat": 900},
            {"op": "hoard_uploads", "bucket": bucket(i), "key": "u", "body": mib, "size": 7, "repeat": 200},
        ]);
        let mut request = RunRequest::new(
            "s3script",
            &json!({ "steps": steps }).to_string(),
            Mode::PerAccount,
        );
        request.selection.accounts = vec![id.clone()];
        let world = &world;
        async move { world.run_request(world.service().await, &request).await }
    });
    let reports = futures::future::join_all(runs).await;
    let elapsed = started.elapsed();
    let peak = sampler.stop();
    let kinds: Vec<String> = reports
        .iter()
        .map(|report| match &report.entries[0].error {
            Some(error) => error.kind.clone(),
            None => "ok".to_owned(),
        })
        .collect();
    results.add(
        "f. 16 hostile invocations against host memory",
        format!(
            "host RSS {baseline:.0} MiB idle, peak {peak:.0} MiB while 16 plugins hoarded streams and unfinished 7 MiB uploads; all ended in {:.1} s as {:?}",
            elapsed.as_secs_f64(),
            kinds.iter().collect::<std::collections::BTreeSet<_>>()
        ),
        target(peak <= 512.0, "peak RSS ≤ 512 MiB"),
        json!({"baseline_mib": baseline, "peak_mib": peak, "seconds": elapsed.as_secs_f64(), "outcomes": kinds}),
    );
}
