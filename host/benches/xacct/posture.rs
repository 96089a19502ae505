//! i. Bucket posture side by side (issue 20 item 8): the posture checks of issue 20 item 7
//! over 50 accounts × 3 buckets on moto behind a 20 ms round trip, run by Cloud
//! Custodian's `c7n-org` (the policies in `c7n.yml`) and by `xacct run posture` (the
//! `posture` sample plugin, concurrency 64), each measured the same way in one run — wall time, AWS
//! requests by operation, AssumeRole calls — and each held to exactly the findings
//! planted in the estate (`common::posture_estate`), so that a fast wrong answer cannot
//! pass.
//!
//! Not part of the default run (it needs Cloud Custodian, and takes minutes):
//! `scripts/install-c7n`, then `XACCT_BENCH_ONLY=i cargo bench -p xacct --bench xacct`.
//! `XACCT_BENCH_C7N_PARALLEL` sets c7n-org's worker processes (default: c7n-org's own,
//! four per CPU); `XACCT_BENCH_C7N_POLICIES` another policy file with the same policy
//! names. c7n-org's accounts file, log and output stay in `target/bench/c7n-org/`.

mod c7n;
mod tally;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::json;

use xacct::pipeline::RunRequest;
use xacct::plan::Mode;

use crate::classic::{ONE_WAY_LATENCY, latency_proxy};
use crate::common::moto::{Moto, ROLE};
use crate::common::posture_estate::{self, PostureEstate};
use crate::common::{ConfigBuilder, World};
use crate::measure::Results;
use tally::{Tally, Traffic};

const ACCOUNTS: usize = 50;

/// The settings the `posture` plugin asks of each bucket (location, versioning,
/// encryption, public access block, policy status, ownership, lifecycle, logging, ACL):
/// one request each.
const SETTINGS_PER_BUCKET: u64 = 9;

/// Findings by bucket name (buckets without findings left out).
type Findings = BTreeMap<String, BTreeSet<String>>;

/// The seeded estate and the path every tool reaches it by: the counting proxy, then
/// [`ONE_WAY_LATENCY`] each way, then the S3/STS-semantics shim and moto (IAM enforced).
struct Estate {
    accounts: Vec<String>,
    planted: PostureEstate,
    tally: Tally,
    latency: tokio::task::JoinHandle<()>,
    /// Last: moto stops when the estate is dropped.
    _moto: Moto,
}

/// What one tool's pass over the estate cost.
struct Pass {
    wall: Duration,
    traffic: Traffic,
}

impl Estate {
    async fn start(accounts: usize) -> Estate {
        let moto = Moto::start();
        let accounts: Vec<String> = (0..accounts)
            .map(|i| (920_000_000_000u64 + i as u64).to_string())
            .collect();
        let planted = posture_estate::seed(&moto, &accounts).await;
        moto.enforce_iam();
        let shim = moto.endpoint.trim_start_matches("http://").parse().unwrap();
        let (link, latency) = latency_proxy(shim, ONE_WAY_LATENCY).await;
        let tally = Tally::start(link).await;
        Estate {
            accounts,
            planted,
            tally,
            latency,
            _moto: moto,
        }
    }

    /// Where a tool sends its AWS requests (endpoint URL or HTTP proxy).
    fn endpoint(&self) -> String {
        format!("http://{}", self.tally.address)
    }

    fn buckets(&self) -> usize {
        self.planted.buckets.len()
    }

    /// Runs one tool's pass and measures it: its wall time, the requests it sent.
    async fn measure<T>(&self, pass: impl Future<Output = T>) -> (T, Pass) {
        self.tally.take();
        let started = Instant::now();
        let output = pass.await;
        let wall = started.elapsed();
        let traffic = self.tally.take();
        (output, Pass { wall, traffic })
    }

    /// Fails the benchmark unless `tool` found exactly the planted findings.
    fn check(&self, tool: &str, found: &Findings) {
        let planted: Findings = self
            .planted
            .buckets
            .iter()
            .filter(|bucket| !bucket.kind.findings().is_empty())
            .map(|bucket| {
                let codes = bucket.kind.findings().into_iter().map(str::to_owned);
                (bucket.name.clone(), codes.collect())
            })
            .collect();
        let names: BTreeSet<&String> = planted.keys().chain(found.keys()).collect();
        let wrong: Vec<String> = names
            .into_iter()
            .filter(|name| planted.get(*name) != found.get(*name))
            .map(|name| {
                format!(
                    "{name}: planted {:?}, found {:?}",
                    planted.get(name),
                    found.get(name)
                )
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "{tool} did not find exactly the planted findings ({} buckets differ):\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }
}

impl Drop for Estate {
    fn drop(&mut self) {
        self.latency.abort();
    }
}

/// xacct's pass: `xacct run posture` in every account (one invocation each, 64 at once),
/// through the same tally, as an operator would run it (the home identity checked once,
/// each role assumed once). Its findings, folded as [`Estate::check`] wants them.
async fn xacct_posture(estate: &Estate) -> Findings {
    let config = ConfigBuilder::aws(&estate.endpoint())
        .top_level("concurrency", 64)
        .grant(
            "posture",
            "accounts = [\"*\"]\ns3 = [{ buckets = \"*\", actions = [\"list\", \"config-read\"] }]\n",
        )
        .accounts(
            estate
                .accounts
                .iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), format!("posture-{i}"))),
        )
        .role_everywhere(ROLE);
    let world = World::with_config(&["posture"], &config, Some(estate.planted.home.provider()));
    let request = RunRequest::new("posture", "{}", Mode::PerAccount);
    let report = world.run_request(world.service().await, &request).await;
    assert!(
        report.all_ok(),
        "{:?}",
        report.entries.iter().find_map(|e| e.error.as_ref())
    );
    let mut found = Findings::new();
    for entry in &report.entries {
        let output = entry.output.as_ref().unwrap();
        for bucket in output["buckets"].as_array().unwrap() {
            let codes: BTreeSet<String> = bucket["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|code| code.as_str().unwrap().to_owned())
                .collect();
            if !codes.is_empty() {
                found.insert(bucket["bucket"].as_str().unwrap().to_owned(), codes);
            }
        }
    }
    found
}

/// A pass's requests by operation, most frequent first, with the count per bucket.
fn describe(traffic: &Traffic, buckets: usize) -> String {
    let mut operations: Vec<(&String, u64)> = traffic
        .operations
        .iter()
        .map(|(name, calls)| (name, calls.requests))
        .collect();
    operations.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    operations
        .iter()
        .map(|(name, count)| {
            format!(
                "{name} {count} ({:.2}/bucket)",
                *count as f64 / buckets as f64
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn traffic_json(traffic: &Traffic) -> serde_json::Value {
    traffic
        .operations
        .iter()
        .map(|(name, calls)| {
            (
                name.clone(),
                json!({"requests": calls.requests, "errors": calls.errors}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The row: c7n-org's pass and xacct's over one estate, and the verdict.
pub async fn side_by_side(results: &mut Results) {
    let estate = Estate::start(ACCOUNTS).await;
    let parallel = c7n::parallelism();
    let (run, c7n) = estate.measure(c7n::run(&estate, parallel)).await;
    estate.check("c7n-org", &run.findings);
    let (found, xacct) = estate.measure(xacct_posture(&estate)).await;
    estate.check("xacct", &found);
    let buckets = estate.buckets();
    let accounts = estate.accounts.len() as u64;
    let c7n_requests = c7n.traffic.requests();
    let xacct_requests = xacct.traffic.requests();
    // Per account xacct also sends its AssumeRole, ListBuckets and the account's own
    // block; and the home identity's GetCallerIdentity once. Anything more (a retry, a
    // setting not asked for) breaks the target.
    let allowed = SETTINGS_PER_BUCKET * buckets as u64 + 3 * accounts + 1;
    let speedup = c7n.wall.as_secs_f64() / xacct.wall.as_secs_f64();
    let line = |tool: &str, pass: &Pass, requests: u64| {
        format!(
            "{tool}: {:.1} s, {requests} requests ({:.2} per bucket), {} AssumeRole calls; by operation: {}",
            pass.wall.as_secs_f64(),
            requests as f64 / buckets as f64,
            pass.traffic.count("sts:AssumeRole"),
            describe(&pass.traffic, buckets)
        )
    };
    results.add(
        "i. posture over 50 accounts × 3 buckets on moto, 20 ms RTT",
        format!(
            "{} ({:.1} s of CPU); {}; xacct {speedup:.1}× faster",
            line(&format!("c7n-org ({parallel} processes)"), &c7n, c7n_requests),
            run.cpu.as_secs_f64(),
            line("xacct (concurrency 64)", &xacct, xacct_requests),
        ),
        format!(
            "{} ≥ 5× faster than c7n-org, and {} no more requests than the settings asked ({xacct_requests} ≤ {allowed}); both found exactly the planted findings",
            if speedup >= 5.0 { "met:" } else { "NOT met:" },
            if xacct_requests <= allowed { "met:" } else { "NOT met:" },
        ),
        json!({
            "accounts": estate.accounts.len(),
            "buckets": buckets,
            "one_way_ms": ONE_WAY_LATENCY.as_millis() as u64,
            "speedup": speedup,
            "c7n_org": {
                "parallel": parallel,
                "wall_s": c7n.wall.as_secs_f64(),
                "cpu_s": run.cpu.as_secs_f64(),
                "requests": c7n_requests,
                "assume_role_calls": c7n.traffic.count("sts:AssumeRole"),
                "operations": traffic_json(&c7n.traffic),
            },
            "xacct": {
                "concurrency": 64,
                "wall_s": xacct.wall.as_secs_f64(),
                "requests": xacct_requests,
                "requests_allowed": allowed,
                "assume_role_calls": xacct.traffic.count("sts:AssumeRole"),
                "operations": traffic_json(&xacct.traffic),
            },
        }),
    );
}
