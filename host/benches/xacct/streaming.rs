//! c.: large objects through a plugin against native reads and writes.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use serde_json::{Value, json};

use crate::classic::*;
use crate::common;
use crate::common::moto::{self, Moto, ROLE, Target};
use crate::common::{ConfigBuilder, World};
use crate::measure::*;
use xacct::pipeline::RunRequest;
use xacct::plan::Mode;

/// Streams `size` bytes through the bench plugin: the time it took and the host's peak RSS.
pub(crate) async fn through_plugin(world: &World, input: Value, size: u64) -> (Duration, f64) {
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
pub(crate) async fn streaming(results: &mut Results) {
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
