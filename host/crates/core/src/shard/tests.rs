use super::*;
use serde_json::json;

#[test]
fn shards_are_stable_and_cover_every_account_once() {
    let ids: Vec<String> = (0..1000).map(|i| format!("{:012}", 100_000 + i)).collect();
    let mut sizes = [0usize; 4];
    for id in &ids {
        let shards: Vec<u32> = (0..4)
            .filter(|i| Shard::new(*i, 4).unwrap().holds(id))
            .collect();
        assert_eq!(shards.len(), 1);
        sizes[shards[0] as usize] += 1;
        // Depends on the id alone: the same on every machine and in every config.
        assert_eq!(shard_of(id, 4), shard_of(&id.clone(), 4));
    }
    assert!(sizes.iter().all(|n| (200..300).contains(n)), "{sizes:?}");
    assert_eq!(shard_of("111111111111", 7), 4, "a fixed function of the id");
}

#[test]
fn shards_are_parsed_and_taken_from_batch_or_kubernetes() {
    // K/N counts from 1, as Playwright, Jest and cargo-nextest do.
    assert_eq!(Shard::parse("1/4").unwrap(), Shard { index: 0, count: 4 });
    assert_eq!(Shard::parse("4/4").unwrap(), Shard { index: 3, count: 4 });
    assert_eq!(Shard::parse("2/2").unwrap().to_string(), "2/2");
    let first = Shard::parse_named("0/4", "--shard").unwrap_err();
    assert!(
        first.contains("count from 1") && first.contains("--shard 1/4"),
        "{first}"
    );
    assert!(Shard::parse("5/4").is_err());
    assert!(Shard::parse("1/0").is_err());
    assert!(Shard::parse("1").is_err());
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    // The environments count from 0: index 3 is the fourth shard.
    let batch = env(&[(BATCH_INDEX, "3"), (BATCH_SIZE, "8")]);
    assert_eq!(
        Shard::from_env(batch, None).unwrap(),
        Shard { index: 3, count: 8 }
    );
    assert_eq!(Shard::from_env(batch, None).unwrap().to_string(), "4/8");
    let kubernetes = env(&[(KUBERNETES_INDEX, "0")]);
    assert_eq!(
        Shard::from_env(kubernetes, Some(5)).unwrap().to_string(),
        "1/5"
    );
    assert!(
        Shard::from_env(kubernetes, None)
            .unwrap_err()
            .contains("--shard-count")
    );
    assert!(Shard::from_env(env(&[]), Some(2)).is_err());
}

/// The environment of `pairs`, as `std::env::var` would read it.
fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = (pairs.iter())
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name: &str| {
        (pairs.iter())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

#[test]
fn shard_messages_name_the_bad_value_and_the_fix() {
    let flag = |text: &str, count: Option<u32>, vars: &[(&str, &str)]| {
        Shard::from_flags(text, count, env(vars)).unwrap_err()
    };
    let says = |message: String, parts: &[&str]| {
        for part in parts {
            assert!(message.contains(part), "{part:?} not in {message:?}");
        }
        assert_eq!(
            message.matches("--shard auto:").count(),
            usize::from(message.starts_with("--shard auto:")),
            "{message}"
        );
        assert!(message.contains("; fix: "), "{message}");
    };
    // A count of 0 is not "1/0 … 0/0".
    let zero = flag("1/0", None, &[]);
    says(zero.clone(), &["--shard 1/0:", "1 or more"]);
    assert!(!zero.contains("0/0"), "{zero}");
    says(
        flag("5/4", None, &[]),
        &["--shard 5/4:", "only 4 shard(s)", "fix: --shard 4/4"],
    );
    says(
        flag("x", None, &[]),
        &["--shard \"x\": not K/N", "fix: --shard K/N"],
    );
    // A number too large is said to be one, not "not K/N" or "not a number".
    says(
        flag("99999999999/2", None, &[]),
        &["--shard \"99999999999/2\": a number past 4294967295"],
    );
    says(
        flag(
            "auto",
            None,
            &[(BATCH_INDEX, "0"), (BATCH_SIZE, "99999999999")],
        ),
        &["AWS_BATCH_JOB_ARRAY_SIZE=\"99999999999\" is past 4294967295"],
    );
    // The shard auto resolves to comes from the environment's 0-based index.
    let size_zero = flag("auto", None, &[(BATCH_INDEX, "0"), (BATCH_SIZE, "0")]);
    says(
        size_zero.clone(),
        &["--shard auto: AWS_BATCH_JOB_ARRAY_SIZE=0: no shard of 0 shards"],
    );
    assert!(!size_zero.contains("0/0"), "{size_zero}");
    // Said once: not `--shard auto: --shard auto: neither …`.
    says(
        flag("auto", None, &[]),
        &[
            "--shard auto: neither AWS_BATCH_JOB_ARRAY_INDEX",
            "fix: pass --shard K/N",
        ],
    );
    // Index 2 of a size 2 is not "shard 2/2" (a valid shard): it is past the last.
    let past = flag("auto", None, &[(BATCH_INDEX, "2"), (BATCH_SIZE, "2")]);
    says(
        past.clone(),
        &[
            "AWS_BATCH_JOB_ARRAY_INDEX=2 is past the last shard",
            "at most 1 with AWS_BATCH_JOB_ARRAY_SIZE=2",
        ],
    );
    assert!(!past.contains("2/2"), "{past}");
    says(
        flag("auto", Some(3), &[(KUBERNETES_INDEX, "3")]),
        &[
            "JOB_COMPLETION_INDEX=3 is past the last shard",
            "at most 2 with --shard-count 3",
        ],
    );
    says(
        flag("auto", None, &[(BATCH_INDEX, "one")]),
        &["AWS_BATCH_JOB_ARRAY_INDEX=\"one\" is not a number"],
    );
    // The Lambda's events name the shard as `shard`.
    assert!(Shard::parse("1/0").unwrap_err().starts_with("shard 1/0: "));
}

#[test]
fn a_shard_count_is_given_once_or_agrees() {
    let batch = [(BATCH_INDEX, "0"), (BATCH_SIZE, "2")];
    let shard = |text: &str, count: Option<u32>, vars: &[(&str, &str)]| {
        Shard::from_flags(text, count, env(vars)).map(|shard| shard.to_string())
    };
    // The flag does not lose to the environment, nor the environment to the flag.
    let disagree = shard("auto", Some(3), &batch).unwrap_err();
    assert!(
        disagree.contains("AWS_BATCH_JOB_ARRAY_SIZE=2 and --shard-count 3 disagree")
            && disagree.contains("fix: drop --shard-count"),
        "{disagree}"
    );
    let exported = [(BATCH_INDEX, "0"), (BATCH_SIZE, "2"), (SHARD_COUNT, "3")];
    let disagree = shard("auto", None, &exported).unwrap_err();
    assert!(
        disagree.contains("AWS_BATCH_JOB_ARRAY_SIZE=2 and XACCT_SHARD_COUNT=3 disagree")
            && disagree.contains("fix: unset XACCT_SHARD_COUNT"),
        "{disagree}"
    );
    assert_eq!(shard("auto", Some(2), &batch).unwrap(), "1/2");
    // Kubernetes: the flag, else the variable; the flag wins over the variable.
    let kubernetes = [(KUBERNETES_INDEX, "1"), (SHARD_COUNT, "4")];
    assert_eq!(shard("auto", None, &kubernetes).unwrap(), "2/4");
    assert_eq!(shard("auto", Some(3), &kubernetes).unwrap(), "2/3");
    let bad = shard("auto", None, &[(KUBERNETES_INDEX, "1"), (SHARD_COUNT, "0")]).unwrap_err();
    assert!(
        bad.contains("XACCT_SHARD_COUNT=\"0\" is not a number of shards"),
        "{bad}"
    );
    // K/N names its count: --shard-count beside it is refused, and so is an exported
    // count that says another.
    let beside = shard("1/2", Some(3), &[]).unwrap_err();
    assert!(
        beside.contains("--shard-count 3 goes with --shard auto only")
            && beside.contains("fix: drop --shard-count"),
        "{beside}"
    );
    let other = shard("1/2", None, &[(SHARD_COUNT, "3")]).unwrap_err();
    assert!(
        other.contains("--shard 1/2 and XACCT_SHARD_COUNT=3 disagree")
            && other.contains("unset XACCT_SHARD_COUNT"),
        "{other}"
    );
    assert_eq!(shard("1/2", None, &[(SHARD_COUNT, "2")]).unwrap(), "1/2");
    // A K/N with no count anywhere, and the environment's index ignored.
    assert_eq!(shard("2/2", None, &batch).unwrap(), "2/2");
}

/// Shard `index` (from 0) of `count` of a plan over `plan`, holding `entries` (id,
/// status).
fn shard_report(
    index: u32,
    count: u32,
    plan: &[&str],
    entries: &[(&str, &str)],
) -> (String, Value) {
    let input = crate::plan_hash::input_sha256("{}");
    let entries: Vec<Value> = (entries.iter())
        .map(|(id, status)| json!({"account_id": id, "scope": [id], "status": status}))
        .collect();
    (
        format!("shard-{index}.json"),
        json!({
            "plugin": "hello", "sha256": "abc", "mode": "per-account", "dry_run": false,
            "plan_hash": plan_hash_of(Some("abc"), &input, "per-account", false, plan),
            "duration_ms": 10 * (index + 1),
            "entries": entries,
            "assume_role_calls": {"a": 1},
            "shard": {"index": index + 1, "count": count, "planned": plan.len(), "accounts": plan, "input_sha256": input},
        }),
    )
}

/// Three account ids and their shards of 2, both shards among them.
fn ids() -> Vec<(String, u32)> {
    let mut ids: Vec<(String, u32)> = Vec::new();
    for i in 0.. {
        let id = format!("{:012}", 111_111_111_111u64 + i);
        let shard = shard_of(&id, 2);
        ids.push((id, shard));
        if ids.len() >= 3 && ids.iter().any(|(_, s)| *s != ids[0].1) {
            break;
        }
    }
    ids.split_off(ids.len() - 3)
}

#[test]
fn shards_merge_in_plan_order_and_gaps_or_doubles_are_refused() {
    let ids = ids();
    assert!(ids.iter().any(|(_, s)| *s == 0) && ids.iter().any(|(_, s)| *s == 1));
    let plan: Vec<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
    let of = |shard: u32| -> Vec<(&str, &str)> {
        ids.iter()
            .enumerate()
            .filter(|(_, (_, s))| *s == shard)
            .map(|(i, (id, _))| (id.as_str(), if i == 1 { "error" } else { "ok" }))
            .collect()
    };
    let report = |shard: u32| shard_report(shard, 2, &plan, &of(shard));
    let (zero, one) = (report(0), report(1));
    let merged = merge(&[one.clone(), zero.clone()]).unwrap();
    let order: Vec<&str> = merged["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["account_id"].as_str().unwrap())
        .collect();
    assert_eq!(order, plan);
    assert!(merged.get("shard").is_none());
    assert_eq!(merged["duration_ms"], 20);
    assert_eq!(merged["assume_role_calls"]["a"], 2);
    assert!(!all_ok(&merged));
    assert_eq!(failed_accounts(&merged), [ids[1].0.clone()]);

    let error = |reports: &[(String, Value)]| merge(reports).unwrap_err().to_string();
    assert!(error(std::slice::from_ref(&zero)).contains("shard(s) 2/2 missing"));
    assert!(error(&[zero.clone(), zero.clone()]).contains("are both shard 1/2"));
    let mut copied = one.clone();
    copied.1["shard"]["input_sha256"] = json!("another input");
    assert!(error(&[zero.clone(), copied]).contains("not the hash of the plan"));
    let other = shard_report(1, 2, &plan[..2], &[]);
    assert!(error(&[zero.clone(), other]).contains("another plan"));
    let mut rebuilt = one.clone();
    rebuilt.1["sha256"] = json!("ab".repeat(32));
    assert!(
        error(&[zero.clone(), rebuilt]).contains(&format!(
            "shard-1.json ran plugin build sha256 {}, shard-0.json ran sha256 abc: the shards ran different plugin files",
            "ab".repeat(32)
        ))
    );
    let mut moved = one.clone();
    moved.1["shard"]["index"] = json!(1);
    assert!(error(&[moved]).contains("does not belong"));
    let mut twice = one.clone();
    let entry = twice.1["entries"][0].clone();
    twice.1["entries"].as_array_mut().unwrap().push(entry);
    assert!(error(&[zero.clone(), twice]).contains("listed more than once"));
    let mut stranger = one.clone();
    stranger.1["entries"][0]["account_id"] = json!("999999999999");
    assert!(error(&[zero.clone(), stranger]).contains("999999999999 is not in the plan"));
    let mut dropped = one.clone();
    dropped.1["entries"] = json!([]);
    assert!(error(&[zero.clone(), dropped]).contains("are missing"));
    let mut overflowing = one.clone();
    overflowing.1["assume_role_calls"]["a"] = json!(u64::MAX);
    let overflow = error(&[zero, overflowing]);
    assert!(
        overflow.contains("assume_role_calls.a overflows"),
        "{overflow}"
    );
}

#[test]
fn a_merge_starts_with_its_first_shard_and_rebases_each_start() {
    let ids = ids();
    let plan: Vec<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
    let of = |shard: u32| -> Vec<(&str, &str)> {
        (ids.iter())
            .filter(|(_, s)| *s == shard)
            .map(|(id, _)| (id.as_str(), "ok"))
            .collect()
    };
    let (mut zero, mut one) = (
        shard_report(0, 2, &plan, &of(0)),
        shard_report(1, 2, &plan, &of(1)),
    );
    zero.1["started_at"] = json!("2026-11-02T09:30:01.5Z");
    one.1["started_at"] = json!("2026-11-02T09:30:00Z");
    for (report, start_ms) in [(&mut zero.1, 100), (&mut one.1, 40)] {
        for entry in report["entries"].as_array_mut().unwrap() {
            entry["start_ms"] = json!(start_ms);
        }
    }
    let merged = merge(&[zero, one]).unwrap();
    assert_eq!(merged["started_at"], "2026-11-02T09:30:00Z");
    assert_eq!(merged["merged_shards"], 2);
    for (entry, (_, shard)) in merged["entries"].as_array().unwrap().iter().zip(&ids) {
        let expected = if *shard == 0 { 1500 + 100 } else { 40 };
        assert_eq!(entry["start_ms"], expected, "{entry}");
    }
    // Shard 0 started 1.5 s after shard 1 and ran 10 ms: the run lasted 1510 ms.
    assert_eq!(merged["duration_ms"], 1510);
}
