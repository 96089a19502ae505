//! i. Bucket posture side by side (issue 20 item 8): the posture checks of issue 20 item 7
//! over 50 accounts × 3 buckets on moto behind a 20 ms round trip, run by Cloud
//! Custodian's `c7n-org` (the policies in `c7n.yml`) and, once the `posture` plugin
//! exists, by `xacct run posture`, each measured the same way in one run — wall time, AWS
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

use crate::classic::{ONE_WAY_LATENCY, latency_proxy};
use crate::common::moto::Moto;
use crate::common::posture_estate::{self, PostureEstate};
use crate::measure::Results;
use tally::{Tally, Traffic};

const ACCOUNTS: usize = 50;

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

/// The row: c7n-org's pass (and, in phase 2 of issue 20, xacct's) over one estate.
pub async fn side_by_side(results: &mut Results) {
    let estate = Estate::start(ACCOUNTS).await;
    let parallel = c7n::parallelism();
    let (run, c7n) = estate.measure(c7n::run(&estate, parallel)).await;
    estate.check("c7n-org", &run.findings);
    // Phase 2 of issue 20 adds xacct's pass over the same estate, through the same
    // tally (`estate.endpoint()` as the config's `endpoint_url`, `estate.planted.home`
    // as the home identity, `estate.accounts` with the `xacct-target` role):
    //     let (found, xacct) = estate.measure(xacct_posture(&estate)).await;
    //     estate.check("xacct", &found);
    // and the verdict: xacct ≥ 5× faster than c7n-org, with no more requests per bucket
    // than the settings the plugin asked for.
    let buckets = estate.buckets();
    let assume_roles = c7n.traffic.count("sts:AssumeRole");
    let requests = c7n.traffic.requests();
    results.add(
        "i. posture over 50 accounts × 3 buckets on moto, 20 ms RTT",
        format!(
            "c7n-org ({parallel} processes): {:.1} s ({:.1} s of CPU), {requests} requests ({:.1} per bucket), {assume_roles} AssumeRole calls; by operation: {}",
            c7n.wall.as_secs_f64(),
            run.cpu.as_secs_f64(),
            requests as f64 / buckets as f64,
            describe(&c7n.traffic, buckets)
        ),
        "c7n-org found exactly the planted findings; xacct's side (the posture plugin) is issue 20 phase 2: no verdict yet".to_owned(),
        json!({
            "accounts": estate.accounts.len(),
            "buckets": buckets,
            "one_way_ms": ONE_WAY_LATENCY.as_millis() as u64,
            "c7n_org": {
                "parallel": parallel,
                "wall_s": c7n.wall.as_secs_f64(),
                "cpu_s": run.cpu.as_secs_f64(),
                "requests": requests,
                "assume_role_calls": assume_roles,
                "operations": traffic_json(&c7n.traffic),
            },
        }),
    );
}
