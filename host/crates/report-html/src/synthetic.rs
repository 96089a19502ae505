//! A realistic report of any size, the same for the same size: what an inventory run over
//! an organization returns, for the browser tests and the page's benchmark.
//!
//! Most accounts succeed with an inventory of a few buckets; some fail the ways real
//! runs fail (a bucket gone, AWS denying a call, a time limit, a role that cannot be
//! assumed, a budget spent, a memory limit); a few are skipped by a cancellation near the
//! end. Durations have a long tail; invocations are scheduled on 64 slots, so the start
//! offsets make a real concurrency curve. Entries carry the fields the page reads that
//! the host does not write yet (`tags`, `start_ms`, `aws_denied_calls`,
//! `error.denied_by_aws`, the report's `started_at`).

use serde_json::{Value, json};

/// Invocations at once in the synthetic run.
const CONCURRENCY: usize = 64;

/// splitmix64: small, fast, and the same sequence everywhere.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const TEAMS: [&str; 12] = [
    "payments", "search", "identity", "ledger", "media", "mobile", "data", "ml", "edge", "billing",
    "growth", "platform",
];
const ENVIRONMENTS: [&str; 3] = ["prod", "staging", "dev"];
const BUCKET_KINDS: [&str; 6] = [
    "logs",
    "backups",
    "assets",
    "exports",
    "artifacts",
    "reports",
];

/// The account id of the `index`th account: 12 digits, spread out.
pub fn account_id(index: usize) -> String {
    format!(
        "{:012}",
        100_000_000_000 + (index as u64 * 7_919_993) % 900_000_000_000
    )
}

/// The JSON report of an inventory run over `accounts` accounts.
pub fn report(accounts: usize) -> Value {
    let mut random = Random(accounts as u64);
    let mut slots = vec![0u64; CONCURRENCY];
    let mut entries = Vec::with_capacity(accounts);
    let mut call_stats = serde_json::Map::new();
    let mut assume_role_calls = serde_json::Map::new();
    // The run is cancelled once 98% of the invocations have started.
    let cancelled_after = accounts - accounts / 50;
    let mut run_ms = 0;
    for index in 0..accounts {
        let id = account_id(index);
        let team = TEAMS[index % TEAMS.len()];
        let environment = ENVIRONMENTS[(index / TEAMS.len()) % ENVIRONMENTS.len()];
        let alias = format!("{team}-{environment}-{}", index / (TEAMS.len() * 3));
        let tags = json!({
            "env": environment,
            "team": team,
            "cost-center": format!("cc-{}", 1000 + index % 37),
        });
        if index >= cancelled_after {
            entries.push(json!({
                "account_id": id, "alias": alias, "scope": [id], "tags": tags,
                "status": "skipped",
                "error": {"kind": "skipped", "message": "the run was cancelled before this invocation started"},
                "duration_ms": 0, "s3_calls": 0, "denied_calls": 0, "aws_denied_calls": 0,
                "bytes_read": 0, "bytes_written": 0,
            }));
            continue;
        }
        // A long tail: mostly under 2 s, one in fifty up to 30 s.
        let duration_ms = if random.below(50) == 0 {
            5_000 + random.below(25_000)
        } else {
            (150.0 + 1_800.0 * random.unit().powi(3)) as u64
        };
        let slot = (0..CONCURRENCY).min_by_key(|&s| slots[s]).unwrap_or(0);
        let start_ms = slots[slot];
        slots[slot] = start_ms + duration_ms;
        run_ms = run_ms.max(start_ms + duration_ms);
        let buckets = 1 + random.below(8) as usize;
        let s3_calls = buckets as u64 * (1 + random.below(20));
        let mut entry = json!({
            "account_id": id, "alias": alias, "scope": [id], "tags": tags,
            "status": "ok",
            "duration_ms": duration_ms, "start_ms": start_ms,
            "s3_calls": s3_calls, "denied_calls": 0, "aws_denied_calls": 0,
            "bytes_read": 0, "bytes_written": 0,
        });
        let roll = random.below(1000);
        if roll < 80 {
            entry["status"] = "error".into();
            entry["error"] = failure(&mut random, roll, &id, team);
            if entry["error"].get("denied_by_aws").is_some() {
                entry["aws_denied_calls"] = 1.into();
            }
        } else {
            entry["output"] = inventory(&mut random, &id, &alias, buckets, team);
        }
        if random.below(10) == 0 {
            let retries = 1 + random.below(6);
            call_stats.insert(
                id.clone(),
                json!({"retries": retries, "throttled": retries - random.below(retries), "refreshes": random.below(2), "resumes": 0}),
            );
        }
        assume_role_calls.insert(id.clone(), (1 + u64::from(random.below(20) == 0)).into());
        entries.push(entry);
    }
    json!({
        "plugin": "inventory",
        "sha256": "5f2b8c1d9e0a7b6c3d4e5f60718293a4b5c6d7e8f90123456789abcdef012345",
        "mode": "per-account",
        "dry_run": false,
        "started_at": "2026-11-02T09:30:00.000Z",
        "duration_ms": run_ms,
        "plan_hash": "9c1d7e4f2a3b5c6d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5",
        "entries": entries,
        "assume_role_calls": assume_role_calls,
        "call_stats": call_stats,
        "orphaned_uploads": [
            {"account": account_id(3), "bucket": format!("exports-{}", account_id(3)), "key": "2026/11/02/export.parquet", "upload_id": "2~kq9fJ0dpH3nYcZ", "reason": "S3 InternalError (HTTP 500)"},
        ],
        "notes": ["inventory has no grant in xacct.toml: it may read every bucket of every account"],
    })
}

fn inventory(random: &mut Random, id: &str, alias: &str, buckets: usize, team: &str) -> Value {
    let buckets: Vec<Value> = (0..buckets)
        .map(|b| {
            let objects = random.below(50_000);
            json!({
                "name": format!("{team}-{}-{id}-{b}", BUCKET_KINDS[b % BUCKET_KINDS.len()]),
                "objects": objects,
                "bytes": objects * (1 + random.below(4_000_000)),
            })
        })
        .collect();
    json!({
        "account": id,
        "alias": alias,
        "objects": buckets.iter().map(|b| b["objects"].as_u64().unwrap_or(0)).sum::<u64>(),
        "bytes": buckets.iter().map(|b| b["bytes"].as_u64().unwrap_or(0)).sum::<u64>(),
        "buckets": buckets,
    })
}

/// One of the ways a real run fails, chosen by `roll` (below 80).
fn failure(random: &mut Random, roll: u64, id: &str, team: &str) -> Value {
    let request_id = format!("{:016X}", random.next());
    match roll {
        0..30 => {
            let action = random.pick(&["s3:GetObject", "s3:ListBucket"]);
            let bucket = format!("{team}-logs-{id}");
            json!({
                "kind": "plugin-error",
                "message": format!("access denied: {action} on s3://{bucket}/ [request id {request_id}]"),
                "denied_by_aws": {"action": action, "resource": format!("arn:aws:s3:::{bucket}")},
            })
        }
        30..50 => json!({
            "kind": "plugin-error",
            "message": format!("bucket \"{team}-exports-{id}\" not found"),
        }),
        50..62 => json!({
            "kind": "time-limit",
            "message": "time limit of 30 s exceeded",
        }),
        62..72 => json!({
            "kind": "credentials",
            "message": format!("AssumeRole into arn:aws:iam::{id}:role/xacct-reader: STS AccessDenied (HTTP 403): not authorized to perform sts:AssumeRole [request id {}-{:04x}]", request_id.to_lowercase(), random.below(65_536)),
        }),
        72..77 => json!({
            "kind": "limit-exceeded",
            "message": format!("S3 call budget of {} calls spent", 1000 * (1 + random.below(3))),
        }),
        _ => json!({
            "kind": "memory-limit",
            "message": "memory limit of 64 MiB exceeded",
        }),
    }
}
