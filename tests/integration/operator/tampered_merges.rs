//! Issue 17, "A tampered shard report merges": a shard's report is a file that anyone
//! between the shard and the merge can edit, so `xacct report merge` treats it as
//! untrusted input. Each test takes the real reports of a two-shard run (one account
//! failing), changes one thing as an attacker would, and expects the merge to refuse with
//! exit 2 and an error naming what was tampered with — never a merged report that hides
//! the failure.
//!
//! Defences these need (issue 17, Deliver 2): a report carries what its merge needs to
//! verify it (the plan's account ids, or a hash over them, with the shard spec, and the
//! fields its plan hash covers); the merge refuses duplicate account ids, ids outside the
//! plan and shards of another plan, with an exact error; counters are added checked; and
//! every error the CLI prints is made inert, as the table is.

use serde_json::{Value, json};

use crate::common;
use common::cli::Outcome;
use common::{ConfigBuilder, World};

const ACCOUNTS: u64 = 12;
const SHARDS: u32 = 2;

fn id(i: u64) -> String {
    (710_000_000_000 + i).to_string()
}

/// A run of `misbehave` over twelve local accounts, one of which fails, in two shards.
struct Run {
    world: World,
    /// The shards' reports, as `xacct run --shard K/2 --output json` wrote them.
    shards: Vec<Value>,
    /// The account that failed.
    failing: String,
}

impl Run {
    fn new() -> Run {
        let config = ConfigBuilder::local("data")
            .full_grants(&["misbehave"])
            .accounts((0..ACCOUNTS).map(|i| (id(i), format!("t-{i:02}"))));
        let world = World::with_config(&["misbehave"], &config, None);
        for i in 0..ACCOUNTS {
            world.bucket(&id(i), "b");
        }
        let failing = id(3);
        let input = json!({"mode": "fail", "only": failing}).to_string();
        let shards = (0..SHARDS)
            .map(|index| shard(&world, index, &input))
            .collect();
        Run {
            world,
            shards,
            failing,
        }
    }

    /// The index of the shard that holds the failing account.
    fn failing_shard(&self) -> usize {
        xacct::shard::shard_of(&self.failing, SHARDS) as usize
    }

    /// `xacct report merge` of `reports`, saved as `shard-K.json`.
    fn merge(&self, reports: &[Value]) -> Outcome {
        let mut names = Vec::new();
        for (index, report) in reports.iter().enumerate() {
            let name = format!("shard-{index}.json");
            std::fs::write(self.world.dir.path().join(&name), report.to_string()).unwrap();
            names.push(name);
        }
        self.world
            .xacct()
            .args(["report", "merge"])
            .args(&names)
            .output()
    }
}

/// The report of the shard at `index` (from 0, as [`xacct::shard::shard_of`] numbers
/// them; `--shard` counts from 1).
fn shard(world: &World, index: u32, input: &str) -> Value {
    let shard = format!("{}/{SHARDS}", index + 1);
    world
        .xacct()
        .args(["run", "misbehave", "--output", "json", "--input", input])
        .args(["--shard", &shard])
        .output()
        .json()
}

fn entries(report: &mut Value) -> &mut Vec<Value> {
    report["entries"].as_array_mut().unwrap()
}

/// The position of `account`'s entry in `report`.
fn position_of(report: &Value, account: &str) -> usize {
    report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .position(|e| e["account_id"] == account)
        .unwrap_or_else(|| panic!("{account} is not in {report}"))
}

/// Another account of the failing shard, one that succeeded.
fn neighbour(run: &Run) -> String {
    let shard = &run.shards[run.failing_shard()];
    shard["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["status"] == "ok")
        .map(|e| e["account_id"].as_str().unwrap().to_owned())
        .expect("the failing shard holds an account that succeeded")
}

/// The merge refused (exit 2) with an error naming every one of `names`, on one line
/// starting `error:`.
fn assert_refused_naming(merged: &Outcome, names: &[&str]) {
    let (stderr, stdout) = (&merged.stderr, &merged.stdout);
    assert_eq!(
        merged.status.code(),
        Some(2),
        "the tampered reports merged: {stderr}"
    );
    let error = stderr
        .lines()
        .find(|line| line.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line in {stderr}"));
    for name in names {
        assert!(error.contains(name), "{name:?} in {error}");
    }
    assert!(stdout.is_empty(), "no merged report is printed: {stdout}");
}

/// The untampered shards merge, and the merge fails as the run did: what the tests below
/// change is what makes the difference.
#[test]
fn the_untampered_shards_merge_and_keep_the_failure() {
    let run = Run::new();
    let merged = run.merge(&run.shards);
    assert_eq!(merged.status.code(), Some(1), "{merged:?}");
}

/// The shards' reports with the failing account's entry replaced by a copy of a
/// succeeding neighbour's (its plan position kept): the neighbour listed twice, the
/// failure hidden. Returns the reports and the neighbour.
fn listed_twice(run: &Run) -> (Vec<Value>, String) {
    let neighbour = neighbour(run);
    let mut reports = run.shards.clone();
    let shard = &mut reports[run.failing_shard()];
    let copy = shard["entries"][position_of(shard, &neighbour)].clone();
    let at = position_of(shard, &run.failing);
    entries(shard)[at] = copy;
    (reports, neighbour)
}

/// An account listed twice merged with exit 0, hiding the failure.
#[test]
fn an_account_listed_twice_is_refused_naming_it() {
    let run = Run::new();
    let (reports, neighbour) = listed_twice(&run);

    let merged = run.merge(&reports);
    assert_refused_naming(
        &merged,
        &[&format!("shard-{}.json", run.failing_shard()), &neighbour],
    );
}

/// An account id that is in no plan (in the failing account's place, with a hash that
/// puts it in that shard) was accepted: exit 0.
#[test]
fn an_account_outside_the_plan_is_refused_naming_it() {
    let run = Run::new();
    let index = run.failing_shard();
    let stranger = (0..)
        .map(|i| (990_000_000_000u64 + i).to_string())
        .find(|candidate| xacct::shard::shard_of(candidate, SHARDS) as usize == index)
        .unwrap();
    let mut reports = run.shards.clone();
    let shard = &mut reports[index];
    let at = position_of(shard, &run.failing);
    let mut forged = shard["entries"][position_of(shard, &neighbour(&run))].clone();
    forged["account_id"] = json!(stranger);
    forged["alias"] = json!("stranger");
    forged["scope"] = json!([stranger]);
    entries(shard)[at] = forged;

    let merged = run.merge(&reports);
    assert_refused_naming(&merged, &[&format!("shard-{index}.json"), &stranger]);
}

/// The failing shard swapped for the same shard of another plan (another input, under
/// which nothing fails) with the plan hash copied over: merged with exit 0.
#[test]
fn a_shard_of_another_plan_is_refused_even_with_the_plan_hash_copied() {
    let run = Run::new();
    let index = run.failing_shard();
    let mut other = shard(&run.world, index as u32, r#"{"mode": "echo"}"#);
    assert_ne!(other["plan_hash"], run.shards[index]["plan_hash"]);
    other["plan_hash"] = run.shards[index]["plan_hash"].clone();
    let mut reports = run.shards.clone();
    reports[index] = other;

    let merged = run.merge(&reports);
    assert_refused_naming(&merged, &[&format!("shard-{index}.json"), "plan"]);
}

/// Counters that overflow `u64` when added wrap in a release build (and panic in a debug
/// one): the merge must refuse them, naming the counter and its account.
#[test]
fn counters_that_overflow_when_added_are_refused() {
    let run = Run::new();
    let mut reports = run.shards.clone();
    reports[0]["assume_role_calls"] = json!({ run.failing.clone(): u64::MAX });
    reports[1]["assume_role_calls"] = json!({ run.failing.clone(): 1 });

    let merged = run.merge(&reports);
    assert!(!merged.stderr.contains("panicked"), "{}", merged.stderr);
    assert_refused_naming(&merged, &["assume_role_calls", &run.failing]);
}

/// An account id holding escape codes reached the operator's terminal raw through the
/// top-level `error:` line: every byte of it must arrive inert (escaped as the table
/// escapes it), and the merge still refuses.
#[test]
fn an_account_id_with_escape_codes_reaches_stderr_inert() {
    let run = Run::new();
    let hostile = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m";
    // In the shard its hash does not put it in, which today's merge reports by id.
    let elsewhere = 1 - xacct::shard::shard_of(hostile, SHARDS) as usize;
    let mut reports = run.shards.clone();
    entries(&mut reports[elsewhere])[0]["account_id"] = json!(hostile);

    let merged = run.merge(&reports);
    assert_eq!(merged.status.code(), Some(2), "{merged:?}");
    let text = &merged.stderr;
    for (raw, name) in [('\u{1b}', "ESC"), ('\u{7}', "BEL")] {
        assert!(!text.contains(raw), "a raw {name} reached stderr: {text:?}");
    }
    assert!(
        !text.contains('\u{9b}'),
        "a raw CSI reached stderr: {text:?}"
    );
    assert!(
        text.contains(r"\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m"),
        "the id is shown escaped: {text:?}"
    );
}

#[cfg(feature = "lambda")]
/// The Lambda function's merge event (`{"reports": [...]}`) uses the same merge: the
/// account listed twice is refused there too, as the invocation's error naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_merge_event_refuses_an_account_listed_twice() {
    use crate::aws::lambda::{Answer, RuntimeApi, start_function};
    let run = Run::new();
    let (reports, neighbour) = listed_twice(&run);

    let api = std::sync::Arc::new(RuntimeApi::default());
    let address = api.clone().serve().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut function = start_function(address, run.world.dir.path(), tmp.path(), &[]);
    api.invoke("merge", json!({ "reports": reports }));
    let answer = api.answer_to("merge").await;
    function.kill().unwrap();
    function.wait().unwrap();
    let merged = match answer {
        Answer::Error(error) => {
            assert!(error.to_string().contains(&neighbour), "{error}");
            return;
        }
        Answer::Response(merged) => merged,
    };
    let accounts: Vec<&Value> = merged["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["account_id"])
        .collect();
    panic!("the tampered reports merged: {accounts:?}");
}
