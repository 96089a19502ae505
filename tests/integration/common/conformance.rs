//! S3 semantics every backend must show, checked from inside a real guest (`s3script`).
//! One body for all backends: it needs only two empty buckets in the first account and
//! reaches them through the WIT interface alone.

pub mod bucket_config;
pub mod config_write;
pub mod versions;

use serde_json::{Value, json};

use super::{World, step_error, step_ok};

/// Runs the conformance suite against buckets `a` and `b` (empty, in the first account).
pub async fn check(world: &World, a: &str, b: &str) {
    listing(world, a).await;
    objects(world, a, b).await;
    uploads(world, a).await;
}

fn put(bucket: &str, key: &str, body: &str) -> Value {
    json!({"op": "put", "bucket": bucket, "key": key, "body": body})
}

async fn listing(world: &World, bucket: &str) {
    // Inserted out of order; byte order puts upper case first and é last.
    let keys = ["c", "b/2", "a", "b/c/3", "\u{e9}", "b/1", "B"];
    let steps: Vec<Value> = keys.iter().map(|k| put(bucket, k, k)).collect();
    for result in world.script(json!(steps)).await {
        step_ok(&result);
    }
    let sorted = json!(["B", "a", "b/1", "b/2", "b/c/3", "c", "\u{e9}"]);
    let list = |extra: Value| {
        let mut step = json!({"op": "list", "bucket": bucket});
        step.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        step
    };
    let results = world
        .script(json!([
            {"op": "list_all", "bucket": bucket},
            {"op": "list_all", "bucket": bucket, "max_keys": 2},
            list(json!({"delimiter": "/"})),
            list(json!({"delimiter": "/", "prefix": "b/"})),
            {"op": "list_all", "bucket": bucket, "delimiter": "/", "max_keys": 1},
            list(json!({"start_after": "b/1"})),
            list(json!({"prefix": "b/c"})),
            list(json!({"prefix": "zzz"})),
            list(json!({"max_keys": 3})),
            list(json!({"token": "not-a-token"})),
            {"op": "list", "bucket": "no-such-bucket-xacct"},
        ]))
        .await;
    let all = step_ok(&results[0]);
    assert_eq!(all["keys"], sorted, "lexicographic order");
    assert_eq!(all["pages"], 1);
    let paged = step_ok(&results[1]);
    assert_eq!(paged["keys"], sorted, "pages add up to the whole listing");
    assert_eq!(paged["pages"], 4);
    let top = step_ok(&results[2]);
    assert_eq!(top["keys"], json!(["B", "a", "c", "\u{e9}"]));
    assert_eq!(top["prefixes"], json!(["b/"]));
    assert_eq!(top["token"], Value::Null);
    let under_b = step_ok(&results[3]);
    assert_eq!(under_b["keys"], json!(["b/1", "b/2"]));
    assert_eq!(under_b["prefixes"], json!(["b/c/"]));
    let one_by_one = step_ok(&results[4]);
    assert_eq!(one_by_one["keys"], json!(["B", "a", "c", "\u{e9}"]));
    assert_eq!(
        one_by_one["prefixes"],
        json!(["b/"]),
        "a common prefix is listed once"
    );
    assert_eq!(one_by_one["pages"], 5);
    assert_eq!(
        step_ok(&results[5])["keys"],
        json!(["b/2", "b/c/3", "c", "\u{e9}"])
    );
    assert_eq!(step_ok(&results[6])["keys"], json!(["b/c/3"]));
    assert_eq!(step_ok(&results[7])["keys"], json!([]));
    let first_three = step_ok(&results[8]);
    assert_eq!(first_three["keys"], json!(["B", "a", "b/1"]));
    assert!(first_three["token"].is_string());
    // S3 answers 400 (invalid-input) for a token it did not issue, moto a 500; either
    // way it is an error, never a listing from somewhere.
    step_error(&results[9]);
    assert_eq!(step_error(&results[10]), "not-found");
}

async fn objects(world: &World, bucket: &str, other: &str) {
    let results = world
        .script(json!([
            {"op": "put", "bucket": bucket, "key": "doc.txt", "body": "0123456789",
             "content_type": "text/plain", "metadata": [["owner", "ops"], ["tier", "gold"]]},
            {"op": "head", "bucket": bucket, "key": "doc.txt"},
            {"op": "get", "bucket": bucket, "key": "doc.txt"},
            {"op": "get", "bucket": bucket, "key": "doc.txt", "first": 2, "last": 4},
            {"op": "get", "bucket": bucket, "key": "doc.txt", "first": 7},
            {"op": "get", "bucket": bucket, "key": "doc.txt", "first": 8, "last": 99},
            {"op": "get", "bucket": bucket, "key": "doc.txt", "first": 10},
            {"op": "get", "bucket": bucket, "key": "missing"},
            {"op": "head", "bucket": bucket, "key": "missing"},
            {"op": "get", "bucket": "no-such-bucket-xacct", "key": "doc.txt"},
            {"op": "copy", "bucket": bucket, "key": "doc.txt", "to_bucket": other, "to_key": "copy/doc.txt"},
            {"op": "head", "bucket": other, "key": "copy/doc.txt"},
            {"op": "get", "bucket": other, "key": "copy/doc.txt"},
            {"op": "copy", "bucket": bucket, "key": "missing", "to_bucket": other, "to_key": "x"},
        ]))
        .await;
    let stored = step_ok(&results[0]);
    assert_eq!(stored["size"], 10);
    let head = step_ok(&results[1]);
    assert_eq!(head["size"], 10);
    assert_eq!(head["content_type"], "text/plain");
    assert_eq!(
        head["metadata"],
        json!([["owner", "ops"], ["tier", "gold"]])
    );
    assert!(!head["etag"].as_str().unwrap().is_empty());
    assert_eq!(
        head["etag"], stored["etag"],
        "put and head agree on the ETag"
    );
    let full = step_ok(&results[2]);
    assert_eq!(
        (full["body"].as_str(), full["content_length"].as_u64()),
        (Some("0123456789"), Some(10))
    );
    let range = step_ok(&results[3]);
    assert_eq!(range["body"], "234");
    assert_eq!(range["content_length"], 3);
    assert_eq!(range["size"], 10, "meta.size is the whole object's");
    assert_eq!(
        step_ok(&results[4])["body"],
        "789",
        "an open range reads to the end"
    );
    assert_eq!(
        step_ok(&results[5])["body"],
        "89",
        "a range past the end is clamped"
    );
    assert_eq!(
        step_error(&results[6]),
        "invalid-input",
        "a range starting past the end"
    );
    assert_eq!(step_error(&results[7]), "not-found");
    assert_eq!(step_error(&results[8]), "not-found");
    assert_eq!(step_error(&results[9]), "not-found");
    step_ok(&results[10]);
    let copied = step_ok(&results[11]);
    assert_eq!(copied["content_type"], "text/plain");
    assert_eq!(copied["metadata"], head["metadata"]);
    assert_eq!(step_ok(&results[12])["body"], "0123456789");
    assert_eq!(step_error(&results[13]), "not-found");

    let results = world
        .script(json!([
            put(bucket, "doc.txt", "changed"),
            {"op": "head", "bucket": bucket, "key": "doc.txt"},
            {"op": "get", "bucket": bucket, "key": "doc.txt"},
            {"op": "tags_put", "bucket": bucket, "key": "doc.txt", "tags": [["env", "dev"], ["team", "x"]]},
            {"op": "tags_get", "bucket": bucket, "key": "doc.txt"},
            {"op": "tags_put", "bucket": bucket, "key": "doc.txt", "tags": []},
            {"op": "tags_get", "bucket": bucket, "key": "doc.txt"},
            {"op": "tags_get", "bucket": bucket, "key": "missing"},
            {"op": "tags_put", "bucket": bucket, "key": "doc.txt",
             "tags": (0..11).map(|i| (format!("k{i}"), "v")).collect::<Vec<_>>()},
            {"op": "delete", "bucket": bucket, "key": "doc.txt"},
            {"op": "head", "bucket": bucket, "key": "doc.txt"},
            {"op": "delete", "bucket": bucket, "key": "doc.txt"},
            put(other, "m/1", "1"),
            put(other, "m/2", "2"),
            {"op": "delete_many", "bucket": other, "keys": ["m/1", "m/2", "m/never"]},
            {"op": "list", "bucket": other, "prefix": "m/"},
        ]))
        .await;
    let changed = step_ok(&results[1]);
    assert_ne!(
        changed["etag"], head["etag"],
        "a new version has a new ETag"
    );
    assert_eq!(changed["size"], 7);
    // A put replaces content type and metadata (S3 then reports its default type).
    assert_ne!(changed["content_type"], "text/plain");
    assert_eq!(changed["metadata"], json!([]));
    assert_eq!(step_ok(&results[2])["body"], "changed");
    step_ok(&results[3]);
    assert_eq!(
        step_ok(&results[4]),
        &json!([["env", "dev"], ["team", "x"]])
    );
    step_ok(&results[5]);
    assert_eq!(step_ok(&results[6]), &json!([]));
    assert_eq!(step_error(&results[7]), "not-found");
    assert_eq!(step_error(&results[8]), "invalid-input", "at most 10 tags");
    step_ok(&results[9]);
    assert_eq!(step_error(&results[10]), "not-found", "deleted");
    step_ok(&results[11]); // deleting what is not there succeeds
    let deleted = step_ok(&results[14]);
    assert_eq!(deleted["deleted"], json!(["m/1", "m/2", "m/never"]));
    assert_eq!(deleted["failed"], json!([]));
    assert_eq!(step_ok(&results[15])["keys"], json!([]));
}

async fn uploads(world: &World, bucket: &str) {
    let results = world
        .script(json!([
            {"op": "put_abandon", "bucket": bucket, "key": "abandoned", "body": "partial"},
            {"op": "head", "bucket": bucket, "key": "abandoned"},
            {"op": "finish_with_open_body", "bucket": bucket, "key": "open"},
            {"op": "head", "bucket": bucket, "key": "open"},
            put(bucket, "empty", ""),
            {"op": "get", "bucket": bucket, "key": "empty"},
            {"op": "put", "bucket": "no-such-bucket-xacct", "key": "k", "body": "x"},
            {"op": "get", "bucket": bucket, "key": "a", "first": 1, "last": 0},
        ]))
        .await;
    step_ok(&results[0]);
    assert_eq!(
        step_error(&results[1]),
        "not-found",
        "a dropped upload stores nothing"
    );
    assert_eq!(step_error(&results[2]), "invalid-input");
    assert_eq!(
        step_error(&results[3]),
        "not-found",
        "a refused finish stores nothing"
    );
    assert_eq!(step_ok(&results[4])["size"], 0);
    assert_eq!(step_ok(&results[5])["body"], "");
    assert_eq!(step_error(&results[6]), "not-found");
    assert_eq!(
        step_error(&results[7]),
        "invalid-input",
        "a range that ends before it starts"
    );
}
