//! `posture` with `{"fix": [...]}` remediates what its grant lets it change, verified by
//! reading the settings back (a second, read-only run), on both backends; `--dry-run`
//! plans the same writes and changes nothing; and the Python twin (`posture-py`) gives
//! the same output as the Rust plugin.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::moto::{Moto, ROLE};
use common::posture_estate::{self, Kind};
use common::{ACCOUNTS, World, ok};
use serde_json::{Value, json};
use xacct::pipeline::RunRequest;
use xacct::plan::Mode;
use xacct::report::Report;

use super::posture::{findings_of, settings_of};

/// A grant of reads and of the writes of `settings`, to both posture plugins.
fn grant(settings: &str) -> String {
    ["posture", "posture-py"]
        .map(|plugin| {
            format!(
                "[plugin.{plugin}]\naccounts = [\"*\"]\ns3 = [{{ buckets = \"*\", actions = [\"list\", \"config-read\", \"config-write\"], settings = {settings} }}]\n"
            )
        })
        .join("\n")
}

const FIX_ALL: &str = r#"{"fix": ["public-access-block", "encryption", "versioning"]}"#;

async fn run(world: &World, plugin: &str, input: &str, dry_run: bool) -> Report {
    let mut request = RunRequest::new(plugin, input, Mode::PerAccount);
    request.dry_run = dry_run;
    world.run_request(world.service().await, &request).await
}

fn all_on() -> Value {
    json!({"block_public_acls": true, "ignore_public_acls": true,
           "block_public_policy": true, "restrict_public_buckets": true})
}

fn codes(codes: &[&str]) -> BTreeSet<String> {
    codes.iter().map(|code| code.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posture_fixes_what_its_grant_names_on_the_local_backend_as_its_python_twin_says() {
    // Encryption is not granted: its fix is refused and said, the others go on.
    let world = World::local(
        &["posture", "posture-py"],
        &grant(r#"["public-access-block", "versioning"]"#),
    );
    let account = ACCOUNTS[0].0;
    let settings = world.data().join(".xacct/settings").join(account);
    std::fs::create_dir_all(&settings).unwrap();
    let kinds = [
        ("by-acl", Kind::PublicByAcl),
        ("by-policy", Kind::PublicByPolicy),
        ("compliant", Kind::Compliant),
        ("unencrypted", Kind::Unencrypted),
    ];
    for (bucket, kind) in kinds {
        world.bucket(account, bucket);
        let file = settings_of(kind, "compliant").to_string();
        std::fs::write(settings.join(format!("{bucket}.json")), file).unwrap();
    }
    let fixes = json!([
        {"bucket": "by-acl", "setting": "public-access-block", "before": null, "after": all_on()},
        {"bucket": "by-policy", "setting": "public-access-block", "before": null, "after": all_on()},
        {"bucket": "unencrypted", "setting": "versioning", "before": "Suspended", "after": "Enabled"},
    ]);

    // The plan: what would be fixed, and nothing changes.
    let planned = run(&world, "posture", FIX_ALL, true).await;
    let plan = ok(&planned.entries[0]);
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["fixed"], fixes);
    let not_fixed = plan["not_fixed"].as_array().unwrap();
    assert_eq!(not_fixed.len(), 1);
    assert_eq!(not_fixed[0]["bucket"], "unencrypted");
    assert_eq!(not_fixed[0]["setting"], "encryption");
    assert!(
        not_fixed[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("access denied by the xacct grant: config-write of encryption"),
        "{}",
        not_fixed[0]
    );
    let operations: Vec<(&str, &str)> = planned.entries[0]
        .planned
        .iter()
        .map(|p| (p.operation, p.bucket.as_str()))
        .collect();
    assert_eq!(
        operations,
        [
            ("PutPublicAccessBlock", "by-acl"),
            ("PutPublicAccessBlock", "by-policy"),
            ("PutBucketVersioning", "unencrypted"),
        ]
    );
    // The same, but for the grant the host's refusal names.
    let python_plan = run(&world, "posture-py", FIX_ALL, true).await;
    let python_plan = ok(&python_plan.entries[0]).to_string();
    assert_eq!(
        python_plan.replace("plugin.posture-py", "plugin.posture"),
        plan.to_string(),
        "the twins agree"
    );
    let untouched = findings_of(&run(&world, "posture", "{}", false).await);
    for (bucket, kind) in kinds {
        let planted: BTreeSet<String> = kind.findings().into_iter().map(str::to_owned).collect();
        assert_eq!(
            untouched[bucket], planted,
            "{bucket}: a dry run changes nothing"
        );
    }

    // The fix, then the settings read back.
    let fixed = run(&world, "posture", FIX_ALL, false).await;
    let output = ok(&fixed.entries[0]);
    assert_eq!(output["dry_run"], false);
    assert_eq!(output["fixed"], fixes);
    assert_eq!(output["not_fixed"], plan["not_fixed"]);
    let after = run(&world, "posture", "{}", false).await;
    let found = findings_of(&after);
    assert_eq!(found["by-acl"], codes(&["public-acl", "acls-enabled"]));
    assert_eq!(found["by-policy"], codes(&["public-policy"]));
    assert_eq!(
        found["unencrypted"],
        codes(&["unencrypted", "no-lifecycle", "no-logging"])
    );
    let python_after = run(&world, "posture-py", "{}", false).await;
    assert_eq!(
        ok(&python_after.entries[0]),
        ok(&after.entries[0]),
        "the twins agree"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posture_fixes_every_granted_finding_on_the_aws_backend() {
    let moto = Moto::start();
    let id = ACCOUNTS[0].0.to_string();
    let estate = posture_estate::seed(&moto, std::slice::from_ref(&id)).await;
    let world = World::aws_with_grants(
        &["posture"],
        &moto.endpoint,
        ROLE,
        estate.home.provider(),
        &grant(r#"["public-access-block", "encryption", "versioning"]"#)
            .replace("[\"*\"]", &format!("[{id:?}]")),
    );
    moto.enforce_iam();
    let bucket_of = |kind: Kind| {
        let planted = estate.buckets.iter().find(|b| b.kind == kind).unwrap();
        planted.name.clone()
    };
    let (public, unencrypted) = (
        bucket_of(Kind::PublicByPolicy),
        bucket_of(Kind::Unencrypted),
    );

    let planned = run(&world, "posture", FIX_ALL, true).await;
    assert_eq!(planned.entries[0].planned.len(), 3);
    let unchanged = findings_of(&run(&world, "posture", "{}", false).await);
    assert_eq!(
        unchanged[&unencrypted],
        codes(&Kind::Unencrypted.findings().into_iter().collect::<Vec<_>>())
    );

    let fixed = run(&world, "posture", FIX_ALL, false).await;
    let output = ok(&fixed.entries[0]);
    let mut by_bucket: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for fix in output["fixed"].as_array().unwrap() {
        by_bucket
            .entry(fix["bucket"].as_str().unwrap().to_owned())
            .or_default()
            .push(json!([fix["setting"], fix["before"], fix["after"]]));
    }
    assert_eq!(
        by_bucket[&public],
        [json!(["public-access-block", null, all_on()])]
    );
    assert_eq!(
        by_bucket[&unencrypted],
        [
            json!(["encryption", null, {"algorithm": "AES256", "kms_key_id": null, "bucket_key": false}]),
            json!(["versioning", null, "Enabled"]),
        ]
    );
    assert_eq!(output["not_fixed"], json!([]));
    let found = findings_of(&run(&world, "posture", "{}", false).await);
    assert_eq!(found[&public], codes(&["public-policy"]));
    assert_eq!(found[&unencrypted], codes(&["no-lifecycle", "no-logging"]));
    assert!(found[&bucket_of(Kind::Compliant)].is_empty());
}
