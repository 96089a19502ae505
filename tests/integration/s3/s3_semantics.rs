//! S3 semantics on the local backend: the shared conformance suite, and what is the local
//! backend's own business (keys that would escape their bucket, atomic puts on disk).

use crate::common;

use common::conformance::{bucket_config, config_write, versions};
use common::{World, failed, files_below, ok, step_error, step_ok};
use serde_json::json;
use xacct::bindings::S3Error;
use xacct::capability::s3::names::{BucketName, ObjectKey};
use xacct::plan::Mode;

#[tokio::test]
async fn the_local_backend_passes_the_conformance_suite() {
    let world = World::new(&["s3script"], "");
    world.bucket("111111111111", "conf-a");
    world.bucket("111111111111", "conf-b");
    common::conformance::check(&world, "conf-a", "conf-b").await;
    assert_eq!(
        files_below(&world.data().join(".xacct/tmp")),
        Vec::<String>::new(),
        "no temporary file is left"
    );
}

#[tokio::test]
async fn the_local_backend_passes_the_bucket_configuration_conformance_suite() {
    let world = World::new(&["s3script"], "");
    world.bucket("111111111111", "conf-fresh");
    world.bucket("111111111111", "conf-planted");
    let settings = world.data().join(".xacct/settings/111111111111");
    std::fs::create_dir_all(&settings).unwrap();
    let planted = bucket_config::planted_settings_file("conf-planted");
    std::fs::write(settings.join("conf-planted.json"), planted.to_string()).unwrap();
    let account = json!({"public_access_block": bucket_config::planted_account_block()});
    std::fs::write(settings.join("_account.json"), account.to_string()).unwrap();
    bucket_config::check(&world, "conf-fresh", "conf-planted").await;
}

#[tokio::test]
async fn the_local_backend_passes_the_bucket_configuration_write_conformance_suite() {
    let world = World::new(&["s3script"], "");
    world.bucket("111111111111", "cw-fresh");
    world.bucket("111111111111", "cw-dry");
    config_write::check(&world, "cw-fresh").await;
    config_write::dry_run(&world, "cw-dry").await;
    let world = World::local(&["s3script"], &config_write::refusals_grant("cw-keyed"));
    world.bucket("111111111111", "cw-plain");
    world.bucket("111111111111", "cw-keyed");
    config_write::refusals(&world, "cw-plain", "cw-keyed").await;
}

#[tokio::test]
async fn the_local_backend_passes_the_versions_conformance_suite() {
    let world = World::new(&["s3script"], "");
    world.bucket("111111111111", "conf-versioned");
    world.bucket("111111111111", "conf-plain");
    let settings = world.data().join(".xacct/settings/111111111111");
    std::fs::create_dir_all(&settings).unwrap();
    let enabled = json!({"versioning": {"status": "Enabled"}});
    std::fs::write(settings.join("conf-versioned.json"), enabled.to_string()).unwrap();
    versions::check(&world, "conf-versioned", "conf-plain").await;
    assert_eq!(
        files_below(&world.data().join(".xacct/tmp")),
        Vec::<String>::new(),
        "no temporary file is left"
    );
}

/// Bad version ids (issue 20 item 9): a malformed one is invalid-input and audited as
/// the call S3 would refuse (`400 InvalidArgument`); one longer than S3 takes is refused
/// before the audit log records it; a well-formed id of another key deletes nothing
/// (S3's `204`) and is audited as a success; nothing changes.
#[tokio::test]
async fn bad_version_ids_are_typed_errors_audited_and_change_nothing() {
    let world = World::new(&["s3script"], "");
    world.bucket("111111111111", "bad");
    let settings = world.data().join(".xacct/settings/111111111111");
    std::fs::create_dir_all(&settings).unwrap();
    let enabled = json!({"versioning": {"status": "Enabled"}});
    std::fs::write(settings.join("bad.json"), enabled.to_string()).unwrap();
    let put = |key: &str| json!({"op": "put", "bucket": "bad", "key": key, "body": key});
    step_ok(&world.script(json!([put("k"), put("other")])).await[1]);
    let listing = json!({"op": "versions_all", "bucket": "bad"});
    let before = step_ok(&world.script(json!([listing.clone()])).await[0]).clone();
    let other_id = before[1]["id"].as_str().unwrap().to_owned();
    let delete =
        |id: &str| json!({"op": "delete_version", "bucket": "bad", "key": "k", "version": id});
    let audit = world.dir.path().join("audit.jsonl");
    let mut request = xacct::pipeline::RunRequest::new(
        "s3script",
        &json!({"steps": [delete("not a version!"), delete(&"v".repeat(2000)), delete(&other_id)]})
            .to_string(),
        Mode::AllAccounts,
    );
    request.audit = Some(std::sync::Arc::new(
        xacct::audit::AuditLog::open(&audit).unwrap(),
    ));
    let report = world.run_request(world.service().await, &request).await;
    let results = ok(&report.entries[0])["results"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(step_error(&results[0]), "invalid-input");
    assert_eq!(step_error(&results[1]), "invalid-input");
    step_ok(&results[2]);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let audited: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|line| {
            (
                line["operation"].as_str().unwrap(),
                line["version_id"].as_str().unwrap(),
                line["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        audited,
        [
            ("DeleteObjectVersion", "not a version!", "invalid-input"),
            ("DeleteObjectVersion", other_id.as_str(), "ok"),
        ],
        "the malformed id audited as refused, the overlong one not at all"
    );
    let after = step_ok(&world.script(json!([listing])).await[0]).clone();
    assert_eq!(after, before, "nothing changed");
}

/// "Working with objects in a versioning-suspended bucket" (S3 User Guide): a put stores
/// a `null` version, replacing any `null` version and keeping the others; a delete
/// replaces the `null` version with a `null` delete marker.
#[tokio::test]
async fn a_suspended_bucket_replaces_its_null_version_and_keeps_the_rest() {
    let world = World::new(&["s3script"], "");
    world.bucket("111111111111", "sus");
    let settings = world.data().join(".xacct/settings/111111111111");
    std::fs::create_dir_all(&settings).unwrap();
    let status = |status: &str| {
        let file = json!({"versioning": {"status": status}});
        std::fs::write(settings.join("sus.json"), file.to_string()).unwrap();
    };
    let put = |body: &str| json!({"op": "put", "bucket": "sus", "key": "k", "body": body});
    let versions = json!({"op": "versions", "bucket": "sus"});
    status("Enabled");
    step_ok(&world.script(json!([put("kept")])).await[0]);
    status("Suspended");
    let results = world
        .script(json!([put("first"), put("second"), versions.clone(),
                       {"op": "delete", "bucket": "sus", "key": "k"}, versions]))
        .await;
    let shape = |page: &serde_json::Value| -> Vec<(String, bool, u64)> {
        page["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let id = v["id"].as_str().unwrap();
                let id = if id == "null" { "null" } else { "id" };
                (
                    id.to_owned(),
                    v["marker"].as_bool().unwrap(),
                    v["size"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        shape(step_ok(&results[2])),
        [("null".to_owned(), false, 6), ("id".to_owned(), false, 4)],
        "the second null version replaced the first; the enabled-time version is kept"
    );
    assert_eq!(
        shape(step_ok(&results[4])),
        [("null".to_owned(), true, 0), ("id".to_owned(), false, 4)],
        "a null delete marker replaced the null version"
    );
}

/// The local backend keeps at most 100 versions of a key: the next write is refused,
/// nothing changed, and deleting an old version makes room.
#[tokio::test]
async fn a_key_keeps_at_most_a_hundred_versions_on_the_local_backend() {
    let world = World::new(&["s3script"], "");
    world.bucket("111111111111", "many");
    let settings = world.data().join(".xacct/settings/111111111111");
    std::fs::create_dir_all(&settings).unwrap();
    let enabled = json!({"versioning": {"status": "Enabled"}});
    std::fs::write(settings.join("many.json"), enabled.to_string()).unwrap();
    let puts: Vec<serde_json::Value> = (0..101)
        .map(|i| json!({"op": "put", "bucket": "many", "key": "k", "body": format!("{i}")}))
        .collect();
    let results = world.script(json!(puts)).await;
    for result in &results[..100] {
        step_ok(result);
    }
    assert_eq!(step_error(&results[100]), "limit-exceeded");
    let results = world
        .script(json!([
            {"op": "get", "bucket": "many", "key": "k"},
            {"op": "delete", "bucket": "many", "key": "k"},
            {"op": "versions_all", "bucket": "many"},
        ]))
        .await;
    assert_eq!(
        step_ok(&results[0])["body"],
        "99",
        "the refused put changed nothing"
    );
    assert_eq!(
        step_error(&results[1]),
        "limit-exceeded",
        "no room for a marker"
    );
    let versions = step_ok(&results[2]).as_array().unwrap().clone();
    assert_eq!(versions.len(), 100);
    let oldest = versions[99]["id"].as_str().unwrap();
    let results = world
        .script(json!([
            {"op": "delete_version", "bucket": "many", "key": "k", "version": oldest},
            {"op": "put", "bucket": "many", "key": "k", "body": "room"},
            {"op": "get", "bucket": "many", "key": "k"},
        ]))
        .await;
    step_ok(&results[0]);
    step_ok(&results[1]);
    assert_eq!(step_ok(&results[2])["body"], "room");
}

#[tokio::test]
async fn a_settings_file_that_is_too_big_malformed_or_a_link_is_an_error_not_a_guess() {
    let world = World::new(&["s3script"], "");
    for bucket in ["big", "typo", "linked"] {
        world.bucket("111111111111", bucket);
    }
    let settings = world.data().join(".xacct/settings/111111111111");
    std::fs::create_dir_all(&settings).unwrap();
    let big = json!({"policy": {"Statement": [], "Padding": "x".repeat(300 << 10)}});
    std::fs::write(settings.join("big.json"), big.to_string()).unwrap();
    std::fs::write(
        settings.join("typo.json"),
        r#"{"versionin": {"status": "Enabled"}}"#,
    )
    .unwrap();
    std::fs::write(world.dir.path().join("outside.json"), "{}").unwrap();
    std::os::unix::fs::symlink(
        world.dir.path().join("outside.json"),
        settings.join("linked.json"),
    )
    .unwrap();
    let results = world
        .script(json!([
            {"op": "config", "bucket": "big", "settings": ["policy"]},
            {"op": "config", "bucket": "typo", "settings": ["versioning"]},
            {"op": "config", "bucket": "linked", "settings": ["versioning"]},
        ]))
        .await;
    assert_eq!(step_error(&results[0]), "other");
    assert!(
        results[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bytes")
    );
    assert_eq!(step_error(&results[1]), "other");
    assert!(
        results[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("versionin")
    );
    assert_eq!(
        step_error(&results[2]),
        "access-denied",
        "a link is never followed"
    );
}

#[tokio::test]
async fn each_setting_asked_is_one_call_and_a_grant_without_config_read_reads_none() {
    let grant = r#"
[plugin.s3script]
accounts = ["*"]
s3 = [{ buckets = "open", actions = ["config-read"] }, { buckets = "closed", actions = ["list", "read"] }]
"#;
    let world = World::local(&["s3script"], grant);
    world.bucket("111111111111", "open");
    world.bucket("111111111111", "closed");
    let steps = json!([
        {"op": "config", "bucket": "open", "settings": ["versioning", "acl", "versioning", "tags"]},
        {"op": "config", "bucket": "closed", "settings": ["versioning", "tags"]},
    ]);
    let report = world
        .run(
            "s3script",
            json!({ "steps": steps }),
            xacct::plan::Mode::AllAccounts,
        )
        .await;
    let results = ok(&report.entries[0])["results"].clone();
    step_ok(&results[0]);
    assert_eq!(step_error(&results[1]), "access-denied");
    assert!(
        results[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("config-read of s3://closed"),
        "{results}"
    );
    let usage = &report.entries[0].usage;
    assert_eq!(usage.s3_calls, 3, "versioning asked twice is read once");
    assert_eq!(
        usage.denied_calls, 2,
        "each refused setting is a refused call"
    );
}

#[tokio::test]
async fn a_continuation_token_the_backend_did_not_issue_is_invalid_input() {
    let world = World::new(&["s3script"], "");
    world.bucket("111111111111", "bkt");
    let steps = json!([{"op": "list", "bucket": "bkt", "token": "not-a-token"}]);
    assert_eq!(step_error(&world.script(steps).await[0]), "invalid-input");
}

#[tokio::test]
async fn keys_that_would_escape_their_bucket_never_touch_the_file_system() {
    let world = World::new(&["s3script"], "");
    world.bucket("111111111111", "jail");
    world.put_file("111111111111", "secret", "password", "hunter2");
    let before = files_below(world.dir.path());
    let evil = [
        "../secret/password",
        "a/../../secret/password",
        "../../../../../../etc/passwd",
        "/etc/passwd",
        "a/./b",
        "a//b",
        "trailing/",
        "back\\slash",
        "nul\u{0}byte",
        "..",
    ];
    let mut steps = Vec::new();
    for key in evil {
        steps.push(json!({"op": "put", "bucket": "jail", "key": key, "body": "pwned"}));
        steps.push(json!({"op": "get", "bucket": "jail", "key": key}));
        steps.push(json!({"op": "head", "bucket": "jail", "key": key}));
        steps.push(json!({"op": "delete", "bucket": "jail", "key": key}));
        steps.push(
            json!({"op": "copy", "bucket": "jail", "key": key, "to_bucket": "jail", "to_key": "x"}),
        );
        steps.push(json!({"op": "copy", "bucket": "secret", "key": "password", "to_bucket": "jail", "to_key": key}));
        steps.push(json!({"op": "tags_put", "bucket": "jail", "key": key, "tags": [["a", "b"]]}));
    }
    // Through a guest: the grant refuses dot segments first, the backend the rest.
    let results = world.script(json!(steps)).await;
    for (step, result) in steps.iter().zip(&results) {
        let kind = step_error(result);
        assert!(
            kind == "invalid-input" || kind == "access-denied",
            "{step} gave {result}"
        );
    }
    // The backend alone refuses every one of them too: each is an S3 key, but not a
    // path below its bucket.
    let backend = world.backend().await;
    let (jail, secret) = (
        BucketName::new("jail").unwrap(),
        BucketName::new("secret").unwrap(),
    );
    let password = ObjectKey::new("password").unwrap();
    let account = xacct::bindings::Account {
        id: "111111111111".into(),
        alias: "dev".into(),
        region: "local".into(),
        tags: Vec::new(),
    };
    for key in evil {
        let key = &ObjectKey::new(key).unwrap();
        let refused = |result: Result<(), S3Error>| matches!(result, Err(S3Error::InvalidInput(_)));
        assert!(
            refused(backend.head_object(&account, &jail, key).await.map(drop)),
            "{key:?}"
        );
        assert!(
            refused(
                backend
                    .get_object(&account, &jail, key, None)
                    .await
                    .map(drop)
            ),
            "{key:?}"
        );
        assert!(
            refused(backend.delete_object(&account, &jail, key).await),
            "{key:?}"
        );
        assert!(
            refused(
                backend
                    .get_object_tagging(&account, &jail, key)
                    .await
                    .map(drop)
            ),
            "{key:?}"
        );
        let source = xacct::bindings::s3::ObjectMeta {
            size: 0,
            etag: String::new(),
            content_type: None,
            last_modified: None,
            metadata: Vec::new(),
        };
        let copied = backend
            .copy_object(&account, (&secret, &password), &source, (&jail, key))
            .await;
        assert!(refused(copied.map(drop)), "{key:?}");
    }
    // Bucket names that are paths are refused too.
    let results = world
        .script(json!([
            {"op": "list", "bucket": ".."},
            {"op": "get", "bucket": "../111111111111/secret", "key": "password"},
            {"op": "put", "bucket": "/tmp", "key": "x", "body": "x"},
        ]))
        .await;
    for result in &results {
        assert_eq!(step_error(result), "invalid-input", "{result}");
    }
    assert_eq!(
        files_below(world.dir.path()),
        before,
        "nothing was written anywhere"
    );
    assert_eq!(
        std::fs::read_to_string(world.data().join("111111111111/secret/password")).unwrap(),
        "hunter2"
    );
}

#[tokio::test]
async fn a_key_cannot_be_both_object_and_folder_on_the_local_backend() {
    let world = World::new(&["s3script"], "");
    world.bucket("111111111111", "bkt");
    let results = world
        .script(json!([
            {"op": "put", "bucket": "bkt", "key": "d", "body": "file"},
            {"op": "put", "bucket": "bkt", "key": "d/e", "body": "nested"},
            {"op": "put", "bucket": "bkt", "key": "f/g", "body": "nested"},
            {"op": "put", "bucket": "bkt", "key": "f", "body": "file"},
            {"op": "get", "bucket": "bkt", "key": "d"},
        ]))
        .await;
    step_ok(&results[0]);
    assert_eq!(step_error(&results[1]), "invalid-input");
    step_ok(&results[2]);
    assert_eq!(step_error(&results[3]), "invalid-input");
    assert_eq!(
        step_ok(&results[4])["body"],
        "file",
        "the refused put changed nothing"
    );
}

#[tokio::test]
async fn deleting_the_last_key_of_a_folder_removes_the_folder() {
    let world = World::new(&["s3script"], "");
    world.bucket("111111111111", "bkt");
    let results = world
        .script(json!([
            {"op": "put", "bucket": "bkt", "key": "x/y/z", "body": "1"},
            {"op": "delete", "bucket": "bkt", "key": "x/y/z"},
            {"op": "put", "bucket": "bkt", "key": "x", "body": "now a file"},
        ]))
        .await;
    step_ok(&results[2]);
    assert_eq!(files_below(&world.data().join("111111111111/bkt")), ["x"]);
}

#[tokio::test]
async fn a_put_cut_short_by_the_time_limit_leaves_no_object() {
    let world = World::new(&["s3script", "misbehave"], "[limits]\ntime_secs = 2\n");
    world.bucket("222222222222", "bkt");
    let input = json!({"mode": "put-then-spin", "only": "222222222222"});
    let report = world.run("misbehave", input, Mode::PerAccount).await;
    assert_eq!(failed(&report.entries[1]).0, "time-limit");
    ok(&report.entries[0]);
    assert_eq!(
        files_below(&world.data().join("222222222222")),
        Vec::<String>::new()
    );
    // The invocation ends only once its abandoned put has cleaned up.
    assert_eq!(
        files_below(&world.data().join(".xacct/tmp")),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_per_account_invocation_can_open_only_its_own_account() {
    let world = World::new(&["s3script"], "");
    let steps = json!([
        {"op": "buckets"},
        {"op": "buckets", "account": "222222222222"},
        {"op": "buckets", "account": "999999999999"},
    ]);
    let report = world
        .run("s3script", json!({ "steps": steps }), Mode::PerAccount)
        .await;
    let results = ok(&report.entries[0])["results"]
        .as_array()
        .unwrap()
        .clone();
    step_ok(&results[0]);
    for denied in &results[1..] {
        assert_eq!(step_error(denied), "access-denied");
        let message = denied["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("not in this invocation's scope"),
            "{message}"
        );
        assert!(message.contains("by the xacct grant"), "{message}");
    }
}
