//! The plugin directory is untrusted input: a file too large, a file that cannot be a
//! plugin, or a component that takes too long to compile is refused with a message about
//! that file, quickly, without holding up the others; and a refusal is remembered.

use crate::common;

use std::time::{Duration, Instant};

use common::components::PluginComponent;
use common::{ConfigBuilder, World};
use xacct::sandbox::{CacheLocation, LoadError, LoadOptions, Sandbox};

/// A compile budget that no real compile meets: what is refused under it was refused
/// before compiling (or from the cache).
const NO_TIME: Duration = Duration::from_millis(1);

fn sandbox(options: LoadOptions) -> Sandbox {
    Sandbox::with_options(options, 1).unwrap()
}

fn without_time() -> Sandbox {
    sandbox(LoadOptions {
        compile_timeout: NO_TIME,
        ..LoadOptions::default()
    })
}

#[test]
fn an_oversized_file_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.wasm");
    // Sparse: nothing is written, and nothing should be read.
    let size = (65 << 20) + 1;
    std::fs::File::create(&path).unwrap().set_len(size).unwrap();
    let err = sandbox(LoadOptions::default())
        .load("big", &path)
        .err()
        .unwrap();
    assert!(
        matches!(err, LoadError::TooLarge { size: s, cap, .. } if s == size && cap == 64 << 20),
        "{err}"
    );
    let message = err.to_string();
    for part in [
        "big.wasm",
        "68157441 bytes",
        "cap of 64 MiB",
        "max_plugin_mib",
    ] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
}

#[test]
fn what_cannot_be_a_plugin_is_refused_before_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let sandbox = without_time();

    let message = sandbox.load("core", &core).err().unwrap().to_string();
    assert!(message.contains("not a WebAssembly component"), "{message}");
    assert!(message.contains("build for wasm32-wasip2"), "{message}");

    let err = sandbox
        .load("not-a-plugin", &common::guest("not-a-plugin"))
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::WrongWorld { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("does not export `run"), "{message}");
    assert!(message.contains("wasi:cli/run"), "{message}");

    let err = sandbox
        .load("extra_import", &common::guest("extra_import"))
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::WrongWorld { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("imports test:extra/secrets, which this host does not provide"),
        "{message}"
    );
}

#[test]
fn a_compile_over_budget_is_refused_and_the_other_plugins_load() {
    let root = tempfile::tempdir().unwrap();
    let location = CacheLocation {
        dir: root.path().join("cache"),
        key_file: root.path().join("cache.key"),
    };
    let options = LoadOptions {
        cache: Some(location),
        ..LoadOptions::default()
    };
    sandbox(options.clone())
        .load("hello", &common::guest("hello"))
        .unwrap();
    let tight = sandbox(LoadOptions {
        compile_timeout: NO_TIME,
        ..options
    });
    let files = [
        ("inventory".to_owned(), common::guest("inventory")),
        ("hello".to_owned(), common::guest("hello")),
    ];
    let loaded = tight.load_all(&files);
    let err = loaded[0].as_ref().err().unwrap();
    assert!(err.out_of_compile_time(), "{err}");
    let message = err.to_string();
    assert!(message.contains("inventory.wasm"), "{message}");
    assert!(message.contains("budget of 0.001 s"), "{message}");
    assert!(message.contains("compile_timeout_secs"), "{message}");
    assert_eq!(loaded[1].as_ref().unwrap().name, "hello");
}

#[test]
fn a_refusal_is_remembered_and_a_forged_one_is_not() {
    let root = tempfile::tempdir().unwrap();
    let location = CacheLocation {
        dir: root.path().join("cache"),
        key_file: root.path().join("cache.key"),
    };
    let path = root.path().join("slow.wasm");
    // Well-typed, slow to compile, and refused once compiled: it imports a WASI interface
    // this host does not serve.
    let refused = PluginComponent {
        slow_locals: 1000,
        unknown_wasi_import: true,
        ..PluginComponent::default()
    };
    std::fs::write(&path, refused.bytes()).unwrap();
    let options = LoadOptions {
        cache: Some(location.clone()),
        ..LoadOptions::default()
    };
    let first = sandbox(options.clone()).load("slow", &path).err().unwrap();
    assert!(matches!(first, LoadError::WrongWorld { .. }), "{first}");

    // Refused again without compiling: under a budget no compile meets, the same message.
    let tight = LoadOptions {
        compile_timeout: NO_TIME,
        ..options
    };
    let started = Instant::now();
    let again = sandbox(tight.clone()).load("slow", &path).err().unwrap();
    assert_eq!(again.to_string(), first.to_string());
    println!("refused from the cache in {:?}", started.elapsed());

    let entries = common::files_below(&location.dir);
    let refusal = entries
        .iter()
        .find(|name| name.ends_with(".refused"))
        .unwrap_or_else(|| panic!("no refusal in {entries:?}"));
    let refusal = location.dir.join(refusal);
    let mut forged = std::fs::read(&refusal).unwrap();
    *forged.last_mut().unwrap() ^= 1;
    std::fs::write(&refusal, forged).unwrap();
    let err = sandbox(tight).load("slow", &path).err().unwrap();
    assert!(err.out_of_compile_time(), "{err}");
}

/// The line `xacct plugins` printed for `name`.
fn line<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no line for {name} in {stdout}"))
}

#[test]
fn cli_plugins_applies_the_configured_cap_and_budget_and_is_not_held_up() {
    let world = World::with_config(&["hello", "inventory"], &ConfigBuilder::default(), None);
    let plugins = world.dir.path().join("plugins");
    // The real plugins compiled and cached first, under the default budget, so that the
    // tight one is for the hostile file alone.
    let warm = world.xacct().arg("plugins").output();
    assert!(warm.success(), "{}", warm.stdout);
    let tight = ConfigBuilder::default()
        .top_level("max_plugin_mib", 1)
        .top_level("compile_timeout_secs", 1);
    std::fs::write(world.dir.path().join("tight.toml"), tight.render()).unwrap();

    std::fs::File::create(plugins.join("big.wasm"))
        .unwrap()
        .set_len((1 << 20) + 1)
        .unwrap();
    // A plugin of the world that takes about 8 s to compile on the machine this was
    // written on.
    let slow = PluginComponent {
        slow_locals: 6000,
        ..PluginComponent::default()
    };
    std::fs::write(plugins.join("slow.wasm"), slow.bytes()).unwrap();
    let started = Instant::now();
    let output = world
        .xacct()
        .args(["plugins", "--config", "tight.toml"])
        .output();
    let elapsed = started.elapsed();
    let stdout = output.stdout;
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(line(&stdout, "hello").contains(" ok "), "{stdout}");
    assert!(line(&stdout, "inventory").contains(" ok "), "{stdout}");
    let big = line(&stdout, "big");
    assert!(big.contains("1048577 bytes"), "{big}");
    assert!(
        big.contains("cap of 1 MiB; fix: raise max_plugin_mib"),
        "{big}"
    );
    // Refused now, or remembered from an earlier run of this test within the last ten
    // minutes (the tests' compile cache is shared): either way the budget and the fix.
    let slow = line(&stdout, "slow");
    assert!(slow.contains("compile time budget of 1 s"), "{slow}");
    assert!(slow.contains("; fix: raise compile_timeout_secs"), "{slow}");
    // The command does not wait for the compile it gave up on.
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

/// The components `common::components` makes to measure start as sound plugins: one
/// loads and runs under the default limits, answering `{}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_made_to_measure_is_a_sound_plugin() {
    let world = World::local_with(&[], ConfigBuilder::local("data").full_grants(&["made"]));
    std::fs::write(
        world.dir.path().join("plugins/made.wasm"),
        PluginComponent::default().bytes(),
    )
    .unwrap();
    let report = world
        .run("made", serde_json::json!({}), xacct::plan::Mode::PerAccount)
        .await;
    for entry in &report.entries {
        assert_eq!(common::ok(entry), &serde_json::json!({}));
    }
}
