//! xacct's benchmarks, each a ratio against a baseline measured in the same run on the
//! same servers (this machine is shared and noisy: absolute times vary, ratios much less).
//!
//! Run with `scripts/bench` (it builds the guests, installs moto and the browser first), which runs
//! `cargo bench --bench xacct`. Results go to stdout as Markdown and to
//! `target/bench/results.json`. `XACCT_BENCH_STREAM_MIB` sets the streamed object's size
//! (default 1024); `XACCT_BENCH_ONLY=a,b` runs only some of the benchmarks. Row i (bucket
//! posture beside Cloud Custodian, `posture/`) runs only when named there, after
//! `scripts/install-c7n`.

// Benchmark code states what it expects with unwrap (the workspace denies it in code
// that ships).
#![allow(clippy::unwrap_used)]

#[path = "../../../tests/integration/common/mod.rs"]
mod common;

mod classic;
mod fan_out;
mod footprint;
mod measure;
mod overhead;
mod page;
mod posture;
mod provenance;
mod scale;
mod streaming;

use serde_json::Value;

use measure::Results;

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
    let only =
        std::env::var("XACCT_BENCH_ONLY").unwrap_or_else(|_| "a,b,c,d,e,f,g,h,j,k,l,m".into());
    let wanted = |name: &str| only.split(',').any(|w| w.trim() == name);
    if wanted("g") {
        scale::org_scale_local(&mut results);
    }
    runtime.block_on(async {
        if wanted("a") {
            overhead::overhead(&mut results).await;
        }
        if wanted("b") {
            fan_out::fan_out(&mut results).await;
        }
        if wanted("c") {
            streaming::streaming(&mut results).await;
        }
        if wanted("e") {
            footprint::concurrent_instances(&mut results).await;
        }
        if wanted("f") {
            footprint::hostile_memory(&mut results).await;
        }
        if wanted("h") {
            fan_out::org_scale_moto(&mut results).await;
        }
        if wanted("i") {
            posture::side_by_side(&mut results).await;
        }
        if wanted("j") {
            overhead::gate_overhead(&mut results).await;
        }
        if wanted("k") {
            overhead::session_lookup(&mut results).await;
        }
    });
    if wanted("d") {
        footprint::cold_start(&mut results);
    }
    if wanted("l") {
        page::report_page(&mut results);
    }
    if wanted("m") {
        provenance::signed_load(&mut results);
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
