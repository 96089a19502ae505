//! The local backend is confined by the OS: a symbolic link anywhere below its root (in a
//! bucket, as a bucket or an account directory, as an object, in `.xacct/`) is never
//! followed, whatever a plugin asks, and a name swapped for a link mid-call yields nothing
//! from outside either. Each test keeps a secret just outside the data root and checks it
//! never reaches the plugin and nothing outside changes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{self, World, files_below, ok, step_error, step_ok};
use serde_json::{Value, json};
use xacct::plan::Mode;

const SECRET: &str = "TOPSECRET-outside-the-root";

/// A world whose temporary directory also holds `outside/` (beside the data root) with
/// `secret.txt` and `dir/secret.txt`.
fn world() -> (World, PathBuf) {
    let world = World::new(&["s3script"], "");
    let outside = world.dir.path().join("outside");
    std::fs::create_dir_all(outside.join("dir")).unwrap();
    std::fs::write(outside.join("secret.txt"), SECRET).unwrap();
    std::fs::write(outside.join("dir/secret.txt"), SECRET).unwrap();
    (world, outside)
}

/// A relative link at `at` (below the data root) to `target`, as an unpacked tarball has.
fn link(world: &World, target: &str, at: &str) {
    std::os::unix::fs::symlink(target, world.data().join(at)).unwrap();
}

/// Every file below `dir` with its content.
fn snapshot(dir: &Path) -> Vec<(String, String)> {
    files_below(dir)
        .into_iter()
        .map(|name| {
            let content = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
            (name, content)
        })
        .collect()
}

fn assert_no_secret(results: &[Value]) {
    for result in results {
        assert!(!result.to_string().contains(SECRET), "leaked: {result}");
    }
}

/// Asserts the step was refused because of a link.
fn assert_refused(step: &Value, result: &Value) {
    assert_eq!(step_error(result), "access-denied", "{step} gave {result}");
    let message = result["error"]["message"].as_str().unwrap();
    assert!(message.contains("symbolic link"), "{step} gave {message}");
    assert!(
        message.contains("(by the backend)"),
        "{step} gave {message}"
    );
}

/// Every operation a plugin can aim at `key` in `bucket`, reading or writing.
fn every_op_on(bucket: &str, key: &str) -> Vec<Value> {
    vec![
        json!({"op": "get", "bucket": bucket, "key": key}),
        json!({"op": "get", "bucket": bucket, "key": key, "first": 0, "last": 3}),
        json!({"op": "head", "bucket": bucket, "key": key}),
        json!({"op": "tags_get", "bucket": bucket, "key": key}),
        json!({"op": "tags_put", "bucket": bucket, "key": key, "tags": [["a", "b"]]}),
        json!({"op": "copy", "bucket": bucket, "key": key, "to_bucket": "bkt", "to_key": "stolen"}),
        json!({"op": "put", "bucket": bucket, "key": key, "body": "pwned"}),
        json!({"op": "copy", "bucket": "bkt", "key": "public.txt", "to_bucket": bucket, "to_key": key}),
        json!({"op": "delete", "bucket": bucket, "key": key}),
        json!({"op": "delete_many", "bucket": bucket, "keys": [key]}),
    ]
}

/// Runs `steps` and asserts each is refused for a link (a `delete_many` in its result).
async fn assert_all_refused(world: &World, steps: Vec<Value>) -> Vec<Value> {
    let results = world.script(json!(steps)).await;
    assert_no_secret(&results);
    for (step, result) in steps.iter().zip(&results) {
        if step["op"] == "delete_many" {
            let failed = &step_ok(result)["failed"];
            assert_eq!(failed[0]["error"]["kind"], "access-denied", "{result}");
        } else {
            assert_refused(step, result);
        }
    }
    results
}

#[tokio::test]
async fn a_directory_link_inside_a_bucket_leads_nowhere() {
    let (world, outside) = world();
    world.put_file("111111111111", "bkt", "public.txt", "public");
    world.put_file("111111111111", "bkt", "docs/a.txt", "a");
    world.put_file("222222222222", "bkt", "public.txt", "staging");
    // data/111111111111/bkt/escape -> <tmp>/outside
    link(&world, "../../../outside", "111111111111/bkt/escape");
    link(
        &world,
        "../../../../outside/dir",
        "111111111111/bkt/docs/deeper",
    );
    let before = snapshot(&outside);

    let mut steps = Vec::new();
    for key in [
        "escape/secret.txt",
        "escape/dir/secret.txt",
        "escape/planted.txt",
        "docs/deeper/secret.txt",
        "docs/deeper/new/planted.txt",
    ] {
        steps.extend(every_op_on("bkt", key));
    }
    assert_all_refused(&world, steps).await;

    let results = world
        .script(json!([
            {"op": "list", "bucket": "bkt"},
            {"op": "list", "bucket": "bkt", "prefix": "escape/"},
            {"op": "list", "bucket": "bkt", "prefix": "docs/deeper/"},
            {"op": "list", "bucket": "bkt", "delimiter": "/"},
            {"op": "list_all", "bucket": "bkt", "max_keys": 1},
            {"op": "get", "bucket": "bkt", "key": "public.txt"},
            {"op": "get", "bucket": "bkt", "key": "public.txt", "account": "222222222222"},
        ]))
        .await;
    assert_no_secret(&results);
    assert_eq!(
        step_ok(&results[0])["keys"],
        json!(["docs/a.txt", "public.txt"])
    );
    assert_eq!(step_ok(&results[1])["keys"], json!([]));
    assert_eq!(step_ok(&results[2])["keys"], json!([]));
    assert_eq!(step_ok(&results[3])["keys"], json!(["public.txt"]));
    assert_eq!(
        step_ok(&results[3])["prefixes"],
        json!(["docs/"]),
        "a link is not a common prefix"
    );
    assert_eq!(
        step_ok(&results[4])["keys"],
        json!(["docs/a.txt", "public.txt"])
    );
    assert_eq!(step_ok(&results[5])["body"], "public");
    assert_eq!(step_ok(&results[6])["body"], "staging");

    assert_eq!(snapshot(&outside), before, "nothing outside was written");
    assert!(!world.data().join("111111111111/bkt/stolen").exists());
    assert!(world.data().join("111111111111/bkt/escape").is_symlink());
}

#[tokio::test]
async fn a_linked_bucket_is_refused_and_not_listed() {
    let (world, outside) = world();
    world.put_file("111111111111", "bkt", "public.txt", "public");
    std::fs::create_dir_all(outside.join("bucket")).unwrap();
    std::fs::write(outside.join("bucket/secret.txt"), SECRET).unwrap();
    link(&world, "../../outside/bucket", "111111111111/linked");
    // A link to a bucket inside the root is refused just the same.
    link(&world, "bkt", "111111111111/alias");
    let before = snapshot(&outside);

    let mut steps = Vec::new();
    for bucket in ["linked", "alias"] {
        steps.extend(every_op_on(bucket, "secret.txt"));
        steps.push(json!({"op": "list", "bucket": bucket}));
    }
    // `delete_many` opens its bucket first, so it fails as a whole here.
    let results = world.script(json!(steps)).await;
    assert_no_secret(&results);
    for (step, result) in steps.iter().zip(&results) {
        assert_refused(step, result);
    }

    let results = world.script(json!([{"op": "buckets"}])).await;
    assert_eq!(step_ok(&results[0]), &json!(["bkt"]));
    assert_eq!(snapshot(&outside), before);
    assert!(!world.data().join("111111111111/bkt/stolen").exists());
}

#[tokio::test]
async fn a_linked_account_directory_is_refused_and_the_others_run_on() {
    let (world, outside) = world();
    for (id, _) in common::ACCOUNTS {
        world.put_file(id, "bkt", "public.txt", id);
    }
    std::fs::create_dir_all(outside.join("account/bkt")).unwrap();
    std::fs::write(outside.join("account/bkt/public.txt"), SECRET).unwrap();
    std::fs::remove_dir_all(world.data().join("222222222222")).unwrap();
    link(&world, "../outside/account", "222222222222");
    let before = snapshot(&outside);

    let steps = json!([
        {"op": "buckets"},
        {"op": "get", "bucket": "bkt", "key": "public.txt"},
        {"op": "list", "bucket": "bkt"},
        {"op": "put", "bucket": "bkt", "key": "planted.txt", "body": "pwned"},
    ]);
    let report = world
        .run("s3script", json!({ "steps": steps }), Mode::PerAccount)
        .await;
    assert_eq!(report.entries.len(), 3);
    for entry in &report.entries {
        let results = ok(entry)["results"].as_array().unwrap();
        assert_no_secret(results);
        if entry.account_id == "222222222222" {
            for (step, result) in steps.as_array().unwrap().iter().zip(results) {
                assert_refused(step, result);
            }
        } else {
            assert_eq!(step_ok(&results[0]), &json!(["bkt"]));
            assert_eq!(step_ok(&results[1])["body"], entry.account_id.as_str());
            assert_eq!(
                step_ok(&results[2])["keys"],
                json!(["public.txt"]),
                "{}",
                entry.account_id
            );
            step_ok(&results[3]);
        }
    }
    assert_eq!(snapshot(&outside), before);
}

#[tokio::test]
async fn a_linked_object_is_refused_and_not_listed() {
    let (world, outside) = world();
    world.put_file("111111111111", "bkt", "public.txt", "public");
    world.put_file("111111111111", "bkt", "dir/inner.txt", "inner");
    link(
        &world,
        "../../../outside/secret.txt",
        "111111111111/bkt/file-link",
    );
    link(
        &world,
        "../../../../outside/secret.txt",
        "111111111111/bkt/dir/nested-link",
    );
    // A link to an object inside the root is refused too: the backend never follows one.
    link(&world, "public.txt", "111111111111/bkt/inner-link");
    let before = snapshot(&outside);

    let mut steps = Vec::new();
    for key in ["file-link", "dir/nested-link", "inner-link"] {
        steps.extend(every_op_on("bkt", key));
    }
    assert_all_refused(&world, steps).await;

    let results = world
        .script(json!([
            {"op": "list", "bucket": "bkt"},
            {"op": "list", "bucket": "bkt", "prefix": "dir/"},
            {"op": "get", "bucket": "bkt", "key": "public.txt"},
        ]))
        .await;
    assert_eq!(
        step_ok(&results[0])["keys"],
        json!(["dir/inner.txt", "public.txt"])
    );
    assert_eq!(step_ok(&results[1])["keys"], json!(["dir/inner.txt"]));
    assert_eq!(step_ok(&results[2])["body"], "public");
    assert_eq!(snapshot(&outside), before);
    for key in ["file-link", "dir/nested-link", "inner-link"] {
        assert!(
            world.data().join("111111111111/bkt").join(key).is_symlink(),
            "{key} is left as it was"
        );
    }
}

#[tokio::test]
async fn links_in_the_backends_own_directories_are_refused() {
    let (world, outside) = world();
    world.put_file("111111111111", "bkt", "public.txt", "public");
    std::fs::create_dir_all(world.data().join(".xacct")).unwrap();

    // Temporary files would land outside.
    link(&world, "../../outside/dir", ".xacct/tmp");
    let before = snapshot(&outside);
    let steps = vec![
        json!({"op": "put", "bucket": "bkt", "key": "new.txt", "body": "pwned"}),
        json!({"op": "copy", "bucket": "bkt", "key": "public.txt", "to_bucket": "bkt", "to_key": "copy.txt"}),
    ];
    assert_all_refused(&world, steps).await;
    assert_eq!(snapshot(&outside), before);
    assert!(!world.data().join("111111111111/bkt/new.txt").exists());
    std::fs::remove_file(world.data().join(".xacct/tmp")).unwrap();

    // Sidecars would be read from and written outside.
    let results = world
        .script(json!([
            {"op": "put", "bucket": "bkt", "key": "typed.txt", "body": "t", "content_type": "text/plain"},
        ]))
        .await;
    step_ok(&results[0]);
    let meta = world.data().join(".xacct/meta");
    let sidecars = files_below(&meta);
    assert_eq!(sidecars.len(), 1, "{sidecars:?}");
    std::fs::rename(&meta, outside.join("meta")).unwrap();
    let planted = outside.join("meta").join(&sidecars[0]);
    std::fs::write(
        &planted,
        format!(r#"{{"content_type":"{SECRET}","metadata":[],"tags":[]}}"#),
    )
    .unwrap();
    link(&world, "../../outside/meta", ".xacct/meta");
    let before = snapshot(&outside);
    let mut steps = every_op_on("bkt", "typed.txt");
    steps.retain(|step| step["op"] != "delete_many");
    steps.push(json!({"op": "put", "bucket": "bkt", "key": "typed2.txt", "body": "t", "content_type": "x/y"}));
    assert_all_refused(&world, steps).await;
    assert_eq!(snapshot(&outside), before);
    assert_eq!(
        std::fs::read_to_string(world.data().join("111111111111/bkt/typed.txt")).unwrap(),
        "t",
        "a refused delete or put leaves the object"
    );

    // A sidecar that is itself a link.
    std::fs::remove_file(&meta).unwrap();
    let sidecar = meta.join(&sidecars[0]);
    std::fs::create_dir_all(sidecar.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&planted, &sidecar).unwrap();
    let steps = vec![
        json!({"op": "head", "bucket": "bkt", "key": "typed.txt"}),
        json!({"op": "get", "bucket": "bkt", "key": "typed.txt"}),
        json!({"op": "tags_get", "bucket": "bkt", "key": "typed.txt"}),
        json!({"op": "tags_put", "bucket": "bkt", "key": "typed.txt", "tags": [["a", "b"]]}),
        json!({"op": "put", "bucket": "bkt", "key": "typed.txt", "body": "t", "content_type": "x/y"}),
    ];
    assert_all_refused(&world, steps).await;
    assert_eq!(snapshot(&outside), before);
    assert!(sidecar.is_symlink());
    assert_eq!(
        files_below(&world.data().join(".xacct/tmp")),
        Vec::<String>::new(),
        "no temporary file is left"
    );
}

/// Swaps `k` (in the bucket directory `dir`) between a real file and a link to the
/// outside secret, each swap one atomic rename, and `d` between a real directory and a
/// link to an outside one, until `stop` or the deadline, counting rounds in `swaps`.
fn swapper(dir: PathBuf, stop: Arc<AtomicBool>, swaps: Arc<AtomicUsize>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let (name, folder) = (dir.join("k"), dir.join("d"));
    let (staged, parked) = (dir.join("k.staged"), dir.join("d.parked"));
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        std::os::unix::fs::symlink("../../../outside/secret.txt", &staged).unwrap();
        std::fs::rename(&staged, &name).unwrap();
        std::fs::rename(&folder, &parked).unwrap();
        std::os::unix::fs::symlink("../../../outside/dir", &folder).unwrap();
        std::thread::yield_now();
        std::fs::write(&staged, "public").unwrap();
        std::fs::rename(&staged, &name).unwrap();
        std::fs::remove_file(&folder).unwrap();
        std::fs::rename(&parked, &folder).unwrap();
        swaps.fetch_add(1, Ordering::Relaxed);
        std::thread::yield_now();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_swapped_for_a_link_mid_call_never_yields_the_secret() {
    let (world, outside) = world();
    world.put_file("111111111111", "bkt", "k", "public");
    world.put_file("111111111111", "bkt", "d/secret.txt", "public");
    world.put_file("222222222222", "bkt", "k", "staging");
    let before = snapshot(&outside);
    let mut steps = Vec::new();
    for i in 0..100 {
        steps.push(json!({"op": "get", "bucket": "bkt", "key": "k"}));
        steps.push(json!({"op": "get", "bucket": "bkt", "key": "d/secret.txt"}));
        steps.push(json!({"op": "head", "bucket": "bkt", "key": "k"}));
        steps.push(json!({"op": "copy", "bucket": "bkt", "key": "k", "to_bucket": "bkt", "to_key": format!("copies/{i}")}));
        // A put lands on the file or is refused; it never writes through the link.
        steps.push(json!({"op": "put", "bucket": "bkt", "key": "k", "body": "public"}));
    }
    steps.push(json!({"op": "get", "bucket": "bkt", "key": "k", "account": "222222222222"}));

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let thread = {
        let dir = world.data().join("111111111111/bkt");
        let (stop, swaps) = (stop.clone(), swaps.clone());
        std::thread::spawn(move || swapper(dir, stop, swaps))
    };
    let mut refused = 0;
    // Three rounds of 500 calls, while the names keep changing under them.
    for _ in 0..3 {
        let results = world.script(json!(steps)).await;
        assert_no_secret(&results);
        for (step, result) in steps.iter().zip(&results) {
            match result.get("ok") {
                Some(ok) if step["op"] == "get" => {
                    let expected = if step["account"].is_null() {
                        "public"
                    } else {
                        "staging"
                    };
                    assert_eq!(ok["body"], expected, "{step}");
                }
                Some(ok) if step["op"] == "head" => assert_eq!(ok["size"], 6, "{step}"),
                Some(_) => {}
                // A link met, or the name caught between two renames of the swap.
                None => {
                    let kind = step_error(result);
                    assert!(
                        kind == "access-denied" || kind == "not-found",
                        "{step}: {result}"
                    );
                    refused += usize::from(kind == "access-denied");
                }
            }
        }
        let last = results.last().unwrap();
        assert_eq!(
            step_ok(last)["body"],
            "staging",
            "the other account is intact"
        );
    }
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
    assert!(swaps.load(Ordering::Relaxed) > 0, "the swapper ran");
    assert!(
        refused > 0,
        "no call met a link: the race was not exercised"
    );

    assert_eq!(snapshot(&outside), before, "nothing outside was written");
    let bucket = world.data().join("111111111111/bkt");
    for copy in files_below(&bucket.join("copies")) {
        let body = std::fs::read_to_string(bucket.join("copies").join(&copy)).unwrap();
        assert_eq!(body, "public", "copies/{copy}");
    }
}
