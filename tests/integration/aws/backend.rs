//! The AWS backend against a real STS + S3 protocol server (moto, with IAM enforced):
//! the home identity assumes a role in each account, plugins act in exactly that
//! account, and no credential reaches them.

use crate::common;

use std::collections::BTreeMap;

use common::conformance::{bucket_config, config_write, versions};
use common::moto::{self, Home, Moto, ROLE, Target};
use common::{ACCOUNTS, World, failed, ok, step_error, step_ok};
use serde_json::json;
use xacct::aws::SessionSpec;
use xacct::pipeline::Service;
use xacct::plan::Mode;
use xacct::report::Report;

const ALL_S3: &[&str] = &["s3:*"];
const READ_ONLY: &[&str] = &["s3:ListAllMyBuckets", "s3:ListBucket", "s3:GetObject"];

/// moto with the three accounts: dev and staging assumable, prod as `prod` says.
async fn deployment(prod: Target<'_>, staging_actions: &[&str]) -> (Moto, Home) {
    let moto = Moto::start();
    let home = moto::seed(
        &moto,
        &[
            Target {
                id: ACCOUNTS[0].0,
                buckets: &["dev-data", "dev-conf-a", "dev-conf-b"],
                s3_actions: ALL_S3,
                assumable: true,
            },
            Target {
                id: ACCOUNTS[1].0,
                buckets: &["staging-data"],
                s3_actions: staging_actions,
                assumable: true,
            },
            prod,
        ],
    )
    .await;
    (moto, home)
}

fn prod(assumable: bool) -> Target<'static> {
    Target {
        id: ACCOUNTS[2].0,
        buckets: &["prod-data"],
        s3_actions: ALL_S3,
        assumable,
    }
}

fn world(moto: &Moto, home: &Home, guests: &[&str]) -> World {
    World::aws(guests, &moto.endpoint, ROLE, home.provider())
}

/// Nothing the plugins returned or printed contains the home identity's keys.
fn assert_no_credentials(report: &Report, home: &Home) {
    let mut seen = serde_json::to_string(report).unwrap();
    for entry in &report.entries {
        seen.push_str(&entry.stdout);
        seen.push_str(&entry.stderr);
    }
    assert!(
        !seen.contains(&home.access_key_id),
        "the access key id leaked"
    );
    assert!(!seen.contains(&home.secret_access_key), "the secret leaked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_account_sees_exactly_its_own_buckets_with_one_assume_role_each() {
    let (moto, home) = deployment(prod(true), ALL_S3).await;
    let world = world(&moto, &home, &["hello"]);
    moto.enforce_iam();
    let expected = [
        vec!["dev-conf-a", "dev-conf-b", "dev-data"],
        vec!["staging-data"],
        vec!["prod-data"],
    ];
    // Three runs in one process: the assumed credentials are reused.
    for _ in 0..3 {
        let report = world.run("hello", json!({}), Mode::PerAccount).await;
        for (entry, buckets) in report.entries.iter().zip(&expected) {
            assert_eq!(ok(entry)["buckets"], json!(buckets), "{}", entry.account_id);
        }
        let once: BTreeMap<String, u64> =
            ACCOUNTS.iter().map(|(id, _)| (id.to_string(), 1)).collect();
        assert_eq!(report.assume_role_calls, once);
        assert_no_credentials(&report, &home);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_backend_passes_the_conformance_suite() {
    let (moto, home) = deployment(prod(true), ALL_S3).await;
    let world = world(&moto, &home, &["s3script"]);
    moto.enforce_iam();
    common::conformance::check(&world, "dev-conf-a", "dev-conf-b").await;
}

/// Puts the settings of `bucket_config::planted_settings_file` on `bucket` with S3's own
/// APIs (the policy before the public access block, which would refuse a public one;
/// ownership before logging, whose target must then let the logging service in by policy).
async fn plant_settings(s3: &aws_sdk_s3::Client, bucket: &str) {
    use aws_sdk_s3::types::*;
    let policy = bucket_config::planted_policy(bucket).to_string();
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let block = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(false)
        .restrict_public_buckets(false)
        .build();
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(block)
        .send()
        .await
        .unwrap();
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id(bucket_config::PLANTED_KMS_KEY)
        .build()
        .unwrap();
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(by_default)
        .bucket_key_enabled(true)
        .build();
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .unwrap();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(encryption)
        .send()
        .await
        .unwrap();
    let versioning = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Enabled)
        .build();
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(versioning)
        .send()
        .await
        .unwrap();
    let ownership = OwnershipControls::builder()
        .rules(
            OwnershipControlsRule::builder()
                .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    s3.put_bucket_ownership_controls()
        .bucket(bucket)
        .ownership_controls(ownership)
        .send()
        .await
        .unwrap();
    let rule = LifecycleRule::builder()
        .id("expire")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("logs/").build())
        .expiration(LifecycleExpiration::builder().days(365).build())
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(7)
                .build(),
        )
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(3)
                .build(),
        )
        .transitions(
            Transition::builder()
                .days(60)
                .storage_class(TransitionStorageClass::Glacier)
                .build(),
        )
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let logging = LoggingEnabled::builder()
        .target_bucket(bucket)
        .target_prefix("access/")
        .build()
        .unwrap();
    s3.put_bucket_logging()
        .bucket(bucket)
        .bucket_logging_status(
            BucketLoggingStatus::builder()
                .logging_enabled(logging)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let tags = [("cost", "42"), ("team", "ops")].map(|(key, value)| {
        aws_sdk_s3::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .unwrap()
    });
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(
            Tagging::builder()
                .set_tag_set(Some(tags.to_vec()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_backend_passes_the_bucket_configuration_conformance_suite() {
    let (moto, home) = deployment(prod(true), ALL_S3).await;
    plant_settings(&moto.s3_in(ACCOUNTS[0].0).await, "dev-conf-b").await;
    moto.block_public_access_of_account(ACCOUNTS[0].0).await;
    let world = world(&moto, &home, &["s3script"]);
    moto.enforce_iam();
    bucket_config::check(&world, "dev-conf-a", "dev-conf-b").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_backend_passes_the_bucket_configuration_write_conformance_suite() {
    let (moto, home) = deployment(prod(true), ALL_S3).await;
    for bucket in ["dev-cw-fresh", "dev-cw-dry", "dev-cw-plain", "dev-cw-keyed"] {
        moto.create_bucket_in(ACCOUNTS[0].0, "us-east-1", bucket)
            .await;
    }
    let world = world(&moto, &home, &["s3script"]);
    let refusing = World::aws_with_grants(
        &["s3script"],
        &moto.endpoint,
        ROLE,
        home.provider(),
        &config_write::refusals_grant("dev-cw-keyed"),
    );
    moto.enforce_iam();
    config_write::check(&world, "dev-cw-fresh").await;
    config_write::dry_run(&world, "dev-cw-dry").await;
    config_write::refusals(&refusing, "dev-cw-plain", "dev-cw-keyed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_backend_passes_the_versions_conformance_suite() {
    let (moto, home) = deployment(prod(true), ALL_S3).await;
    moto.enable_versioning(ACCOUNTS[0].0, "dev-conf-b").await;
    let world = world(&moto, &home, &["s3script"]);
    moto.enforce_iam();
    versions::check(&world, "dev-conf-b", "dev-conf-a").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_page_through_more_than_a_thousand_keys() {
    let (moto, home) = deployment(prod(true), ALL_S3).await;
    let s3 = moto.s3_in(ACCOUNTS[1].0).await;
    let puts = (0..1050).map(|i| {
        let s3 = s3.clone();
        async move {
            s3.put_object()
                .bucket("staging-data")
                .key(format!("k/{i:04}"))
                .body(vec![b'x'; i % 5].into())
                .send()
                .await
                .unwrap()
        }
    });
    futures::future::join_all(puts).await;
    let world = world(&moto, &home, &["inventory", "s3script"]);
    moto.enforce_iam();

    let report = world.run("inventory", json!({}), Mode::PerAccount).await;
    let staging = ok(&report.entries[1]);
    assert_eq!(staging["objects"], 1050);
    assert_eq!(staging["bytes"], (0..1050).map(|i| i % 5).sum::<usize>());

    let steps =
        json!([{"op": "list_all", "account": "staging", "bucket": "staging-data", "prefix": "k/"}]);
    let listed = world.script(steps).await;
    let listed = step_ok(&listed[0]);
    assert_eq!(listed["pages"], 2);
    let keys: Vec<String> = (0..1050).map(|i| format!("k/{i:04}")).collect();
    assert_eq!(listed["keys"], json!(keys));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicate_streams_64_mib_across_accounts_as_a_multipart_upload() {
    let (moto, home) = deployment(prod(true), ALL_S3).await;
    let body: Vec<u8> = (0..64u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let dev = moto.s3_in(ACCOUNTS[0].0).await;
    dev.put_object()
        .bucket("dev-data")
        .key("big/blob.bin")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    dev.put_object()
        .bucket("dev-data")
        .key("big/small.txt")
        .content_type("text/plain")
        .body(b"small".to_vec().into())
        .send()
        .await
        .unwrap();
    dev.put_object()
        .bucket("dev-data")
        .key("other.txt")
        .body(b"not copied".to_vec().into())
        .send()
        .await
        .unwrap();
    let world = world(&moto, &home, &["replicate"]);
    moto.enforce_iam();

    let input = json!({
        "source": {"account": "dev", "bucket": "dev-data"},
        "target": {"account": "prod", "bucket": "prod-data"},
        "prefix": "big/",
    });
    let report = world.run("replicate", input, Mode::AllAccounts).await;
    let output = ok(&report.entries[0]);
    assert_eq!(output["copied"], 2);
    assert_eq!(output["keys"], json!(["big/blob.bin", "big/small.txt"]));
    assert_no_credentials(&report, &home);

    // Read back as the prod account itself: byte for byte, and no upload left open.
    let prod = moto.s3_as_home(&home, ACCOUNTS[2].0).await;
    let copied = prod
        .get_object()
        .bucket("prod-data")
        .key("big/blob.bin")
        .send()
        .await
        .unwrap();
    let etag = copied.e_tag().unwrap_or_default().to_owned();
    let copied = copied.body.collect().await.unwrap().into_bytes();
    assert_eq!(copied.len(), body.len());
    assert!(copied[..] == body[..], "the copy is byte-exact");
    assert!(
        etag.ends_with("-8\""),
        "a multipart upload of 8 parts, ETag {etag}"
    );
    let small = prod
        .get_object()
        .bucket("prod-data")
        .key("big/small.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(small.content_type(), Some("text/plain"));
    let uploads = prod
        .list_multipart_uploads()
        .bucket("prod-data")
        .send()
        .await
        .unwrap();
    assert!(
        uploads.uploads().is_empty(),
        "no multipart upload left behind"
    );
    let listed = prod
        .list_objects_v2()
        .bucket("prod-data")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_assume_role_fails_that_account_only() {
    let (moto, home) = deployment(prod(false), ALL_S3).await;
    let world = world(&moto, &home, &["hello"]);
    moto.enforce_iam();
    let report = world.run("hello", json!({}), Mode::PerAccount).await;
    ok(&report.entries[0]);
    ok(&report.entries[1]);
    let (kind, message) = failed(&report.entries[2]);
    assert_eq!(kind, "credentials");
    assert!(
        message.contains("AssumeRole into arn:aws:iam::333333333333:role/xacct-target"),
        "{message}"
    );
    // The operator reads which service refused, and how.
    assert!(
        message.contains("STS") && message.contains("HTTP 403"),
        "{message}"
    );
    assert_no_credentials(&report, &home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_the_role_denies_is_access_denied_in_the_guest() {
    let (moto, home) = deployment(prod(true), READ_ONLY).await;
    let s3 = moto.s3_in(ACCOUNTS[1].0).await;
    s3.put_object()
        .bucket("staging-data")
        .key("doc.txt")
        .body(b"readable".to_vec().into())
        .send()
        .await
        .unwrap();
    let world = world(&moto, &home, &["s3script"]);
    moto.enforce_iam();
    let results = world
        .script(json!([
            {"op": "get", "account": "staging", "bucket": "staging-data", "key": "doc.txt"},
            {"op": "put", "account": "staging", "bucket": "staging-data", "key": "new.txt", "body": "x"},
            {"op": "delete", "account": "staging", "bucket": "staging-data", "key": "doc.txt"},
            {"op": "buckets", "account": "staging"},
        ]))
        .await;
    assert_eq!(step_ok(&results[0])["body"], "readable");
    for denied in &results[1..3] {
        assert_eq!(step_error(denied), "access-denied", "{denied}");
        let message = denied["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("denied by AWS") && message.contains("(by the backend)"),
            "{message}"
        );
    }
    step_ok(&results[3]);
}

/// A plugin that passes on AWS's refusal (replicate's `?`) is pointed at IAM, not at
/// the plugin: the entry counts the call AWS refused apart from the grant's refusals and
/// names the refused action and resource; the page shows it under its own heading.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_caused_by_an_aws_denial_names_the_action_and_resource() {
    let (moto, home) = deployment(prod(true), READ_ONLY).await;
    let dev = moto.s3_in(ACCOUNTS[0].0).await;
    dev.put_object()
        .bucket("dev-data")
        .key("2026/doc.txt")
        .body(b"to copy".to_vec().into())
        .send()
        .await
        .unwrap();
    let world = world(&moto, &home, &["replicate"]);
    moto.enforce_iam();
    let input = json!({
        "source": {"account": "dev", "bucket": "dev-data"},
        "target": {"account": "staging", "bucket": "staging-data"},
        "prefix": "2026/",
    });
    let report = world.run("replicate", input, Mode::AllAccounts).await;
    let entry = &report.entries[0];
    let (kind, message) = failed(entry);
    assert_eq!(kind, "plugin-error");
    assert!(message.contains("denied by AWS"), "{message}");
    assert_eq!(
        (entry.usage.denied_calls, entry.usage.aws_denied_calls),
        (0, 1),
        "the grant allowed the put; AWS refused it"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["entries"][0]["error"]["denied_by_aws"],
        json!({"action": "s3:PutObject", "resource": "arn:aws:s3:::staging-data/2026/doc.txt"})
    );
    assert_no_credentials(&report, &home);

    let page = world.dir.path().join("denied.html");
    let html = xacct_report_html::render(&json, &xacct_report_html::Options::default()).unwrap();
    std::fs::write(&page, html).unwrap();
    common::browser::check_run_page(
        &page,
        &json!({
            "name": "aws-denied",
            "total": 1,
            "counts": {"ok": 0, "error": 1, "skipped": 0},
            "search": {"text": "staging-data", "matches": 1},
            "header": ["replicate", "all-accounts"],
            "denied_groups": 1,
            // One account's denial: the recap and the detail name the exact resource.
            "denied_shows": ["s3:PutObject on arn:aws:s3:::staging-data/2026/doc.txt"],
            "detail": {"account": "*", "shows": ["arn:aws:s3:::staging-data/2026/doc.txt"]},
        }),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_iam_and_run_from_the_command_line() {
    let (moto, home) = deployment(prod(false), ALL_S3).await;
    let world = world(&moto, &home, &["hello"]);
    moto.enforce_iam();

    let check = world
        .xacct()
        .home(&home)
        .args(["check", "--output", "json"])
        .output();
    assert_eq!(check.code(), Some(1), "prod cannot be assumed: {check:?}");
    let rows = check.json();
    for (row, (id, alias)) in rows.as_array().unwrap().iter().zip(&ACCOUNTS[..2]) {
        assert_eq!(
            (row["account_id"].as_str(), row["alias"].as_str()),
            (Some(*id), Some(*alias))
        );
        assert_eq!(row["status"], "ok");
        assert_eq!(
            row["assumed_role_arn"],
            format!("arn:aws:sts::{id}:assumed-role/{ROLE}/xacct-check")
        );
    }
    assert_eq!(rows[2]["status"], "error");
    assert!(
        rows[2]["error"].as_str().unwrap().contains("403"),
        "{}",
        rows[2]
    );
    assert!(!check.stdout.contains(&home.secret_access_key));

    let iam = world.xacct().home(&home).arg("iam").output();
    assert_eq!(iam.code(), Some(0), "{}", iam.stderr);
    let documents = iam.json();
    let home_principal = format!("arn:aws:iam::{}:user/xacct-home", moto::HOME_ACCOUNT);
    assert_eq!(documents["home_principal"], home_principal);
    let roles: Vec<String> = ACCOUNTS
        .iter()
        .map(|(id, _)| format!("arn:aws:iam::{id}:role/{ROLE}"))
        .collect();
    assert_eq!(
        documents["home_policy"]["Statement"][0]["Resource"],
        json!(roles)
    );
    // No session tags by default: roles as they exist need no sts:TagSession.
    let assume = json!(["sts:AssumeRole"]);
    assert_eq!(documents["home_policy"]["Statement"][0]["Action"], assume);
    for (role, (id, _)) in documents["roles"].as_array().unwrap().iter().zip(ACCOUNTS) {
        assert_eq!(role["account"], id);
        let statement = &role["trust_policy"]["Statement"][0];
        assert_eq!(statement["Principal"]["AWS"], home_principal);
        assert_eq!(statement["Action"], assume);
        // Every plugin of this config may do everything: the role needs all of it.
        let permissions = role["permission_policy"]["Statement"].as_array().unwrap();
        assert!(
            permissions.iter().any(|s| s["Action"] == "s3:ListBucket"),
            "{permissions:?}"
        );
    }

    let run = world
        .xacct()
        .home(&home)
        .args(["run", "hello", "--output", "json"])
        .output();
    assert_eq!(run.code(), Some(1), "{}", run.stderr);
    let report = run.json();
    assert_eq!(
        report["entries"][0]["output"]["buckets"],
        json!(["dev-conf-a", "dev-conf-b", "dev-data"])
    );
    assert_eq!(
        report["entries"][1]["output"]["buckets"],
        json!(["staging-data"])
    );
    assert_eq!(report["entries"][2]["error"]["kind"], "credentials");
    assert_eq!(report["assume_role_calls"]["111111111111"], 1);
    assert!(
        !run.stdout.contains(&home.access_key_id) && !run.stderr.contains(&home.secret_access_key)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_uses_share_one_assume_role() {
    let (moto, home) = deployment(prod(true), ALL_S3).await;
    let world = world(&moto, &home, &[]);
    moto.enforce_iam();
    let Service::Aws(aws) = world.service().await else {
        panic!("an [aws] world has AWS sessions")
    };
    let sessions = aws.sessions();
    let session = sessions
        .session(ACCOUNTS[0].0, &SessionSpec::host("many"))
        .unwrap();
    let uses = (0..16).map(|_| session.ensure_credentials());
    for result in futures::future::join_all(uses).await {
        result.unwrap();
    }
    assert_eq!(sessions.assume_role_calls()[ACCOUNTS[0].0], 1);
    // Another plugin gets a session of its own.
    let other = sessions
        .session(ACCOUNTS[0].0, &SessionSpec::host("other"))
        .unwrap();
    other.ensure_credentials().await.unwrap();
    assert_eq!(sessions.assume_role_calls()[ACCOUNTS[0].0], 2);
    assert_eq!(sessions.assume_role_calls()[ACCOUNTS[1].0], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_large_put_leaves_no_object_and_no_multipart_upload() {
    let (moto, home) = deployment(prod(true), ALL_S3).await;
    let world = world(&moto, &home, &["s3script"]);
    moto.enforce_iam();
    // 12 MiB: past the first 8 MiB part, so a multipart upload was started.
    let chunk = "x".repeat(1 << 20);
    let steps = json!([
        {"op": "put_abandon", "bucket": "dev-data", "key": "abandoned", "body": chunk, "repeat": 12},
        {"op": "head", "bucket": "dev-data", "key": "abandoned"},
    ]);
    let results = world.script(steps).await;
    step_ok(&results[0]);
    assert_eq!(step_error(&results[1]), "not-found");
    // The invocation ended only after the backend aborted the upload.
    let dev = moto.s3_as_home(&home, ACCOUNTS[0].0).await;
    let uploads = dev
        .list_multipart_uploads()
        .bucket("dev-data")
        .send()
        .await
        .unwrap();
    assert!(
        uploads.uploads().is_empty(),
        "the multipart upload was aborted"
    );
}
