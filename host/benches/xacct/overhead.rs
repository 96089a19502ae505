//! a., j. and k.: what a plugin invocation, an S3 call through the gate, and finding an
//! account's AWS session cost the host.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::classic::*;
use crate::common;
use crate::common::moto::{self, Moto, ROLE};
use crate::common::{ConfigBuilder, World};
use crate::measure::*;
use xacct::aws::SessionSpec;
use xacct::aws::s3::AwsBackend;
use xacct::capability::grant::Grant;
use xacct::capability::s3::backend::ListRequest;
use xacct::capability::s3::names::{BucketName, ObjectKey};
use xacct::capability::{Backend, Capability, RunContext};
use xacct::config::limits::Limits;
use xacct::pipeline::Service;
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
            arn_partition: "aws",
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
    const CALLS: u64 = 1000;
    const ROUNDS: usize = 31;
    let invoker = Invoker::new().await;
    invoker.world.put_file("111111111111", "calls", "k", b"x");
    let invoke = async |input: Value| invoker.invoke(&input.to_string()).await;
    let backend = &invoker.backend;
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
        let (mut gate, mut native, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        // Each round measures the three back to back, in an order that turns, and yields
        // its own ratio: the machine's noise falls within a round on all three alike.
        for round in 0..=ROUNDS {
            let mut times = [Duration::ZERO; 3];
            for step in 0..3 {
                let which = (round + step) % 3;
                times[which] = match which {
                    0 => invoke(input.clone()).await,
                    1 => invoke(json!({"mode": "noop"})).await,
                    _ => {
                        let account = account("111111111111");
                        let started = Instant::now();
                        for _ in 0..CALLS {
                            if op == "head" {
                                backend.head_object(&account, &bucket, &key).await.unwrap();
                            } else {
                                backend.list_objects(&account, &listing).await.unwrap();
                            }
                        }
                        started.elapsed()
                    }
                };
            }
            // The first round warms the caches up.
            if round > 0 {
                let per_call = |total: Duration| total.as_secs_f64() * 1e6 / CALLS as f64;
                let through = per_call(times[0].saturating_sub(times[1]));
                let direct = per_call(times[2]);
                gate.push(through);
                native.push(direct);
                ratios.push(through / direct);
            }
        }
        let quantile = |samples: &mut Vec<f64>, q: f64| {
            samples.sort_by(f64::total_cmp);
            samples[((samples.len() - 1) as f64 * q).round() as usize]
        };
        let (gate, native) = (quantile(&mut gate, 0.5), quantile(&mut native, 0.5));
        let ratio = quantile(&mut ratios, 0.5);
        let (low, high) = (quantile(&mut ratios, 0.25), quantile(&mut ratios, 0.75));
        measured.push(format!(
            "{op}: {gate:.1} µs per call through the gate, {native:.1} µs natively; ratio {ratio:.2}× (middle half of rounds {low:.2}–{high:.2}×)"
        ));
        data.insert(
            op.to_owned(),
            json!({"gate_us": gate, "native_us": native, "ratio": ratio, "ratio_p25": low, "ratio_p75": high, "calls": CALLS, "rounds": ROUNDS}),
        );
    }
    results.add(
        "j. S3-call overhead through the gate (local backend)",
        measured.join("; "),
        "recorded (a ratio to compare before and after a change; no target)".into(),
        Value::Object(data),
    );
}

/// k. What finding an account's session costs each S3 call on the AWS backend, in one
/// run: the session's key rebuilt — the grant's session policy serialised again —
/// as every call did before a run kept its session per account (`Sessions::session`,
/// unchanged), against the run's session found again (`AwsBackend::resolve`, what a call
/// does now). No request is sent: a session assumes its role on first use.
pub(crate) async fn session_lookup(results: &mut Results) {
    const LOOKUPS: u32 = 20_000;
    const ROUNDS: usize = 15;
    let moto = Moto::start();
    let ids = vec!["111111111111".to_owned()];
    let home = moto::seed_accounts(&moto, &ids, |_| "lookup".to_owned()).await;
    let config = ConfigBuilder::aws(&moto.endpoint)
        .full_grants(&["bench"])
        .accounts(ids.iter().map(|id| (id, "lookup")))
        .role_everywhere(ROLE);
    let world = World::with_config(&["bench"], &config, Some(home.provider()));
    let Service::Aws(aws) = world.service().await else {
        panic!("an [aws] world has AWS sessions")
    };
    let spec = SessionSpec {
        plugin: "bench".into(),
        sha256: Some("0".repeat(64)),
        grant: Some(Arc::new(world.config.grant_for("bench").unwrap().clone())),
    };
    let backend = AwsBackend::new(aws.sessions().clone(), spec.clone());
    let id = &ids[0];
    let (mut rebuilt, mut kept) = (Vec::new(), Vec::new());
    for round in 0..=ROUNDS {
        let started = Instant::now();
        for _ in 0..LOOKUPS {
            std::hint::black_box(aws.sessions().session(id, &spec).unwrap());
        }
        let old = started.elapsed();
        let started = Instant::now();
        for _ in 0..LOOKUPS {
            std::hint::black_box(backend.resolve(id).unwrap());
        }
        let new = started.elapsed();
        if round > 0 {
            rebuilt.push(old.as_secs_f64() * 1e9 / f64::from(LOOKUPS));
            kept.push(new.as_secs_f64() * 1e9 / f64::from(LOOKUPS));
        }
    }
    let median = |samples: &mut Vec<f64>| {
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    };
    let (rebuilt, kept) = (median(&mut rebuilt), median(&mut kept));
    results.add(
        "k. AWS session lookup per S3 call",
        format!(
            "key rebuilt (session policy serialised) {rebuilt:.0} ns, the run's session kept per account {kept:.0} ns ({:.1}× less)",
            rebuilt / kept
        ),
        "recorded (what each S3 call spends before reaching the SDK; no target)".into(),
        json!({"rebuilt_ns": rebuilt, "kept_ns": kept, "lookups": LOOKUPS, "rounds": ROUNDS}),
    );
}
