//! Issue 17, "The precheck can be bypassed" and "A FIFO swapped in for a plugin file
//! blocks the loader": the cheap world check read export names only, so a component
//! exporting a `run` of the wrong type reached the compiler, and a compile bomb behind it
//! held `xacct plugins` for the whole compile budget on every run, a timeout not being
//! remembered; each abandoned compile kept a thread busy, without bound, in a long-lived
//! process (Lambda); and a plugin file was opened by path, blocking.
//!
//! Defences these need (issue 17, Deliver 4): the precheck checks that `run` is a
//! function of the world's type (`func(input: string) -> result<string, string>`) and
//! refuses anything else as not built for the world, naming `run` and that type, before
//! compiling; a compile timeout is remembered per plugin digest and host limits (the
//! compile budget among them), so the same file under the same budget is refused at once,
//! without compiling again, and a larger budget tries again; at most as many abandoned
//! compile threads are alive as the machine has cores (further compiles wait within their
//! own budget, or are refused); a plugin file is opened without blocking (`O_NONBLOCK`)
//! and checked on the open handle to be a regular file.
//!
//! The components come from `common::components`: real plugins of the world, each with
//! the one hostile trait under test.

use std::collections::HashSet;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use crate::common;
use common::components::{PluginComponent, Run};
use xacct::sandbox::{CacheLocation, LoadError, LoadOptions, Sandbox};

/// A compile budget no real compile meets: what is refused under it was refused before
/// compiling.
const NO_TIME: Duration = Duration::from_millis(1);

fn sandbox(options: LoadOptions) -> Sandbox {
    Sandbox::with_options(options, 1).unwrap()
}

fn write(dir: &Path, name: &str, component: &PluginComponent) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, component.bytes()).unwrap();
    path
}

/// The threads of this process, by id.
fn threads() -> HashSet<u64> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter_map(|task| task.file_name().to_str()?.parse().ok())
        .collect()
}

/// The threads started since `before` that are still alive.
fn started_since(before: &HashSet<u64>) -> usize {
    threads().difference(before).count()
}

/// Runs the test `name` of this module alone in a new process of this test binary, so
/// that the threads it counts are its own, not those of tests running beside it. Returns
/// `true` in that process (where the test's body runs), `false` in the caller once the
/// other process passed.
fn alone(name: &str) -> bool {
    const ALONE: &str = "XACCT_TEST_ALONE";
    let module = module_path!().split_once("::").map_or("", |(_, path)| path);
    let test = format!("{module}::{name}");
    if std::env::var(ALONE).is_ok_and(|running| running == test) {
        return true;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(ALONE, &test)
        .output()
        .unwrap();
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "{test} alone:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    false
}

/// A `run` that is a function of another type, or a core module: refused by the cheap
/// check under a budget no compile meets. Today both reach the compiler (and its budget
/// runs out); a well-typed plugin with the same slow function does reach it.
#[test]
fn a_run_of_the_wrong_type_is_refused_before_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let quick = sandbox(LoadOptions {
        compile_timeout: NO_TIME,
        ..LoadOptions::default()
    });
    for run in [Run::WrongType, Run::CoreModule] {
        let path = write(
            dir.path(),
            "wrong",
            &PluginComponent {
                run,
                slow_locals: 1000,
                ..PluginComponent::default()
            },
        );
        let err = quick.load("wrong", &path).err().unwrap();
        assert!(
            matches!(err, LoadError::WrongWorld { .. }),
            "{run:?}: {err}"
        );
        let message = err.to_string();
        assert!(message.contains("`run`"), "{message}");
        assert!(
            message.contains("func(input: string) -> result<string, string>"),
            "{message}"
        );
    }
    let typed = write(
        dir.path(),
        "typed",
        &PluginComponent {
            slow_locals: 1000,
            ..PluginComponent::default()
        },
    );
    // It reached the compile: ran out of the budget there, or found the process's
    // abandoned compiles (other tests') at their bound for the whole budget.
    let err = quick.load("typed", &typed).err().unwrap();
    assert!(err.out_of_compile_time(), "{err}");
}

/// A well-typed compile bomb over its budget: the second load of the same file under the
/// same budget is refused without compiling again (today a second compile thread starts
/// and the budget is spent again); a larger budget compiles it, and it loads.
#[test]
fn a_compile_timeout_is_remembered_for_the_file_and_the_budget() {
    if !alone("a_compile_timeout_is_remembered_for_the_file_and_the_budget") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let options = LoadOptions {
        cache: Some(CacheLocation {
            dir: dir.path().join("cache"),
            key_file: dir.path().join("cache.key"),
        }),
        compile_timeout: Duration::from_millis(200),
        ..LoadOptions::default()
    };
    let bomb = write(
        dir.path(),
        "bomb",
        &PluginComponent {
            slow_locals: 1500,
            ..PluginComponent::default()
        },
    );
    let first = sandbox(options.clone()).load("bomb", &bomb).err().unwrap();
    assert!(matches!(first, LoadError::CompileTimeout { .. }), "{first}");

    // The first compile runs on, abandoned; a thread the second load starts is a second
    // compile (the sandbox's own threads are started before counting).
    let second = sandbox(options.clone());
    let before = threads();
    let again = second.load("bomb", &bomb).err().unwrap();
    assert!(matches!(again, LoadError::CompileTimeout { .. }), "{again}");
    assert_eq!(
        started_since(&before),
        0,
        "the second load compiled again instead of remembering the timeout"
    );

    let patient = LoadOptions {
        compile_timeout: Duration::from_secs(600),
        ..options
    };
    sandbox(patient)
        .load("bomb", &bomb)
        .expect("a larger budget tries again, and the plugin is well-typed");
}

/// Eight different compile bombs under a budget no compile meets, in one process (as a
/// Lambda environment is): today eight compile threads stay alive, each a core busy.
#[test]
fn abandoned_compile_threads_are_bounded() {
    if !alone("abandoned_compile_threads_are_bounded") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let quick = sandbox(LoadOptions {
        compile_timeout: NO_TIME,
        ..LoadOptions::default()
    });
    // A compile to the end first, so that the threads the compiler keeps (its pool) are
    // there before counting.
    let sound = write(dir.path(), "sound", &PluginComponent::default());
    sandbox(LoadOptions::default())
        .load("sound", &sound)
        .unwrap();
    let before = threads();
    for salt in 0..8 {
        let path = write(
            dir.path(),
            &format!("bomb-{salt}"),
            &PluginComponent {
                slow_locals: 1500,
                salt,
                ..PluginComponent::default()
            },
        );
        // Refused, whether its compile was abandoned or never started.
        assert!(quick.load("bomb", &path).is_err());
    }
    let cores = std::thread::available_parallelism().unwrap().get();
    let alive = started_since(&before);
    assert!(
        alive <= cores,
        "{alive} abandoned compile threads alive on {cores} cores"
    );
}

/// A FIFO where a plugin file was (swapped in after the directory was listed, which the
/// loader cannot tell from this): the load must fail at once, not wait for a writer.
#[test]
fn a_fifo_in_place_of_a_plugin_file_does_not_block_the_loader() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("swapped.wasm");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (done, loaded) = mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let result = sandbox(LoadOptions::default())
            .load("swapped", &path)
            .err()
            .map(|err| err.to_string());
        let _ = done.send(result);
    });
    let result = loaded.recv_timeout(Duration::from_secs(10));
    if result.is_err() {
        // Free the blocked loader: a writer that closes at once gives it end of file.
        drop(std::fs::OpenOptions::new().write(true).open(&fifo));
    }
    let message = result
        .expect("the loader blocked opening a FIFO")
        .expect("a FIFO is no plugin");
    assert!(message.contains("swapped.wasm"), "{message}");
    assert!(message.contains("not a regular file"), "{message}");
}

/// `xacct plugins` in `dir` (its own compile cache there) under `config`: what it
/// printed, and how long it took.
fn timed_plugins(dir: &Path, config: &str) -> (String, Duration) {
    std::fs::write(dir.join("xacct.toml"), config).unwrap();
    let cache = dir.join("cache");
    let state = dir.join("state");
    let started = std::time::Instant::now();
    let output = common::Xacct::in_dir(dir)
        .env("XDG_CACHE_HOME", &cache)
        .env("XDG_STATE_HOME", &state)
        .arg("plugins")
        .output();
    (output.stdout, started.elapsed())
}

/// A wasip1 module whose adaptation takes seconds (its embedded world copied a thousand
/// times; the adapter merges them all): under a compile budget of 1 s, `xacct plugins`
/// was held for the whole adaptation, which ran before the budget started; and once the
/// plugin compiled and was cached, every load adapted it again. Measured as ratios to the
/// run that adapts and compiles it in full, in this test: the run under the tight budget,
/// and the run from the cache, must each take less than half of it.
#[test]
fn wasip1_adaptation_is_inside_the_compile_budget_and_cached() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    let module = std::fs::read(common::guest("hello-wasip1")).unwrap();
    std::fs::write(
        dir.path().join("plugins/worlds.wasm"),
        common::components::wasip1_with_copied_worlds(&module, 1000),
    )
    .unwrap();

    let (tight, tight_time) = timed_plugins(
        dir.path(),
        "plugins = \"plugins\"\ncompile_timeout_secs = 1\n",
    );
    let (patient, full_time) = timed_plugins(dir.path(), "plugins = \"plugins\"\n");
    let (cached, cached_time) = timed_plugins(dir.path(), "plugins = \"plugins\"\n");
    println!(
        "adapted and compiled: {full_time:?}; under a budget of 1 s: {tight_time:?}; from the cache: {cached_time:?}"
    );
    assert!(
        tight_time < full_time / 2,
        "a budget of 1 s held the loader {tight_time:?} (adapting and compiling in full: {full_time:?})"
    );
    assert!(
        cached_time < full_time / 2,
        "loading from the cache took {cached_time:?} (adapting and compiling: {full_time:?})"
    );
    // Adapting alone is over the budget of 1 s.
    assert!(tight.contains("budget of 1 s"), "{tight}");
    assert!(patient.contains(" ok "), "{patient}");
    assert!(cached.contains(" ok "), "{cached}");
}
