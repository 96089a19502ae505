//! Issue 18, S3 side: real estates as AWS serves them, through the S3/STS-semantics shim
//! (`common::shim`), which applies each rule below as AWS documents it. Each test names
//! the rule it stands for; each fails against the host as it was when the issue was
//! filed, for the reason the issue gives (phase 2 fixes the host).

use crate::common;
use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use common::moto::{self, Home, Moto, ROLE};
use common::shim::{Faults, OptInRedirect};
use common::{ACCOUNTS, ConfigBuilder, World, ok, step_error, step_ok};
use serde_json::json;
use xacct::plan::Mode;

/// What each role may do (the role's own policy, which moto enforces; the session policy
/// the host sends is the shim's to enforce).
const ROLE_ACTIONS: &[&str] = &["s3:*", "kms:*"];

/// moto with the three accounts, all assumable, no bucket yet.
async fn accounts() -> (Moto, Home) {
    let moto = Moto::start();
    let ids: Vec<&str> = ACCOUNTS.iter().map(|(id, _)| *id).collect();
    let home = moto::seed_roles(&moto, &ids, ROLE_ACTIONS).await;
    (moto, home)
}

/// Creates `bucket` in `region` of `account`, holding `objects` (key, body).
async fn bucket(
    moto: &Moto,
    account: &str,
    region: &str,
    bucket: &str,
    objects: &[(&str, Vec<u8>)],
) {
    let s3 = moto.create_bucket_in(account, region, bucket).await;
    for (key, body) in objects {
        s3.put_object()
            .bucket(bucket)
            .key(*key)
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
    }
}

/// A customer managed KMS key of `account` in us-east-1.
fn kms_key(account: &str, name: &str) -> String {
    format!("arn:aws:kms:us-east-1:{account}:key/{name}-0000-1111-2222-333344445555")
}

/// Makes `key` the default encryption (SSE-KMS) of `bucket` in `account` and `region`.
async fn encrypt_by_default(moto: &Moto, (account, region): (&str, &str), bucket: &str, key: &str) {
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id(key)
        .build()
        .unwrap();
    let configuration = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .build(),
        )
        .build()
        .unwrap();
    moto.s3_in_region(account, region)
        .await
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(configuration)
        .send()
        .await
        .unwrap();
}

/// Stands for SSE-KMS ("Using server-side encryption with AWS KMS keys (SSE-KMS)", S3 User
/// Guide; CreateMultipartUpload and UploadPart "Permissions", S3 API Reference): with a
/// customer managed key as a bucket's default encryption, GetObject needs `kms:Decrypt`,
/// PutObject, CopyObject and CreateMultipartUpload `kms:GenerateDataKey`, UploadPart
/// `kms:Decrypt` — S3 calls KMS for the session (`kms:ViaService`), and a session is
/// bounded by its session policy ("Session policies", IAM User Guide). Today's session
/// policy allows S3 actions only, so every such call is denied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_encrypted_buckets_are_read_written_and_copied() {
    let (moto, home) = accounts().await;
    let (dev, staging) = (ACCOUNTS[0].0, ACCOUNTS[1].0);
    bucket(&moto, dev, "us-east-1", "dev-kms", &[]).await;
    bucket(&moto, staging, "us-east-1", "staging-kms", &[]).await;
    encrypt_by_default(&moto, (dev, "us-east-1"), "dev-kms", &kms_key(dev, "dev")).await;
    encrypt_by_default(
        &moto,
        (staging, "us-east-1"),
        "staging-kms",
        &kms_key(staging, "staging"),
    )
    .await;
    let big: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
    let dev_s3 = moto.s3_in(dev).await;
    for (key, body) in [("data/small", b"small".to_vec()), ("data/big", big.clone())] {
        dev_s3
            .put_object()
            .bucket("dev-kms")
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap();
    }
    let world = World::aws(
        &["inventory", "replicate", "s3script"],
        &moto.endpoint,
        ROLE,
        home.provider(),
    );
    moto.enforce_iam();

    let inventory = world.run("inventory", json!({}), Mode::PerAccount).await;
    assert_eq!(ok(&inventory.entries[0])["objects"], 2);
    let replicate = world
        .run(
            "replicate",
            json!({
                "source": {"account": dev, "bucket": "dev-kms"},
                "target": {"account": staging, "bucket": "staging-kms"},
                "prefix": "data/",
                "target_prefix": "copied/",
            }),
            Mode::AllAccounts,
        )
        .await;
    assert_eq!(
        ok(&replicate.entries[0])["copied"],
        2,
        "{:?}",
        replicate.entries[0].error
    );
    let results = world
        .script(json!([
            {"op": "get", "bucket": "dev-kms", "key": "data/small"},
            {"op": "put", "bucket": "dev-kms", "key": "new/small", "body": "fresh"},
            // 9 MiB: a multipart upload (GenerateDataKey, then Decrypt for each part).
            {"op": "put", "bucket": "dev-kms", "key": "new/large", "body": "k".repeat(9 << 20)},
            {"op": "copy", "bucket": "dev-kms", "key": "data/small", "to_bucket": "dev-kms", "to_key": "new/copied"},
            {"op": "get", "bucket": "dev-kms", "key": "new/copied"},
        ]))
        .await;
    assert_eq!(step_ok(&results[0])["body"], "small");
    step_ok(&results[1]);
    assert_eq!(step_ok(&results[2])["size"], 9 << 20);
    step_ok(&results[3]);
    assert_eq!(step_ok(&results[4])["body"], "small");
    let copied = moto
        .object_as_home(&home, staging, ("staging-kms", "copied/big"))
        .await;
    assert!(copied == big, "the replicated copy is byte-exact");
}

/// Stands for partitions in what a report names ("Identify AWS resources with Amazon
/// Resource Names (ARNs)", IAM User Guide: the partition is `aws-cn` in China): when AWS
/// refuses a call of a run whose home is in China — here a write into a bucket encrypted
/// with a KMS key the grant's `kms_keys` does not name, which the session policy does not
/// let S3 use ("Session policies", IAM User Guide) — the entry's `denied_by_aws` names the
/// resource as IAM does there, `arn:aws-cn:s3:::…`, the ARN the operator's policy must
/// name. It named `arn:aws:s3:::…`, which no policy in that partition matches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aws_denial_in_china_names_the_resource_in_its_partition() {
    let (moto, home) = accounts().await;
    let (dev, staging) = (ACCOUNTS[0].0, ACCOUNTS[1].0);
    let china = "cn-north-1";
    bucket(
        &moto,
        dev,
        china,
        "data-dev",
        &[("2026/doc.txt", b"to copy".to_vec())],
    )
    .await;
    bucket(&moto, staging, china, "data-staging", &[]).await;
    let bucket_key =
        format!("arn:aws-cn:kms:{china}:{staging}:key/bucket-0000-1111-2222-333344445555");
    let granted_key =
        format!("arn:aws-cn:kms:{china}:{staging}:key/other-0000-1111-2222-333344445555");
    encrypt_by_default(&moto, (staging, china), "data-staging", &bucket_key).await;
    let grants = format!(
        "[plugin.replicate]\naccounts = [\"*\"]\ns3 = [{{ buckets = \"data-*\", actions = [\"list\", \"read\", \"write\"], kms_keys = [{granted_key:?}] }}]\n"
    );
    let config = ConfigBuilder::aws(&moto.endpoint)
        .backend("region", china)
        .section(&grants)
        .standard_accounts()
        .role_everywhere(ROLE);
    let world = World::with_config(&["replicate"], &config, Some(home.provider()));
    let input = json!({
        "source": {"account": "dev", "bucket": "data-dev"},
        "target": {"account": "staging", "bucket": "data-staging"},
        "prefix": "2026/",
    });
    let report = world.run("replicate", input, Mode::AllAccounts).await;
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["entries"][0]["error"]["denied_by_aws"],
        json!({"action": "s3:PutObject", "resource": "arn:aws-cn:s3:::data-staging/2026/doc.txt"}),
        "{}",
        json["entries"][0]
    );
}

/// Stands for CopyObject's limit ("You can create a copy of your object up to 5 GB in
/// size in a single atomic action using this API. However, to copy an object greater than
/// 5 GB, you must use the multipart upload Upload Part - Copy (UploadPartCopy) API",
/// CopyObject, S3 API Reference): a larger source is `400 InvalidRequest`. The shim's
/// limit and the host's threshold (`multipart_copy_threshold_mib`) are lowered to 5 MiB
/// so that a 6 MiB object stands for one over 5 GB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_over_the_copy_limit_are_copied_in_parts() {
    let (moto, home) = accounts().await;
    let dev = ACCOUNTS[0].0;
    let large: Vec<u8> = (0..6 << 20).map(|i| (i / 7 % 256) as u8).collect();
    bucket(
        &moto,
        dev,
        "us-east-1",
        "dev-large",
        &[("large", large.clone()), ("small", b"s".to_vec())],
    )
    .await;
    // The host's threshold and the shim's limit, lowered together.
    let config = ConfigBuilder::aws(&moto.endpoint)
        .backend("multipart_copy_threshold_mib", 5)
        .full_grants(&["s3script"])
        .standard_accounts()
        .role_everywhere(ROLE);
    let world = World::with_config(&["s3script"], &config, Some(home.provider()));
    moto.enforce_iam();
    moto.shim().limit_copies(5 << 20);

    let results = world
        .script(json!([
            {"op": "copy", "bucket": "dev-large", "key": "small", "to_bucket": "dev-large", "to_key": "small-copy"},
            {"op": "copy", "bucket": "dev-large", "key": "large", "to_bucket": "dev-large", "to_key": "large-copy"},
        ]))
        .await;
    step_ok(&results[0]);
    assert_eq!(step_ok(&results[1])["size"], 6 << 20, "{}", results[1]);
    let copied = moto
        .object_as_home(&home, dev, ("dev-large", "large-copy"))
        .await;
    assert!(copied == large, "the copy is byte-exact");
}

/// Stands for GetObject's and HeadObject's "Permissions" (S3 API Reference): "If the
/// object you request doesn't exist, the error that Amazon S3 returns depends on whether
/// you also have the s3:ListBucket permission … If you don't have the s3:ListBucket
/// permission, Amazon S3 returns an HTTP status code 403". A plugin granted `read`
/// without `list` must see the same `not-found` on AWS as on the local backend; today it
/// sees "denied by AWS".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_key_is_not_found_on_both_backends_without_list() {
    let (moto, home) = accounts().await;
    bucket(
        &moto,
        ACCOUNTS[0].0,
        "us-east-1",
        "dev-read",
        &[("present", b"here".to_vec())],
    )
    .await;
    let read_only = "[plugin.s3script]\naccounts = [\"*\"]\ns3 = [{ buckets = \"dev-read\", actions = [\"read\"] }]\n";
    let aws = World::aws_with_grants(
        &["s3script"],
        &moto.endpoint,
        ROLE,
        home.provider(),
        read_only,
    );
    moto.enforce_iam();
    let local = World::local(&["s3script"], read_only);
    local.put_file(ACCOUNTS[0].0, "dev-read", "present", "here");
    let steps = json!([
        {"op": "get", "bucket": "dev-read", "key": "present"},
        {"op": "head", "bucket": "dev-read", "key": "absent"},
        {"op": "get", "bucket": "dev-read", "key": "absent"},
    ]);
    for (backend, world) in [("local", &local), ("aws", &aws)] {
        let results = world.script(steps.clone()).await;
        assert_eq!(step_ok(&results[0])["body"], "here", "{backend}");
        assert_eq!(
            step_error(&results[1]),
            "not-found",
            "{backend}: {}",
            results[1]
        );
        assert_eq!(
            step_error(&results[2]),
            "not-found",
            "{backend}: {}",
            results[2]
        );
    }
}

/// Stands for an expired token on a HEAD: S3 answers a HEAD without a body, so
/// `ExpiredToken` there is a bare `400 Bad Request` (HADOOP-18353 records it; the Rust
/// SDK fills in an error code only for a bodiless 404). The host recognises expiry by
/// the code alone, so today the HEAD fails instead of assuming the role again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_on_a_head_is_recognised() {
    let (moto, home) = accounts().await;
    bucket(
        &moto,
        ACCOUNTS[0].0,
        "us-east-1",
        "dev-head",
        &[("present", b"here".to_vec())],
    )
    .await;
    let world = World::aws(&["s3script"], &moto.endpoint, ROLE, home.provider());
    moto.enforce_iam();
    moto.inject(Faults {
        expire_each_account_at: 1,
        ..Faults::default()
    });
    let results = world
        .script(json!([{"op": "head", "bucket": "dev-head", "key": "present"}]))
        .await;
    assert_eq!(moto.injected().expirations, 1, "the HEAD met the expiry");
    assert_eq!(step_ok(&results[0])["size"], 4, "{}", results[0]);
}

/// Regional buckets of dev (account 0): us-east-1, eu-west-1 and ap-southeast-2.
async fn regional(moto: &Moto) {
    for (name, region) in [
        ("dev-use1", "us-east-1"),
        ("dev-euw1", "eu-west-1"),
        ("dev-apse2", "ap-southeast-2"),
    ] {
        bucket(
            moto,
            ACCOUNTS[0].0,
            region,
            name,
            &[("obj", name.as_bytes().to_vec())],
        )
        .await;
    }
}

/// Stands for ListBuckets' regions ("BucketRegion … If the request contains at least one
/// valid parameter, it is included in the response", Bucket, S3 API Reference): a
/// paginated ListBuckets (`max-buckets`) tells every bucket's region up front, so a plugin
/// that lists its buckets then reads them meets no redirect. Today's host never paginates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_buckets_is_paginated_and_teaches_bucket_regions() {
    let (moto, home) = accounts().await;
    regional(&moto).await;
    let world = World::aws(&["inventory"], &moto.endpoint, ROLE, home.provider());
    moto.enforce_iam();
    let report = world.run("inventory", json!({}), Mode::PerAccount).await;
    assert_eq!(ok(&report.entries[0])["objects"], 3);
    assert_eq!(
        moto.shim().redirects(),
        0,
        "every bucket's region was known before its first request"
    );
}

/// Stands for the bucket quota rule ("All unpaginated ListBuckets requests will be
/// rejected for AWS accounts with a general purpose bucket quota greater than 10,000",
/// "General purpose bucket quotas, limitations, and restrictions", S3 User Guide): such an
/// account's buckets can be listed only with pagination.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_with_a_large_bucket_quota_is_listed_paginated() {
    let (moto, home) = accounts().await;
    regional(&moto).await;
    let world = World::aws(&["inventory"], &moto.endpoint, ROLE, home.provider());
    moto.enforce_iam();
    moto.shim().flag_large_bucket_quota(ACCOUNTS[0].0);
    let report = world.run("inventory", json!({}), Mode::PerAccount).await;
    let dev = ok(&report.entries[0]);
    assert_eq!(dev["buckets"].as_array().unwrap().len(), 3, "{dev}");
}

/// A bucket in an opt-in region (af-south-1) answered as `how`, read through a plugin that
/// addresses it directly, on an endpoint whose listings name no region.
async fn read_across_opt_in_regions(how: OptInRedirect) {
    let (moto, home) = accounts().await;
    bucket(
        &moto,
        ACCOUNTS[0].0,
        "af-south-1",
        "dev-afs1",
        &[("obj", b"cape town".to_vec())],
    )
    .await;
    let world = World::aws(&["s3script"], &moto.endpoint, ROLE, home.provider());
    moto.enforce_iam();
    moto.shim().answer_opt_in_redirects(how);
    // Else the host's ownership listing names the region and nothing is redirected.
    moto.shim().name_no_bucket_regions();
    let results = world
        .script(json!([
            {"op": "get", "bucket": "dev-afs1", "key": "obj"},
            {"op": "put", "bucket": "dev-afs1", "key": "new", "body": "written"},
            {"op": "head", "bucket": "dev-afs1", "key": "new"},
        ]))
        .await;
    assert_eq!(
        step_ok(&results[0])["body"],
        "cape town",
        "{how:?}: {}",
        results[0]
    );
    step_ok(&results[1]);
    assert_eq!(step_ok(&results[2])["size"], 7);
    assert!(
        moto.shim().redirects() >= 1,
        "the bucket was first addressed in the wrong region"
    );
}

/// Stands for S3's opt-in region redirect as botocore follows it
/// (`S3RegionRedirectorv2.get_bucket_region`: the `x-amz-bucket-region` header, else the
/// error body's `<Region>`, else HeadBucket): a `400 IllegalLocationConstraintException`
/// without the header but with `<Region>`. Today's host reads the header only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_in_region_redirect_without_the_header_is_followed_from_the_body() {
    read_across_opt_in_regions(OptInRedirect::RegionInBody).await;
}

/// Stands for the same rule's last resort: neither header nor `<Region>`, so the region
/// comes from HeadBucket, whose answer carries `x-amz-bucket-region` (botocore's
/// `S3RegionRedirectorv2`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_opt_in_region_redirect_is_followed_through_head_bucket() {
    read_across_opt_in_regions(OptInRedirect::Bare).await;
}
