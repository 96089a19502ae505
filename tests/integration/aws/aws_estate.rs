//! A real AWS estate, as moto alone does not show it: buckets in several regions, roles
//! whose trust policies allow `sts:AssumeRole` and nothing more, one home identity for
//! many accounts, and errors that tell the operator what AWS said.
//!
//! Everything runs through the S3/STS-semantics shim (`common::shim`) in front of moto,
//! which answers as AWS does where moto is lenient: S3's region redirects (moto serves a
//! bucket from any region), and trust-policy conditions on `sts:TagSession`,
//! `sts:SetSourceIdentity` and `sts:ExternalId` (moto evaluates no trust policy).

use crate::common;
use common::moto::{self, HOME_ACCOUNT, Home, Moto, ROLE};
use common::{ACCOUNTS, ConfigBuilder, World, failed, ok, step_ok};
use serde_json::{Value, json};
use xacct::plan::Mode;

/// What each role may do: S3, and (for the test that fixes a trust policy in place)
/// change its own trust policy.
const ROLE_ACTIONS: &[&str] = &["s3:*", "iam:UpdateAssumeRolePolicy"];

/// Regional buckets of dev (account 0), with how many objects each holds.
const REGIONAL: [(&str, &str, usize); 3] = [
    ("dev-use1", "us-east-1", 2),
    ("dev-euw1", "eu-west-1", 3),
    ("dev-apse2", "ap-southeast-2", 1),
];

/// moto with the three accounts, all assumable; dev holds buckets in three regions.
async fn estate() -> (Moto, Home) {
    let moto = Moto::start();
    let ids: Vec<&str> = ACCOUNTS.iter().map(|(id, _)| *id).collect();
    let home = moto::seed_roles(&moto, &ids, ROLE_ACTIONS).await;
    for (bucket, region, objects) in REGIONAL {
        let s3 = moto.create_bucket_in(ACCOUNTS[0].0, region, bucket).await;
        for i in 0..objects {
            s3.put_object()
                .bucket(bucket)
                .key(format!("obj-{i}"))
                .body(format!("{bucket} object {i}").into_bytes().into())
                .send()
                .await
                .unwrap();
        }
    }
    (moto, home)
}

/// Stands for S3's region redirects: every operation on a bucket outside the account's
/// region reaches it through the bucket's own region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_in_three_regions_are_served_from_their_own_regions() {
    let (moto, home) = estate().await;
    let world = World::aws(
        &["inventory", "s3script"],
        &moto.endpoint,
        ROLE,
        home.provider(),
    );
    moto.enforce_iam();

    let report = world.run("inventory", json!({}), Mode::PerAccount).await;
    let dev = ok(&report.entries[0]);
    assert_eq!(dev["objects"], 6, "every object of every region: {dev}");
    let counts: Vec<(String, u64)> = dev["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_owned(),
                b["objects"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("dev-apse2".to_owned(), 1),
            ("dev-euw1".to_owned(), 3),
            ("dev-use1".to_owned(), 2)
        ]
    );

    let big = "m".repeat(1 << 20);
    let results = world
        .script(json!([
            {"op": "list", "bucket": "dev-euw1"},
            {"op": "head", "bucket": "dev-euw1", "key": "obj-0"},
            {"op": "get", "bucket": "dev-euw1", "key": "obj-1", "first": 0, "last": 7},
            {"op": "put", "bucket": "dev-apse2", "key": "new.txt", "body": "fresh"},
            // 12 MiB: a multipart upload, every part in ap-southeast-2.
            {"op": "put_abandon", "bucket": "dev-apse2", "key": "never", "body": big, "repeat": 12},
            {"op": "copy", "bucket": "dev-euw1", "key": "obj-2", "to_bucket": "dev-apse2", "to_key": "copied"},
            {"op": "get", "bucket": "dev-apse2", "key": "copied"},
            {"op": "tags_put", "bucket": "dev-apse2", "key": "copied", "tags": [["k", "v"]]},
            {"op": "tags_get", "bucket": "dev-apse2", "key": "copied"},
            {"op": "delete", "bucket": "dev-euw1", "key": "obj-0"},
            {"op": "delete_many", "bucket": "dev-euw1", "keys": ["obj-1"]},
            {"op": "list", "bucket": "dev-euw1"},
        ]))
        .await;
    assert_eq!(
        step_ok(&results[0])["keys"],
        json!(["obj-0", "obj-1", "obj-2"])
    );
    assert_eq!(step_ok(&results[1])["size"], "dev-euw1 object 0".len());
    assert_eq!(step_ok(&results[2])["body"], "dev-euw1");
    step_ok(&results[3]);
    step_ok(&results[4]);
    step_ok(&results[5]);
    assert_eq!(step_ok(&results[6])["body"], "dev-euw1 object 2");
    step_ok(&results[7]);
    assert_eq!(step_ok(&results[8]), &json!([["k", "v"]]));
    step_ok(&results[9]);
    assert_eq!(step_ok(&results[10])["failed"], json!([]));
    assert_eq!(step_ok(&results[11])["keys"], json!(["obj-2"]));

    // A large put that was finished lands whole, in its region.
    let results = world
        .script(json!([{"op": "put", "bucket": "dev-euw1", "key": "whole", "body": "x".repeat(9 << 20)}]))
        .await;
    assert_eq!(step_ok(&results[0])["size"], 9 << 20);
    let euw1 = moto.s3_as_home(&home, ACCOUNTS[0].0).await;
    let euw1 = aws_sdk_s3::Client::from_conf(
        euw1.config()
            .to_builder()
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .build(),
    );
    let uploads = euw1
        .list_multipart_uploads()
        .bucket("dev-apse2")
        .send()
        .await;
    // Listing ap-southeast-2's uploads through eu-west-1 is itself redirected: the bucket
    // was reached in its own region above, and nothing was left open there.
    assert!(uploads.is_err(), "the shim holds moto to S3's regions");
    let apse2 = aws_sdk_s3::Client::from_conf(
        euw1.config()
            .to_builder()
            .region(aws_sdk_s3::config::Region::new("ap-southeast-2"))
            .build(),
    );
    let uploads = apse2
        .list_multipart_uploads()
        .bucket("dev-apse2")
        .send()
        .await
        .unwrap();
    assert!(
        uploads.uploads().is_empty(),
        "the abandoned upload was aborted"
    );
}

/// The standard accounts on moto, each assuming [`ROLE`], with `aws` (keys of the
/// `[aws]` section) and every grant for hello.
fn hello_estate(moto: &Moto, home: &Home, aws: (&str, toml::Value)) -> World {
    let config = ConfigBuilder::aws(&moto.endpoint)
        .backend(aws.0, aws.1)
        .full_grants(&["hello"])
        .standard_accounts()
        .role_everywhere(ROLE);
    World::with_config(&["hello"], &config, Some(home.provider()))
}

/// Stands for STS's trust-policy check: session tags need `sts:TagSession`, a source
/// identity `sts:SetSourceIdentity`, in the role's trust policy — which roles operators
/// already have (e.g. `OrganizationAccountAccessRole`) do not allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_as_they_exist_work_without_tags_and_refusals_name_the_fix() {
    let (moto, home) = estate().await;
    let tagged = hello_estate(&moto, &home, ("session_tags", true.into()));
    let plain = World::aws(&["hello"], &moto.endpoint, ROLE, home.provider());
    moto.enforce_iam();

    let report = tagged.run("hello", json!({}), Mode::PerAccount).await;
    for entry in &report.entries {
        let (kind, message) = failed(entry);
        assert_eq!(kind, "credentials");
        assert!(
            message.contains("STS AccessDenied (HTTP 403)")
                && message.contains("not authorized to perform: sts:TagSession")
                && message.contains("request id")
                && message.contains("must allow sts:TagSession")
                && message.contains("session_tags = false"),
            "{message}"
        );
    }
    let report = plain.run("hello", json!({}), Mode::PerAccount).await;
    assert!(report.all_ok(), "{:?}", report.entries);

    // `xacct check` gives the operator AWS's own reason, per account.
    let check = tagged
        .xacct()
        .home(&home)
        .args(["check", "--output", "json"])
        .output();
    assert_eq!(check.code(), Some(1), "{}", check.stderr);
    let rows = check.json();
    for row in rows.as_array().unwrap() {
        let error = row["error"].as_str().unwrap();
        assert!(
            error.contains("AccessDenied") && error.contains("sts:TagSession"),
            "{error}"
        );
        assert!(
            !error.contains("Error::") && !error.contains("Some("),
            "no debug syntax: {error}"
        );
    }

    // Once the trust policy allows tagging, the tagged sessions work.
    let iam = moto.iam_as_home(&home, ACCOUNTS[0].0).await;
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{HOME_ACCOUNT}:user/xacct-home")},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
    }]});
    iam.update_assume_role_policy()
        .role_name(ROLE)
        .policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let retagged = hello_estate(&moto, &home, ("session_tags", true.into()));
    let report = retagged.run("hello", json!({}), Mode::PerAccount).await;
    ok(&report.entries[0]);
    failed(&report.entries[1]);

    // A source identity needs sts:SetSourceIdentity: named when refused.
    let sourced = hello_estate(&moto, &home, ("source_identity", "caller".into()));
    let report = sourced.run("hello", json!({}), Mode::PerAccount).await;
    let (_, message) = failed(&report.entries[0]);
    assert!(message.contains("sts:SetSourceIdentity"), "{message}");
}

/// A home identity from a chained profile (a `role_arn` whose `source_profile` is a
/// `credential_process`) serves a hundred accounts with one run of the process and
/// 1 + N AssumeRoles; the run checks it once up front; a broken one is one clear failure
/// (exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_home_identity_serves_a_hundred_accounts() {
    const N: usize = 100;
    let moto = Moto::start();
    let ids: Vec<String> = (0..N)
        .map(|i| (700_000_000_000u64 + i as u64).to_string())
        .collect();
    let home = moto::seed_accounts(&moto, &ids, |i| format!("estate-{i:03}")).await;
    let runner = moto::seed_home_role(&moto, "xacct-runner").await;
    moto.enforce_iam();
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("runs");
    let script = dir.path().join("home-credentials.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> '{}'\nprintf '{{\"Version\": 1, \"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"%s\"}}' '{}' '{}'\n",
            counter.display(),
            home.access_key_id,
            home.secret_access_key
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let aws_config = dir.path().join("aws-config");
    std::fs::write(
        &aws_config,
        format!(
            "[profile home]\nrole_arn = {runner}\nsource_profile = base\n[profile base]\ncredential_process = {}\n",
            script.display()
        ),
    )
    .unwrap();
    // No region in the file: it comes from the environment, the AWS way.
    let config = ConfigBuilder::aws(&moto.endpoint)
        .without_backend("region")
        .backend("profile", "home")
        .full_grants(&["hello"])
        .accounts(
            ids.iter()
                .enumerate()
                .map(|(i, id)| (id, format!("e{i:03}"))),
        )
        .role_everywhere(ROLE);
    let world = World::with_config(&["hello"], &config, None);
    let aws_config = aws_config.display().to_string();
    // The profile's own STS calls go to the endpoint the SDK's shared config names.
    let env = [
        ("AWS_CONFIG_FILE", aws_config.as_str()),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
    ];

    let seeded = moto.assumed_roles().len();
    let run = world
        .xacct()
        .envs(&env)
        .args(["run", "hello", "--output", "json"])
        .output();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["entries"].as_array().unwrap().len(), N);
    let runs = std::fs::read_to_string(&counter).unwrap();
    assert_eq!(
        runs.lines().count(),
        1,
        "the credential process ran once for {N} accounts"
    );
    let assumed: Vec<Value> = moto.assumed_roles()[seeded..].to_vec();
    assert_eq!(
        assumed.len(),
        1 + N,
        "the profile's role once, then one per account"
    );
    let runners = assumed
        .iter()
        .filter(|r| r["role_arn"] == runner.as_str())
        .count();
    assert_eq!(runners, 1, "the chained profile's role was assumed once");

    // Without a region anywhere, the run says where to put one.
    let run = world
        .xacct()
        .envs(&env[..2])
        .args(["run", "hello"])
        .output();
    assert_eq!(run.code(), Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("no home region"), "{}", run.stderr);

    // A home identity STS refuses fails the run once, up front.
    let bogus = [
        ("AWS_ACCESS_KEY_ID", "AKIAXACCTNOSUCHKEY00"),
        ("AWS_SECRET_ACCESS_KEY", "nope"),
        ("AWS_REGION", "us-east-1"),
    ];
    config.without_backend("profile").write(world.dir.path());
    let run = world.xacct().envs(&bogus).args(["run", "hello"]).output();
    assert_eq!(run.code(), Some(2), "{run:?}");
    assert_eq!(
        run.stderr
            .matches("the home identity cannot be used")
            .count(),
        1,
        "one error, not one per account: {}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "no account ran: {}", run.stdout);
}

/// Stands for S3's opt-in region redirect with its header (`400
/// IllegalLocationConstraintException` carrying `x-amz-bucket-region`: botocore's
/// `S3RegionRedirectorv2` reads the header first): a bucket in af-south-1 addressed
/// through the home region is found and served. The forms without the header are issue
/// 18's (`aws::estate_s3`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_in_region_redirect_with_the_header_is_followed() {
    let (moto, home) = estate().await;
    moto.create_bucket_in(ACCOUNTS[0].0, "af-south-1", "dev-afs1")
        .await;
    let world = World::aws(&["s3script"], &moto.endpoint, ROLE, home.provider());
    moto.enforce_iam();
    moto.shim()
        .answer_opt_in_redirects(common::shim::OptInRedirect::WithHeader);
    // Else the host's ownership listing names the region and nothing is redirected.
    moto.shim().name_no_bucket_regions();
    let results = world
        .script(json!([
            {"op": "put", "bucket": "dev-afs1", "key": "new", "body": "cape town"},
            {"op": "get", "bucket": "dev-afs1", "key": "new"},
        ]))
        .await;
    step_ok(&results[0]);
    assert_eq!(step_ok(&results[1])["body"], "cape town");
    assert_eq!(
        moto.shim().redirects(),
        1,
        "one redirect, then the bucket's region is known"
    );
}
