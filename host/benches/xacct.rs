//! xacct's benchmarks, each a ratio against a baseline measured in the same run on the
//! same servers (this machine is shared and noisy: absolute times vary, ratios much less).
//!
//! Run with `scripts/bench` (it builds the guests and installs moto first), which runs
//! `cargo bench --bench xacct`. Results go to stdout as Markdown and to
//! `target/bench/results.json`. `XACCT_BENCH_STREAM_MIB` sets the streamed object's size
//! (default 1024); `XACCT_BENCH_ONLY=a,b` runs only some of the benchmarks. Row i (bucket
//! posture beside Cloud Custodian, `posture/`) runs only when named there, after
//! `scripts/install-c7n`.

#[path = "../../tests/integration/common/mod.rs"]
mod common;
#[path = "posture/mod.rs"]
mod posture;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use common::moto::{self, Home, Moto, ROLE, Target};
use common::{ConfigBuilder, World, Xacct};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use xacct::bindings::Account;
use xacct::capability::{Capability, RunContext};
use xacct::pipeline::RunRequest;
use xacct::plan::{Mode, Scope};

/// Results, in the order measured.
struct Results {
    rows: Vec<(String, String, String)>,
    json: serde_json::Map<String, Value>,
}

impl Results {
    fn add(&mut self, name: &str, measured: String, verdict: String, data: Value) {
        eprintln!("{name}: {measured} — {verdict}");
        self.rows.push((name.to_owned(), measured, verdict));
        self.json.insert(name.to_owned(), data);
    }
}

fn median_p99(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

fn target(met: bool, goal: &str) -> String {
    format!("{} (target {goal})", if met { "met" } else { "MISSED" })
}

/// Peak resident memory of this process since the last reset, in MiB.
fn peak_rss_mib() -> f64 {
    status_kib("VmHWM:") as f64 / 1024.0
}

fn rss_mib() -> f64 {
    status_kib("VmRSS:") as f64 / 1024.0
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Samples this process's RSS every 20 ms on its own thread, for a peak that a
/// measurement reset cannot see (other threads' allocations come and go between resets).
struct PeakSampler {
    sampling: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<f64>,
}

impl PeakSampler {
    fn start() -> PeakSampler {
        let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let thread = std::thread::spawn({
            let sampling = sampling.clone();
            move || {
                let mut peak = 0.0f64;
                while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                    peak = peak.max(rss_mib());
                    std::thread::sleep(Duration::from_millis(20));
                }
                peak
            }
        });
        PeakSampler { sampling, thread }
    }

    /// The peak RSS seen, in MiB.
    fn stop(self) -> f64 {
        self.sampling
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// Starts a new peak-RSS measurement (Linux: writing 5 to clear_refs resets VmHWM).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn mib_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / elapsed.as_secs_f64()
}

fn account(id: &str) -> Account {
    Account {
        id: id.to_owned(),
        alias: id.to_owned(),
        region: "us-east-1".to_owned(),
        tags: Vec::new(),
    }
}

async fn sdk_config(endpoint: &str, credentials: Credentials) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .load()
        .await
}

fn home_credentials(home: &Home) -> Credentials {
    Credentials::new(
        &home.access_key_id,
        &home.secret_access_key,
        None,
        None,
        "bench",
    )
}

/// What the classic Lambda handler does for one account: a new STS client, AssumeRole,
/// a new S3 client from the returned keys, then the calls.
async fn classic_handler(home: &aws_config::SdkConfig, account: &str) -> usize {
    let sts = aws_sdk_sts::Client::new(home);
    let assumed = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/{ROLE}"))
        .role_session_name("classic-handler")
        .send()
        .await
        .unwrap();
    let credentials = moto::assumed_credentials(&assumed);
    let config = aws_sdk_s3::config::Builder::from(home)
        .credentials_provider(credentials)
        .force_path_style(true)
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(config);
    let buckets = s3.list_buckets().send().await.unwrap();
    let bucket = buckets.buckets()[0].name().unwrap().to_owned();
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let key = listed.contents()[0].key().unwrap().to_owned();
    let object = s3
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    object.body.collect().await.unwrap().into_bytes().len()
}

/// a. Instantiate + call of a no-op plugin vs one HeadObject against moto.
async fn overhead(results: &mut Results) {
    let world = World::new(&["bench"], "");
    let sandbox = common::sandbox();
    let plugin = sandbox.load("bench", &common::guest("bench")).unwrap();
    let backend = world.backend().await;
    let grant = Arc::new(world.config.grant_for("bench").unwrap().clone());
    let limits = world.config.limits_for("bench");
    let context = Arc::new(RunContext {
        plugin: "bench".into(),
        sha256: plugin.sha256.clone(),
        dry_run: false,
        audit: None,
    });
    let scope = Scope::from(vec![account("111111111111")]);
    let cancel = CancellationToken::new();
    let mut samples = Vec::new();
    for round in 0..5200 {
        let capability = Capability::new(
            backend.clone(),
            scope.clone(),
            grant.clone(),
            limits,
            context.clone(),
        );
        let started = Instant::now();
        let outcome = sandbox
            .invoke(&plugin, capability, limits, r#"{"mode": "noop"}"#, &cancel)
            .await;
        let elapsed = started.elapsed();
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
        if round >= 200 {
            samples.push(elapsed);
        }
    }
    let (median, p99) = median_p99(samples);

    let moto = Moto::start();
    let s3 = moto.s3_in("111111111111").await;
    s3.create_bucket().bucket("head").send().await.unwrap();
    s3.put_object()
        .bucket("head")
        .key("k")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    let mut heads = Vec::new();
    for round in 0..320 {
        let started = Instant::now();
        s3.head_object()
            .bucket("head")
            .key("k")
            .send()
            .await
            .unwrap();
        if round >= 20 {
            heads.push(started.elapsed());
        }
    }
    let (head_median, _) = median_p99(heads);
    let ratio = median / head_median;
    results.add(
        "a. instantiate + call (no-op plugin)",
        format!("median {median:.1} µs, p99 {p99:.1} µs; HeadObject on moto median {head_median:.0} µs; ratio {:.2}%", ratio * 100.0),
        target(median <= 50.0 && ratio <= 0.01, "≤ 50 µs median and ≤ 1% of a HeadObject"),
        json!({"median_us": median, "p99_us": p99, "head_object_median_us": head_median, "ratio": ratio}),
    );
}

/// b. 50 accounts through xacct vs the classic handler in a sequential loop; then ten
/// runs in one process.
async fn fan_out(results: &mut Results) {
    const ACCOUNTS: usize = 50;
    let moto = Moto::start();
    let ids: Vec<String> = (0..ACCOUNTS)
        .map(|i| (300_000_000_000u64 + i as u64).to_string())
        .collect();
    let home = moto::seed_accounts(&moto, &ids, |i| format!("fan-{i:02}")).await;
    for (i, id) in ids.iter().enumerate() {
        let bucket = format!("fan-{i:02}");
        let s3 = moto.s3_in(id).await;
        s3.put_object()
            .bucket(bucket)
            .key("small.json")
            .body(vec![b'x'; 1024].into())
            .send()
            .await
            .unwrap();
    }
    moto.enforce_iam();

    let moto_address: std::net::SocketAddr =
        moto.endpoint.trim_start_matches("http://").parse().unwrap();
    let (proxy, proxy_task) = latency_proxy(moto_address, ONE_WAY_LATENCY).await;
    let proxied = format!("http://{proxy}");
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

/// Latency the fan-out benchmark adds each way, as a request to AWS from another region
/// would see; moto alone answers in a few milliseconds.
const ONE_WAY_LATENCY: Duration = Duration::from_millis(10);

/// A TCP proxy on 127.0.0.1 to `upstream` that holds every chunk for `delay` in each
/// direction. Stopped by aborting the returned task.
async fn latency_proxy(
    upstream: std::net::SocketAddr,
    delay: Duration,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    async fn pump(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        delay: Duration,
    ) {
        let mut buffer = vec![0; 64 << 10];
        while let Ok(n @ 1..) = from.read(&mut buffer).await {
            tokio::time::sleep(delay).await;
            if to.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((client, _)) = listener.accept().await {
            connections.spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let ((client_read, client_write), (server_read, server_write)) =
                    (client.into_split(), server.into_split());
                tokio::join!(
                    pump(client_read, server_write, delay),
                    pump(server_read, client_write, delay)
                );
            });
        }
    });
    (address, task)
}

/// Streams `size` bytes through the bench plugin: the time it took and the host's peak RSS.
async fn through_plugin(world: &World, input: Value, size: u64) -> (Duration, f64) {
    let request = RunRequest::new("bench", &input.to_string(), Mode::AllAccounts);
    reset_peak_rss();
    let started = Instant::now();
    let report = world.run_request(world.service().await, &request).await;
    let elapsed = started.elapsed();
    let entry = &report.entries[0];
    assert_eq!(common::ok(entry), &json!(size), "{:?}", entry.error);
    (elapsed, peak_rss_mib())
}

/// c. A large object through a plugin capped at 64 MiB vs native, on moto and locally.
async fn streaming(results: &mut Results) {
    let mib: u64 = std::env::var("XACCT_BENCH_STREAM_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let size = mib << 20;
    const PART: usize = 8 << 20;
    let block: Vec<u8> = (0..PART).map(|i| (i * 31 % 251) as u8).collect();

    // moto: native multipart put and streamed get, then the same through the plugin.
    let moto = Moto::start();
    let id = "400000000000";
    let home = moto::seed(
        &moto,
        &[Target {
            id,
            buckets: &["stream"],
            s3_actions: &["s3:*"],
            assumable: true,
        }],
    )
    .await;
    moto.enforce_iam();
    let s3 = moto.s3_as_home(&home, id).await;
    let started = Instant::now();
    let upload = s3
        .create_multipart_upload()
        .bucket("stream")
        .key("native")
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap().to_owned();
    let mut parts = Vec::new();
    let mut left = size;
    while left > 0 {
        let n = left.min(PART as u64) as usize;
        let number = parts.len() as i32 + 1;
        let part = s3
            .upload_part()
            .bucket("stream")
            .key("native")
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(block[..n].to_vec()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(part.e_tag().map(str::to_owned))
                .build(),
        );
        left -= n as u64;
    }
    s3.complete_multipart_upload()
        .bucket("stream")
        .key("native")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let native_put = started.elapsed();
    let started = Instant::now();
    let mut body = s3
        .get_object()
        .bucket("stream")
        .key("native")
        .send()
        .await
        .unwrap()
        .body
        .into_async_read();
    let mut sink = vec![0u8; 1 << 20];
    let mut read = 0u64;
    loop {
        match tokio::io::AsyncReadExt::read(&mut body, &mut sink)
            .await
            .unwrap()
        {
            0 => break,
            n => read += n as u64,
        }
    }
    assert_eq!(read, size);
    let native_get = started.elapsed();

    // The bench plugin reads and writes every bucket of `accounts`, with a time and
    // memory budget for a whole stream and byte budgets that never stop one.
    let streaming = |config: ConfigBuilder, accounts: &str| {
        config
            .grant(
                "bench",
                &format!("accounts = [\"{accounts}\"]\ns3 = [{{ buckets = \"*\", actions = [\"list\", \"read\", \"write\"] }}]\n"),
            )
            .limits("memory_mib = 64\ntime_secs = 3600\nread_mib = 1048576\nwrite_mib = 1048576\n")
    };
    let config = streaming(ConfigBuilder::aws(&moto.endpoint), "*")
        .account(id, "stream")
        .role(ROLE);
    let world = World::with_config(
        &["bench"],
        &config,
        Some(
            aws_credential_types::provider::SharedCredentialsProvider::new(home_credentials(&home)),
        ),
    );
    let (plugin_put, put_rss) = through_plugin(
        &world,
        json!({"mode": "write", "bucket": "stream", "key": "plugin", "size": size}),
        size,
    )
    .await;
    let (plugin_get, get_rss) = through_plugin(
        &world,
        json!({"mode": "read", "bucket": "stream", "key": "native"}),
        size,
    )
    .await;
    let ratio = |native: Duration, plugin: Duration| native.as_secs_f64() / plugin.as_secs_f64();
    let (get_ratio, put_ratio) = (ratio(native_get, plugin_get), ratio(native_put, plugin_put));
    let peak = get_rss.max(put_rss);
    results.add(
        &format!("c. streaming {mib} MiB on moto"),
        format!(
            "GET: native {:.0} MiB/s, plugin {:.0} MiB/s ({get_ratio:.2}×); PUT: native {:.0} MiB/s, plugin {:.0} MiB/s ({put_ratio:.2}×); host peak RSS {peak:.0} MiB",
            mib_per_s(size, native_get),
            mib_per_s(size, plugin_get),
            mib_per_s(size, native_put),
            mib_per_s(size, plugin_put)
        ),
        target(get_ratio >= 0.9 && put_ratio >= 0.9 && peak <= 256.0, "≥ 0.9× native, peak RSS ≤ 256 MiB"),
        json!({"mib": mib, "native_get_s": native_get.as_secs_f64(), "plugin_get_s": plugin_get.as_secs_f64(), "native_put_s": native_put.as_secs_f64(), "plugin_put_s": plugin_put.as_secs_f64(), "get_ratio": get_ratio, "put_ratio": put_ratio, "peak_rss_mib": peak}),
    );
    drop(world);
    drop(moto);

    // Local backend: the plugin vs plain file I/O on the same disk.
    // One account in scope, so the plugin's all-accounts invocation has just it.
    let config = streaming(
        ConfigBuilder::local("data").grant(
            "replicate",
            "accounts = [\"dev\"]\ns3 = [{ buckets = \"stream\", actions = [\"list\", \"read\", \"write\"] }]\n",
        ),
        "dev",
    )
    .standard_accounts();
    let world = World::with_config(&["bench", "replicate"], &config, None);
    let dir = world.data().join("111111111111/stream");
    std::fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    let mut file = std::fs::File::create(dir.join("native")).unwrap();
    let mut left = size;
    while left > 0 {
        let n = left.min(PART as u64) as usize;
        file.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    drop(file);
    let native_write = started.elapsed();
    let started = Instant::now();
    let mut file = std::fs::File::open(dir.join("native")).unwrap();
    let mut read = 0u64;
    loop {
        match file.read(&mut sink).unwrap() {
            0 => break,
            n => read += n as u64,
        }
    }
    assert_eq!(read, size);
    let native_read = started.elapsed();
    let started = Instant::now();
    std::fs::copy(dir.join("native"), dir.join("copy")).unwrap();
    let copy = started.elapsed();
    std::fs::remove_file(dir.join("copy")).unwrap();
    let (plugin_write, write_rss) = through_plugin(
        &world,
        json!({"mode": "write", "bucket": "stream", "key": "plugin", "size": size}),
        size,
    )
    .await;
    let (plugin_read, read_rss) = through_plugin(
        &world,
        json!({"mode": "read", "bucket": "stream", "key": "native"}),
        size,
    )
    .await;
    // A copy through the plugin (GET and PUT in one) against a plain file copy.
    let input = json!({"source": {"account": "dev", "bucket": "stream"}, "target": {"account": "dev", "bucket": "stream"}, "prefix": "native", "target_prefix": "replica"});
    let request = RunRequest::new("replicate", &input.to_string(), Mode::AllAccounts);
    reset_peak_rss();
    let started = Instant::now();
    let report = world.run_request(world.service().await, &request).await;
    let plugin_copy = started.elapsed();
    let copy_rss = peak_rss_mib();
    assert_eq!(common::ok(&report.entries[0])["bytes"], json!(size));
    let copy_ratio = ratio(copy, plugin_copy);
    let (read_ratio, write_ratio) = (
        ratio(native_read, plugin_read),
        ratio(native_write, plugin_write),
    );
    let peak = read_rss.max(write_rss).max(copy_rss);
    results.add(
        &format!("c. streaming {mib} MiB on the local backend"),
        format!(
            "copy: plain {:.0} MiB/s, through replicate {:.0} MiB/s ({copy_ratio:.2}×); GET: plain read {:.0} MiB/s, plugin {:.0} MiB/s ({read_ratio:.2}×); PUT: plain write {:.0} MiB/s, plugin {:.0} MiB/s ({write_ratio:.2}×); host peak RSS {peak:.0} MiB",
            mib_per_s(size, copy),
            mib_per_s(size, plugin_copy),
            mib_per_s(size, native_read),
            mib_per_s(size, plugin_read),
            mib_per_s(size, native_write),
            mib_per_s(size, plugin_write)
        ),
        target(copy_ratio >= 0.9 && peak <= 256.0, "≥ 0.9× plain file copy, peak RSS ≤ 256 MiB"),
        json!({"mib": mib, "plain_copy_s": copy.as_secs_f64(), "plugin_copy_s": plugin_copy.as_secs_f64(), "copy_ratio": copy_ratio, "plain_read_s": native_read.as_secs_f64(), "plugin_read_s": plugin_read.as_secs_f64(), "plain_write_s": native_write.as_secs_f64(), "plugin_write_s": plugin_write.as_secs_f64(), "read_ratio": read_ratio, "write_ratio": write_ratio, "peak_rss_mib": peak}),
    );
}

/// d. Process start to first result, with and without the compiled-component cache.
fn cold_start(results: &mut Results) {
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
async fn concurrent_instances(results: &mut Results) {
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

/// Puts `body` as `key` into the bucket `bucket(i)` of the i-th of `ids`, as that account
/// (before IAM is enforced).
async fn put_in_each(
    moto: &Moto,
    ids: &[String],
    bucket: impl Fn(usize) -> String,
    key: &str,
    body: &[u8],
) {
    for (i, id) in ids.iter().enumerate() {
        moto.s3_in(id)
            .await
            .put_object()
            .bucket(bucket(i))
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap();
    }
}

/// f. Plugins that try to exhaust the host's memory, 16 at once at the default limits on
/// the AWS backend (moto): each opens as many object streams as it can and reads none,
/// then starts as many uploads as it can, writes 7 MiB to each and finishes none. Peak
/// host RSS against the idle baseline of the same process.
async fn hostile_memory(results: &mut Results) {
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

/// The peak resident memory of process `pid` so far (VmHWM), in MiB.
fn peak_rss_of(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// `xacct run` as a process: its wall time and its peak RSS (sampled every 5 ms; VmHWM
/// only grows, so the last sample is the peak but for the last few ms).
fn timed_run(dir: &std::path::Path, args: &[&str]) -> (Duration, f64, Value) {
    let started = Instant::now();
    // The log is not read: to /dev/null, so that it never fills a pipe and stalls the run.
    let mut child = Xacct::in_dir(dir)
        .args(args)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .command()
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        stdout.read_to_end(&mut text).unwrap();
        text
    });
    let mut peak = 0.0f64;
    while child.try_wait().unwrap().is_none() {
        peak = peak.max(peak_rss_of(child.id()));
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    let report: Value = serde_json::from_slice(&reader.join().unwrap()).unwrap();
    (elapsed, peak, report)
}

/// g. 1,000 and 10,000 accounts on the local backend, end to end through `xacct run` as
/// a process (config, plan, fan-out, report, audit log, out-dir): each account's
/// invocation lists its bucket and reads a 1 KiB object.
fn org_scale_local(results: &mut Results) {
    let mut measured = Vec::new();
    for accounts in [1_000u64, 10_000] {
        let config = ConfigBuilder::local("data")
            .full_grants(&["bench"])
            .accounts((0..accounts).map(|i| (900_000_000_000 + i, format!("org-{i:05}"))));
        let world = World::with_config(&["bench"], &config, None);
        for i in 0..accounts {
            world.put_file(
                &(900_000_000_000 + i).to_string(),
                "bkt",
                "small.json",
                vec![b'x'; 1024],
            );
        }
        let args = [
            "run",
            "bench",
            "--input",
            r#"{"mode": "sample"}"#,
            "--output",
            "json",
            "--audit",
            "audit.jsonl",
            "--out-dir",
            "out",
        ];
        // The first run compiles the plugin into the cache; the second is measured.
        timed_run(world.dir.path(), &args);
        let (elapsed, peak, report) = timed_run(world.dir.path(), &args);
        let entries = report["entries"].as_array().unwrap();
        assert_eq!(entries.len() as u64, accounts);
        assert!(entries.iter().all(|e| e["status"] == "ok"));
        let invocations_ms: u64 = entries
            .iter()
            .map(|e| e["duration_ms"].as_u64().unwrap())
            .sum();
        measured.push((accounts, elapsed, peak, invocations_ms));
    }
    let (small, large) = (measured[0], measured[1]);
    let ratio = large.1.as_secs_f64() / small.1.as_secs_f64();
    let per_account = |(accounts, elapsed, _, _): (u64, Duration, f64, u64)| {
        elapsed.as_secs_f64() * 1e6 / accounts as f64
    };
    let describe = |row: (u64, Duration, f64, u64)| {
        format!(
            "{} accounts {:.2} s ({:.0} µs per account, peak RSS {:.0} MiB)",
            row.0,
            row.1.as_secs_f64(),
            per_account(row),
            row.2
        )
    };
    results.add(
        "g. 1,000 and 10,000 accounts on the local backend",
        format!(
            "{}; {}; 10k/1k time ratio {ratio:.2}",
            describe(small),
            describe(large)
        ),
        target(ratio <= 11.0, "10k/1k time ratio ≤ 11"),
        json!({
            "rows": measured.iter().map(|row| json!({
                "accounts": row.0, "wall_s": row.1.as_secs_f64(), "per_account_us": per_account(*row),
                "peak_rss_mib": row.2, "invocations_ms_total": row.3,
            })).collect::<Vec<_>>(),
            "ratio": ratio,
        }),
    );
}

/// h. 1,000 accounts on moto behind a 20 ms round trip: xacct at concurrency 64 against
/// the classic handler in a sequential loop, in the same run.
async fn org_scale_moto(results: &mut Results) {
    const ACCOUNTS: usize = 1_000;
    let moto = Moto::start();
    let ids: Vec<String> = (0..ACCOUNTS)
        .map(|i| (910_000_000_000u64 + i as u64).to_string())
        .collect();
    let bucket = |i: usize| format!("org-{i:04}");
    let home = moto::seed_accounts(&moto, &ids, bucket).await;
    put_in_each(&moto, &ids, bucket, "small.json", &vec![b'x'; 1024]).await;
    moto.enforce_iam();
    let moto_address: std::net::SocketAddr =
        moto.endpoint.trim_start_matches("http://").parse().unwrap();
    let (proxy, proxy_task) = latency_proxy(moto_address, ONE_WAY_LATENCY).await;
    let endpoint = format!("http://{proxy}");

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

fn main() {
    // `cargo bench` passes `--bench`; there are no other options.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut results = Results {
        rows: Vec::new(),
        json: serde_json::Map::new(),
    };
    // `XACCT_BENCH_ONLY=a,c` runs just those (e.g. under a profiler).
    let only = std::env::var("XACCT_BENCH_ONLY").unwrap_or_else(|_| "a,b,c,d,e,f,g,h".into());
    let wanted = |name: &str| only.split(',').any(|w| w.trim() == name);
    if wanted("g") {
        org_scale_local(&mut results);
    }
    runtime.block_on(async {
        if wanted("a") {
            overhead(&mut results).await;
        }
        if wanted("b") {
            fan_out(&mut results).await;
        }
        if wanted("c") {
            streaming(&mut results).await;
        }
        if wanted("e") {
            concurrent_instances(&mut results).await;
        }
        if wanted("f") {
            hostile_memory(&mut results).await;
        }
        if wanted("h") {
            org_scale_moto(&mut results).await;
        }
        if wanted("i") {
            posture::side_by_side(&mut results).await;
        }
    });
    if wanted("d") {
        cold_start(&mut results);
    }

    let out = common::target_dir().join("bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(&Value::Object(results.json)).unwrap(),
    )
    .unwrap();
    println!("| benchmark | measured | verdict |\n|---|---|---|");
    for (name, measured, verdict) in results.rows {
        println!("| {name} | {measured} | {verdict} |");
    }
}
