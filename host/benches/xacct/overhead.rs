//! a. and j.: what a plugin invocation, and an S3 call through the gate, cost the host.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::classic::*;
use crate::common;
use crate::common::World;
use crate::common::moto::Moto;
use crate::measure::*;
use xacct::capability::grant::Grant;
use xacct::capability::s3::backend::ListRequest;
use xacct::capability::s3::names::{BucketName, ObjectKey};
use xacct::capability::{Backend, Capability, RunContext};
use xacct::config::limits::Limits;
use xacct::plan::Scope;
use xacct::sandbox::{LoadedPlugin, Sandbox};

/// The `bench` guest of a local world, invoked directly — the sandbox and a capability
/// over the first account, the pipeline around them left out.
struct Invoker {
    world: World,
    sandbox: Arc<Sandbox>,
    plugin: LoadedPlugin,
    backend: Arc<dyn Backend>,
    grant: Arc<Grant>,
    limits: Limits,
    context: Arc<RunContext>,
    scope: Scope,
    cancel: CancellationToken,
}

impl Invoker {
    async fn new() -> Invoker {
        let world = World::new(&["bench"], "");
        let sandbox = common::sandbox();
        let plugin = sandbox.load("bench", &common::guest("bench")).unwrap();
        let backend = world.backend().await;
        let grant = Arc::new(world.config.grant_for("bench").unwrap().clone());
        let limits = world.config.limits_for("bench");
        let context = Arc::new(RunContext {
            plugin: "bench".into(),
            sha256: plugin.sha256.clone(),
            signer: None,
            dry_run: false,
            audit: None,
        });
        Invoker {
            world,
            sandbox,
            plugin,
            backend,
            grant,
            limits,
            context,
            scope: Scope::from(vec![account("111111111111")]),
            cancel: CancellationToken::new(),
        }
    }

    /// One invocation with `input`, which must succeed: how long it took.
    async fn invoke(&self, input: &str) -> Duration {
        let capability = Capability::new(
            self.backend.clone(),
            self.scope.clone(),
            self.grant.clone(),
            &self.limits,
            self.context.clone(),
        );
        let started = Instant::now();
        let outcome = self
            .sandbox
            .invoke(
                &self.plugin,
                capability,
                self.limits.guest,
                input,
                &self.cancel,
            )
            .await;
        let elapsed = started.elapsed();
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
        elapsed
    }
}

/// a. Instantiate + call of a no-op plugin vs one HeadObject against moto.
pub(crate) async fn overhead(results: &mut Results) {
    let invoker = Invoker::new().await;
    let mut samples = Vec::new();
    for round in 0..5200 {
        let elapsed = invoker.invoke(r#"{"mode": "noop"}"#).await;
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

/// j. The cost of one S3 call through the whole capability path — the guest's call, the
/// WIT boundary, request checks, the grant, the budget, the backend task, the audit
/// hook — against the same backend call made natively, in the same run, on the local
/// backend: `n` HeadObject calls (and `n` one-key ListObjectsV2 pages) by the `bench`
/// guest in one invocation, less a no-op invocation, per call.
pub(crate) async fn gate_overhead(results: &mut Results) {
    const CALLS: u64 = 2000;
    const ROUNDS: usize = 15;
    let invoker = Invoker::new().await;
    invoker.world.put_file("111111111111", "calls", "k", b"x");
    let invoke = async |input: Value| invoker.invoke(&input.to_string()).await;
    let backend = &invoker.backend;
    let median = |mut samples: Vec<Duration>| {
        samples.sort();
        samples[samples.len() / 2]
    };
    let bucket = BucketName::new("calls").unwrap();
    let key = ObjectKey::new("k").unwrap();
    let listing = ListRequest {
        max_keys: Some(1),
        ..ListRequest::of(bucket.clone())
    };
    let mut data = serde_json::Map::new();
    let mut measured = Vec::new();
    for op in ["head", "list"] {
        let input = json!({"mode": "calls", "op": op, "bucket": "calls", "key": "k", "n": CALLS});
        let (mut through, mut noop, mut native) = (Vec::new(), Vec::new(), Vec::new());
        // Rounds interleave the three, so that the machine's noise falls on each alike.
        for round in 0..=ROUNDS {
            let calls = invoke(input.clone()).await;
            let empty = invoke(json!({"mode": "noop"})).await;
            let account = account("111111111111");
            let started = Instant::now();
            for _ in 0..CALLS {
                if op == "head" {
                    backend.head_object(&account, &bucket, &key).await.unwrap();
                } else {
                    backend.list_objects(&account, &listing).await.unwrap();
                }
            }
            let direct = started.elapsed();
            // The first round warms the caches up.
            if round > 0 {
                through.push(calls);
                noop.push(empty);
                native.push(direct);
            }
        }
        let per_call = |total: Duration| total.as_secs_f64() * 1e6 / CALLS as f64;
        let gate = per_call(median(through).saturating_sub(median(noop)));
        let native = per_call(median(native));
        let ratio = gate / native;
        measured.push(format!(
            "{op}: {gate:.1} µs per call through the gate, {native:.1} µs natively ({ratio:.2}×, +{:.1} µs)",
            gate - native
        ));
        data.insert(
            op.to_owned(),
            json!({"gate_us": gate, "native_us": native, "ratio": ratio, "calls": CALLS, "rounds": ROUNDS}),
        );
    }
    results.add(
        "j. S3-call overhead through the gate (local backend)",
        measured.join("; "),
        "recorded (a ratio to compare before and after a change; no target)".into(),
        Value::Object(data),
    );
}
