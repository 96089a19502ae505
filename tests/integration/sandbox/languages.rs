//! Plugins from other toolchains next to the Rust ones: componentize-py (Python) and
//! componentize-js (JavaScript) components under the default limits, a wasm32-wasip1
//! core module adapted at load, the per-plugin component limits, and what an uncaught
//! exception leaves in the report; on the local backend and on moto.

use crate::common;

use std::sync::Arc;
use std::time::Instant;

use common::moto::{self, Moto, ROLE, Target};
use common::{ACCOUNTS, World, failed, ok};
use serde_json::json;
use xacct::pipeline::{self, RunRequest};
use xacct::plan::Mode;
use xacct::sandbox::{CacheLocation, LoadError, LoadOptions, Sandbox};

const HELLOS: [&str; 4] = ["hello", "hello-py", "hello-js", "hello-wasip1"];

fn sample_world(guests: &[&str]) -> World {
    let world = World::new(guests, "");
    world.put_file("111111111111", "dev-reports", "a/1.csv", "1");
    world.put_file("111111111111", "dev-reports", "a/2.csv", "22");
    world.put_file("111111111111", "dev-logs", "app.log", "333");
    world.bucket("333333333333", "prod-archive");
    world
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_language_greets_each_account_under_the_default_limits() {
    let world = sample_world(&HELLOS);
    let expected = [
        vec!["dev-logs", "dev-reports"],
        vec![],
        vec!["prod-archive"],
    ];
    for plugin in HELLOS {
        let report = world.run(plugin, json!({}), Mode::PerAccount).await;
        for ((entry, (id, alias)), buckets) in report.entries.iter().zip(ACCOUNTS).zip(&expected) {
            let output = ok(entry);
            assert_eq!(output["buckets"], json!(buckets), "{plugin}");
            assert_eq!(
                output["greeting"],
                format!("Hello from {alias} ({id})!"),
                "{plugin}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_inventory_pages_through_listings() {
    let world = sample_world(&["inventory-py"]);
    for i in 0..1100 {
        world.put_file("333333333333", "prod-archive", &format!("k/{i:05}"), "x");
    }
    let report = world
        .run("inventory-py", json!({ "prefix": "a/" }), Mode::PerAccount)
        .await;
    let dev = ok(&report.entries[0]);
    assert_eq!(
        (dev["objects"].as_u64(), dev["bytes"].as_u64()),
        (Some(2), Some(3))
    );
    let report = world.run("inventory-py", json!({}), Mode::PerAccount).await;
    assert_eq!(
        ok(&report.entries[2])["objects"],
        1100,
        "more than one page"
    );
    assert!(
        report.entries[2]
            .stderr
            .contains("prod-archive: 1100 objects"),
        "{}",
        report.entries[2].stderr
    );
}

/// A sandbox that loads under `world`'s config, as the command line's does.
fn configured_sandbox(world: &World) -> Arc<Sandbox> {
    let options = LoadOptions {
        cache: CacheLocation::with_user_key(common::target_dir().join("xacct-test-cache")),
        ..LoadOptions::for_config(&world.config)
    };
    Arc::new(Sandbox::with_options(options, 4).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_over_its_limit_is_refused_by_name_before_compiling() {
    let limited = "[plugin.hello-py.limits]\ncore_instances = 4\n";
    let world = World::new(&["hello-py"], limited);
    let sandbox = configured_sandbox(&world);
    let service = world.service().await;
    let request = RunRequest::new("hello-py", "{}", Mode::PerAccount);
    for _ in 0..2 {
        let started = Instant::now();
        let report = pipeline::run(&world.config, &sandbox, service, &request, &())
            .await
            .unwrap();
        let (kind, message) = failed(&report.entries[0]);
        assert_eq!(kind, "load");
        for part in [
            "holds 14 core instances",
            "limit of 4",
            "plugin.hello-py.limits.core_instances",
            "core_instances = 14",
        ] {
            assert!(message.contains(part), "{part:?} in {message}");
        }
        // A compile takes seconds; counting is a parse.
        assert!(started.elapsed().as_secs() < 2, "{:?}", started.elapsed());
    }

    // The limit is the operator's: raised, the same file loads (no stale refusal).
    let world = World::new(&["hello-py"], "[limits]\ncore_instances = 14\n");
    let report = pipeline::run(
        &world.config,
        &configured_sandbox(&world),
        world.service().await,
        &request,
        &(),
    )
    .await
    .unwrap();
    ok(&report.entries[0]);
}

#[test]
fn a_core_module_without_a_world_names_the_target_and_the_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("bare.wasm");
    // A module with one exported function: wasm32-wasip1 output without wit-bindgen.
    std::fs::write(
        &module,
        b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x07\x07\x01\x03run\0\0\x0a\x04\x01\x02\0\x0b",
    )
    .unwrap();
    let sandbox = Sandbox::with_options(LoadOptions::default(), 1).unwrap();
    let err = sandbox.load("bare", &module).err().unwrap();
    assert!(matches!(err, LoadError::NotAComponent { .. }), "{err}");
    let message = err.to_string();
    for part in ["wasm32-wasip2", "wasm32-wasip1", "preview1 reactor adapter"] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
    // The wasip1 build of hello, by contrast, loads.
    sandbox
        .load("hello-wasip1", &common::guest("hello-wasip1"))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncaught_exception_reaches_the_report() {
    let world = World::new(&["raise-py", "throw-js"], "");
    let first = |report: xacct::report::Report| report.entries.into_iter().next().unwrap();

    let entry = first(
        world
            .run(
                "raise-py",
                json!({"raise": "no such bucket: x"}),
                Mode::PerAccount,
            )
            .await,
    );
    let (kind, message) = failed(&entry);
    assert_eq!(kind, "trap");
    assert!(
        message.contains("uncaught Python exception: ValueError: no such bucket: x"),
        "{message}"
    );
    let entry = first(
        world
            .run("raise-py", json!({"err": "by the book"}), Mode::PerAccount)
            .await,
    );
    assert_eq!(failed(&entry), ("plugin-error", "by the book"));

    let entry = first(
        world
            .run("throw-js", json!({"throw": "lost"}), Mode::PerAccount)
            .await,
    );
    let (kind, message) = failed(&entry);
    assert_eq!(kind, "trap");
    assert!(message.contains("threw a non-string"), "{message}");
    assert!(message.contains("throw String(e)"), "{message}");
    let entry = first(
        world
            .run("throw-js", json!({"wrapped": "kept"}), Mode::PerAccount)
            .await,
    );
    assert_eq!(failed(&entry), ("plugin-error", "Error: kept"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_language_greets_each_account_on_moto() {
    let moto = Moto::start();
    let targets: Vec<Target> = ACCOUNTS
        .iter()
        .zip([&["dev-a", "dev-b"][..], &["staging-a"], &[]])
        .map(|((id, _), buckets)| Target {
            id,
            buckets,
            s3_actions: &["s3:*"],
            assumable: true,
        })
        .collect();
    let home = moto::seed(&moto, &targets).await;
    let world = World::aws(&HELLOS, &moto.endpoint, ROLE, home.provider());
    moto.enforce_iam();
    for plugin in HELLOS {
        let report = world.run(plugin, json!({}), Mode::PerAccount).await;
        for (entry, target) in report.entries.iter().zip(&targets) {
            assert_eq!(ok(entry)["buckets"], json!(target.buckets), "{plugin}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_javascript_stream_ten_mib_through_the_plugin() {
    let world = World::new(&["read-py", "read-js"], "");
    let body: Vec<u8> = (0..10u32 << 20).map(|i| (i % 251) as u8).collect();
    world.put_file("111111111111", "big", "ten.bin", &body);
    for plugin in ["read-py", "read-js"] {
        let report = world
            .run(
                plugin,
                json!({"bucket": "big", "key": "ten.bin"}),
                Mode::PerAccount,
            )
            .await;
        assert_eq!(ok(&report.entries[0])["bytes"], 10 << 20, "{plugin}");
        assert_eq!(report.entries[0].usage.bytes_read, 10 << 20, "{plugin}");
    }
}
