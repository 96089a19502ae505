//! g.: organization scale on the local backend, end to end through `xacct run`.

use std::time::Duration;

use serde_json::json;

use crate::common::{ConfigBuilder, World};
use crate::measure::*;

/// g. 1,000 and 10,000 accounts on the local backend, end to end through `xacct run` as
/// a process (config, plan, fan-out, report, audit log, out-dir): each account's
/// invocation lists its bucket and reads a 1 KiB object.
pub(crate) fn org_scale_local(results: &mut Results) {
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
