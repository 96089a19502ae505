//! Issue 18, Organizations side: listing an organization as AWS serves it — throttled
//! (`TooManyRequestsException` is normal at Organizations' request rates), and with a
//! management account that has no `OrganizationAccountAccessRole` — through the
//! S3/STS-semantics shim (`common::shim`). Each test names the rule it stands for; each
//! fails against the host as it was when the issue was filed.

use std::path::Path;

use super::organizations::{create_member, new_organization, organization, tag_account};
use crate::common;
use common::moto::{HOME_ACCOUNT, Moto};
use common::shim::Faults;
use common::{ConfigBuilder, Xacct};
use serde_json::Value;

/// Writes a config over the organization (after `[aws]`: `extra`) and runs `xacct args`.
fn xacct(dir: &Path, moto: &Moto, extra: &str, args: &[&str]) -> (Option<i32>, String, String) {
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    std::fs::copy(common::guest("hello"), dir.join("plugins/hello.wasm")).unwrap();
    ConfigBuilder::aws(&moto.endpoint).section(extra).write(dir);
    let outcome = Xacct::in_dir(dir)
        .env("AWS_ACCESS_KEY_ID", "AKIAXACCTORGTEST0001")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .args(args)
        .output();
    (outcome.code(), outcome.stdout, outcome.stderr)
}

/// `xacct accounts --output json` over the organization: the accounts, and the log.
fn list_accounts(dir: &Path, moto: &Moto) -> (Value, String) {
    let (code, stdout, stderr) = xacct(
        dir,
        moto,
        "[organization]\n",
        &["accounts", "--output", "json"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    (serde_json::from_str(&stdout).unwrap(), stderr)
}

/// The ids of a JSON report's entries, and whether each succeeded.
fn entries(report: &Value) -> Vec<(String, bool)> {
    report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["account_id"].as_str().unwrap().to_owned(),
                e["status"] == "ok",
            )
        })
        .collect()
}

/// Stands for Organizations' request rates ("Quotas for AWS Organizations",
/// Organizations User Guide; throttled calls answer `TooManyRequestsException`): a run
/// whose selectors and grants read no tag needs no `ListTagsForResource`, so throttled
/// tag listings cost it nothing. Today the host lists every account's tags, one by one,
/// and one failure after retries aborts the whole listing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_reads_no_tag_needs_no_tag_listing() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    moto.inject(Faults {
        tags_throttle_every: 1,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = xacct(
        dir.path(),
        &moto,
        "[organization]\n[plugin.hello]\naccounts = [\"*\"]\ns3 = [{ buckets = \"*\", actions = [\"list\"] }]\n",
        &["run", "hello", "--output", "json"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let ran: Vec<String> = entries(&report).into_iter().map(|(id, _)| id).collect();
    assert!(
        ran.contains(&org.in_apps) && ran.contains(&org.at_root),
        "{ran:?}"
    );
}

/// Stands for the same rates when tags are read ("Quotas for AWS Organizations",
/// Organizations User Guide: requests are throttled past a few per second, with
/// `TooManyRequestsException`): the host lists tags a few at a time, never one request
/// per account all at once, and a throttled listing is sent again (the SDK's retries,
/// with backoff) rather than losing the account's tags. The shim holds each listing
/// long enough for the ones sent together to be in flight together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_listed_a_few_at_a_time_and_throttled_listings_retried() {
    let moto = Moto::start();
    let (org, root) = new_organization(&moto).await;
    let mut members = Vec::new();
    for i in 0..12 {
        let id = create_member(&org, &root, &format!("member-{i}"), None).await;
        tag_account(&org, &id, "n", &i.to_string()).await;
        members.push(id);
    }
    let dir = tempfile::tempdir().unwrap();
    let list = |faults: Faults| {
        moto.inject(faults);
        list_accounts(dir.path(), &moto)
    };
    let delay = Some(std::time::Duration::from_millis(200));
    list(Faults {
        tags_delay: delay,
        ..Faults::default()
    });
    assert_eq!(
        moto.injected().tag_listings_in_flight_max,
        4,
        "at most 4 tag listings at once, and that many (12 accounts to list)"
    );
    let throttles_before = moto.injected().tag_throttles;
    let (accounts, stderr) = list(Faults {
        tags_throttle_first_of_each_account: true,
        tags_delay: delay,
        ..Faults::default()
    });
    let injected = moto.injected();
    assert_eq!(
        injected.tag_throttles - throttles_before,
        12,
        "each account's first listing throttled: {injected:?}"
    );
    assert_eq!(injected.tag_listings_in_flight_max, 4, "{injected:?}");
    for (i, id) in members.iter().enumerate() {
        let listed = accounts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not listed: {accounts}"));
        assert_eq!(
            listed["tags"]["n"],
            i.to_string(),
            "throttled, retried: {stderr}"
        );
    }
}

/// Stands for the same rates when tags are read: one account's tags that cannot be
/// listed (throttled however often it is retried) leave that account's tags empty, with a
/// warning, instead of aborting the listing of every account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_accounts_unlistable_tags_do_not_abort_the_listing() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    moto.inject(Faults {
        tags_always_throttled_for: Some(org.in_sandbox.clone()),
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (accounts, stderr) = list_accounts(dir.path(), &moto);
    assert!(
        stderr.contains(&org.in_sandbox),
        "the warning names the account: {stderr}"
    );
    let tags_of = |id: &str| {
        accounts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .map(|a| a["tags"].clone())
    };
    assert_eq!(tags_of(&org.in_apps).unwrap()["team"], "blue");
    assert_eq!(
        tags_of(&org.in_sandbox).unwrap(),
        serde_json::json!({}),
        "no tags, listed all the same"
    );
}

/// Stands for the management account's roles ("Accessing member accounts in your
/// organization", Organizations User Guide: `OrganizationAccountAccessRole` is created in
/// accounts created through the organization; the management account has none): a run
/// over the organization leaves the management account out unless `include_management =
/// true`. Today it is listed, and its AssumeRole fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_account_is_left_out_of_an_organization_run() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    let dir = tempfile::tempdir().unwrap();
    let (_, stdout, stderr) = xacct(
        dir.path(),
        &moto,
        "[organization]\n[plugin.hello]\naccounts = [\"*\"]\ns3 = [{ buckets = \"*\", actions = [\"list\"] }]\n",
        &["run", "hello", "--output", "json"],
    );
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stderr}"));
    let mut ran = entries(&report);
    ran.sort();
    let mut expected: Vec<(String, bool)> = [org.in_apps, org.in_prod, org.in_sandbox, org.at_root]
        .into_iter()
        .map(|id| (id, true))
        .collect();
    expected.sort();
    assert_eq!(
        ran, expected,
        "the members, each ok, and not {HOME_ACCOUNT}: {stderr}"
    );
}
