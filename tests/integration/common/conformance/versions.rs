//! Object versions every backend must show (`list-object-versions`, `head-object-version`,
//! `get-object-version`, `delete-object-version`, and plain puts and deletes in a
//! versioned bucket), from inside the `s3script` guest, as S3 keeps them ("Working with
//! objects in a versioning-enabled bucket", "Working with objects in a
//! versioning-suspended bucket", S3 User Guide). Each backend's test turns versioning on
//! in its own way (PutBucketVersioning on moto, the settings file on the local backend).
//!
//! Bad input (issue 20 item 9), as S3 answers it: a well-formed version id that is not
//! one of the key's is `404 NoSuchVersion` on a read (not-found) and a success that
//! changes nothing on a delete; a malformed one is `400 InvalidArgument` (invalid-input).

use serde_json::{Value, json};

use crate::common::{World, step_error, step_ok};

fn put(bucket: &str, key: &str, body: &str) -> Value {
    json!({"op": "put", "bucket": bucket, "key": key, "body": body})
}

fn version_op(op: &str, bucket: &str, key: &str, id: &str) -> Value {
    json!({"op": op, "bucket": bucket, "key": key, "version": id})
}

/// Runs `steps` one script each, so that every write has its own moment (moto orders a
/// key's versions by their time, to the millisecond).
async fn one_by_one(world: &World, steps: &[Value]) {
    for step in steps {
        for result in world.script(json!([step])).await {
            step_ok(&result);
        }
    }
}

/// The versions of `bucket` under `prefix`: (key, id, latest, delete marker, size).
async fn versions(world: &World, bucket: &str, prefix: &str) -> Vec<Value> {
    let results = world
        .script(json!([{"op": "versions", "bucket": bucket, "prefix": prefix}]))
        .await;
    step_ok(&results[0])["versions"].as_array().unwrap().clone()
}

fn id(version: &Value) -> &str {
    version["id"].as_str().unwrap()
}

/// `versioned` has versioning enabled, `plain` never had; both empty, in the first
/// account.
pub async fn check(world: &World, versioned: &str, plain: &str) {
    one_by_one(
        world,
        &[
            put(versioned, "k", "one"),
            put(versioned, "k", "two!"),
            json!({"op": "delete", "bucket": versioned, "key": "k"}),
            put(versioned, "other", "x"),
            put(versioned, "dir/a", "a"),
            put(plain, "n", "plain"),
        ],
    )
    .await;

    // Keys in order, each key's newest first: the delete marker is current.
    let listed = versions(world, versioned, "k").await;
    let shape: Vec<Value> = listed
        .iter()
        .map(|v| json!([v["key"], v["latest"], v["marker"], v["size"]]))
        .collect();
    assert_eq!(
        shape,
        [
            json!(["k", true, true, 0]),
            json!(["k", false, false, 4]),
            json!(["k", false, false, 3]),
        ],
        "{listed:?}"
    );
    let (marker, two, one) = (id(&listed[0]), id(&listed[1]), id(&listed[2]));
    assert!(
        listed[0]["etag"] == "" && listed[1]["etag"] != listed[2]["etag"],
        "{listed:?}"
    );
    let other = versions(world, versioned, "other").await;
    let other_id = id(&other[0]).to_owned();

    let results = world
        .script(json!([
            {"op": "get", "bucket": versioned, "key": "k"},
            version_op("get_version", versioned, "k", one),
            {"op": "get_version", "bucket": versioned, "key": "k", "version": two, "first": 1, "last": 2},
            version_op("head_version", versioned, "k", two),
            // Another key's version, a malformed id, an id of none.
            version_op("head_version", versioned, "k", &other_id),
            version_op("get_version", versioned, "k", &other_id),
            version_op("get_version", versioned, "k", "not a version!"),
            version_op("head_version", versioned, "k", ""),
            version_op("delete_version", versioned, "k", "not a version!"),
            // A delete marker has no bytes: S3 answers 405 Method Not Allowed.
            version_op("get_version", versioned, "k", marker),
            version_op("head_version", versioned, "k", marker),
            // A delimiter rolls `dir/` up; paging by one yields the same, in order.
            {"op": "versions", "bucket": versioned, "delimiter": "/"},
            {"op": "versions_all", "bucket": versioned, "max_keys": 1},
            {"op": "versions", "bucket": versioned, "max_keys": 2},
        ]))
        .await;
    assert_eq!(
        step_error(&results[0]),
        "not-found",
        "a delete marker hides k"
    );
    assert_eq!(step_ok(&results[1])["body"], "one");
    assert_eq!(step_ok(&results[2])["body"], "wo");
    assert_eq!(step_ok(&results[2])["size"], 4);
    assert_eq!(step_ok(&results[3])["size"], 4);
    assert_eq!(
        step_error(&results[4]),
        "not-found",
        "another key's version"
    );
    assert_eq!(
        step_error(&results[5]),
        "not-found",
        "another key's version"
    );
    assert_eq!(step_error(&results[6]), "invalid-input", "a malformed id");
    assert_eq!(step_error(&results[7]), "invalid-input", "an empty id");
    assert_eq!(step_error(&results[8]), "invalid-input", "a malformed id");
    assert_eq!(
        step_error(&results[9]),
        "invalid-input",
        "a delete marker's bytes"
    );
    assert_eq!(
        step_error(&results[10]),
        "invalid-input",
        "a delete marker's bytes"
    );
    let rolled = step_ok(&results[11]);
    assert_eq!(rolled["prefixes"], json!(["dir/"]));
    let keys: Vec<&Value> = rolled["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["key"])
        .collect();
    assert_eq!(
        keys,
        [&json!("k"), &json!("k"), &json!("k"), &json!("other")]
    );
    let all = step_ok(&results[12]).as_array().unwrap();
    let ids: Vec<&str> = all.iter().map(id).collect();
    assert_eq!(ids.len(), 5, "{all:?}");
    assert_eq!(&ids[1..4], [marker, two, one], "paged one by one, in order");
    assert_eq!(all[0]["key"], "dir/a");
    let page = step_ok(&results[13]);
    assert_eq!(page["versions"].as_array().unwrap().len(), 2);
    assert_eq!(page["key_marker"], "k");
    assert_eq!(page["version_marker"], marker);

    // Another key's version id deletes nothing (S3 answers 204); deleting the delete
    // marker brings the object back; deleting the current version makes the one before
    // it current.
    let results = world
        .script(json!([
            version_op("delete_version", versioned, "k", &other_id),
            {"op": "get", "bucket": versioned, "key": "other"},
            version_op("delete_version", versioned, "k", marker),
            {"op": "get", "bucket": versioned, "key": "k"},
            version_op("delete_version", versioned, "k", two),
            {"op": "get", "bucket": versioned, "key": "k"},
            version_op("get_version", versioned, "k", two),
        ]))
        .await;
    step_ok(&results[0]);
    assert_eq!(step_ok(&results[1])["body"], "x");
    step_ok(&results[2]);
    assert_eq!(
        step_ok(&results[3])["body"],
        "two!",
        "the marker gone, k is back"
    );
    step_ok(&results[4]);
    assert_eq!(step_ok(&results[5])["body"], "one");
    assert_eq!(step_error(&results[6]), "not-found", "deleted for good");
    let left = versions(world, versioned, "k").await;
    assert_eq!(left.len(), 1);
    assert_eq!((id(&left[0]), &left[0]["latest"]), (one, &json!(true)));

    // A bucket whose versioning was never enabled: each object's one version is `null`.
    let results = world
        .script(json!([
            {"op": "versions", "bucket": plain},
            version_op("get_version", plain, "n", "null"),
            version_op("delete_version", plain, "n", "null"),
            {"op": "get", "bucket": plain, "key": "n"},
            {"op": "versions", "bucket": plain},
        ]))
        .await;
    let plain_versions = &step_ok(&results[0])["versions"];
    assert_eq!(plain_versions[0]["id"], "null");
    assert_eq!(plain_versions[0]["latest"], true);
    assert_eq!(step_ok(&results[1])["body"], "plain");
    step_ok(&results[2]);
    assert_eq!(
        step_error(&results[3]),
        "not-found",
        "the null version was the object"
    );
    assert_eq!(step_ok(&results[4])["versions"], json!([]));
}
