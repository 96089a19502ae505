//! Shared harness of the integration tests: real components built from `plugins/` and
//! `tests/guests/` (by `scripts/build-guests`), a scratch directory per test holding the
//! local backend's data, the plugin directory and a config, and helpers to run plugins
//! through the same pipeline the CLI uses.

#![allow(dead_code)] // the benchmarks use their own part of the harness

pub mod browser;
pub mod cli;
pub mod components;
pub mod config;
pub mod conformance;
pub mod keys;
pub mod moto;
pub mod posture_estate;
pub mod shim;

pub use cli::Xacct;
pub use config::ConfigBuilder;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use aws_credential_types::provider::SharedCredentialsProvider;
use xacct::capability::Backend;
use xacct::config::Config;
use xacct::pipeline::{self, RunRequest, Service};
use xacct::plan::Mode;
use xacct::report::{Entry, Report, Status};
use xacct::sandbox::Sandbox;

/// The accounts every scratch world has, as (id, alias).
pub const ACCOUNTS: [(&str, &str); 3] = [
    ("111111111111", "dev"),
    ("222222222222", "staging"),
    ("333333333333", "prod"),
];

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// The compiled component of a guest: a Rust crate's, else another language's or another
/// target's (`target/guests`).
pub fn guest(name: &str) -> PathBuf {
    let file = format!("{name}.wasm");
    let release = target_dir().join("wasm32-wasip2/release");
    // Cargo names a library's artifact with '_' for each '-' of the crate's name.
    let path = [
        release.join(&file),
        release.join(file.replace('-', "_")),
        target_dir().join("guests").join(&file),
    ]
    .into_iter()
    .find(|path| path.is_file())
    .unwrap_or_else(|| target_dir().join("guests").join(&file));
    assert!(
        path.is_file(),
        "{} is missing: build the guests first with scripts/build-guests (scripts/test does)",
        path.display()
    );
    path
}

/// One sandbox per test binary, with a compile cache shared by all tests, so each guest
/// is compiled once per machine rather than once per test.
pub fn sandbox() -> Arc<Sandbox> {
    static SANDBOX: OnceLock<Arc<Sandbox>> = OnceLock::new();
    SANDBOX
        .get_or_init(|| {
            Arc::new(Sandbox::new(Some(target_dir().join("xacct-test-cache")), 1000).unwrap())
        })
        .clone()
}

/// A scratch deployment: data, plugins and config in a temporary directory.
pub struct World {
    pub dir: tempfile::TempDir,
    pub config: Config,
    /// The home identity's credentials on the AWS backend.
    home: Option<SharedCredentialsProvider>,
    service: tokio::sync::OnceCell<Service>,
}

impl World {
    /// Whether the world runs on the AWS backend (moto), not the local one.
    pub fn on_aws(&self) -> bool {
        self.home.is_some()
    }

    /// A world on the local backend with the given guests in its plugin directory, each
    /// granted everything in every account, the three [`ACCOUNTS`], and `extra` (TOML
    /// tables: grants, limits) added to the config.
    pub fn new(guests: &[&str], extra: &str) -> World {
        let config = ConfigBuilder::local("data").full_grants(guests);
        World::local_with(guests, config.section(extra))
    }

    /// Like [`World::new`], but the plugins have only the grants `extra` gives them.
    pub fn local(guests: &[&str], extra: &str) -> World {
        World::local_with(guests, ConfigBuilder::local("data").section(extra))
    }

    /// A world on the local backend (`data`) with `config` (its grants, limits, …) and
    /// the three [`ACCOUNTS`], each with its data directory.
    pub fn local_with(guests: &[&str], config: ConfigBuilder) -> World {
        let world = World::with_config(guests, &config.standard_accounts(), None);
        for (id, _) in ACCOUNTS {
            std::fs::create_dir_all(world.data().join(id)).unwrap();
        }
        world
    }

    /// A world on the AWS backend at `endpoint` (moto), whose accounts assume `role`,
    /// the guests granted everything.
    pub fn aws(
        guests: &[&str],
        endpoint: &str,
        role: &str,
        home: SharedCredentialsProvider,
    ) -> World {
        let config = ConfigBuilder::aws(endpoint).full_grants(guests);
        World::aws_with(guests, config, role, home)
    }

    /// Like [`World::aws`], with the grants (and any other tables) in `extra`.
    pub fn aws_with_grants(
        guests: &[&str],
        endpoint: &str,
        role: &str,
        home: SharedCredentialsProvider,
        extra: &str,
    ) -> World {
        let config = ConfigBuilder::aws(endpoint).section(extra);
        World::aws_with(guests, config, role, home)
    }

    fn aws_with(
        guests: &[&str],
        config: ConfigBuilder,
        role: &str,
        home: SharedCredentialsProvider,
    ) -> World {
        let config = config.standard_accounts().role_everywhere(role);
        World::with_config(guests, &config, Some(home))
    }

    /// A world with `config`, its guests in the plugin directory the config names.
    pub fn with_config(
        guests: &[&str],
        config: &ConfigBuilder,
        home: Option<SharedCredentialsProvider>,
    ) -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        for name in guests {
            std::fs::copy(guest(name), dir.path().join(format!("plugins/{name}.wasm"))).unwrap();
        }
        let config = Config::load(&config.write(dir.path())).unwrap();
        World {
            dir,
            config,
            home,
            service: tokio::sync::OnceCell::new(),
        }
    }

    /// The `xacct` binary, run in the world's directory (on its `xacct.toml`).
    pub fn xacct(&self) -> Xacct {
        Xacct::in_dir(self.dir.path())
    }

    /// The world's service, connected once: every run of the world shares it, as every
    /// run of one xacct process does.
    pub async fn service(&self) -> &Service {
        self.service
            .get_or_init(|| async {
                Service::connect(&self.config, self.home.clone())
                    .await
                    .unwrap()
            })
            .await
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Writes an object straight into the local backend's tree.
    pub fn put_file(&self, account: &str, bucket: &str, key: &str, body: impl AsRef<[u8]>) {
        let path = self.data().join(account).join(bucket).join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }

    pub fn bucket(&self, account: &str, bucket: &str) {
        std::fs::create_dir_all(self.data().join(account).join(bucket)).unwrap();
    }

    /// The backend as an embedder would get it (no plugin identity, no grant).
    pub async fn backend(&self) -> Arc<dyn Backend> {
        self.service().await.backend_for("test", None, None)
    }

    pub async fn run(&self, plugin: &str, input: serde_json::Value, mode: Mode) -> Report {
        self.run_on(self.service().await, plugin, input, mode).await
    }

    pub async fn run_on(
        &self,
        service: &Service,
        plugin: &str,
        input: serde_json::Value,
        mode: Mode,
    ) -> Report {
        let request = RunRequest::new(plugin, &input.to_string(), mode);
        self.run_request(service, &request).await
    }

    /// Runs a request as built by the test.
    pub async fn run_request(&self, service: &Service, request: &RunRequest) -> Report {
        pipeline::run(&self.config, &sandbox(), service, request, &())
            .await
            .unwrap()
    }

    /// Runs the `s3script` guest in the first account and returns each step's result.
    pub async fn script(&self, steps: serde_json::Value) -> Vec<serde_json::Value> {
        let report = self
            .run(
                "s3script",
                serde_json::json!({ "steps": steps }),
                Mode::AllAccounts,
            )
            .await;
        let output = ok(&report.entries[0]);
        output["results"].as_array().unwrap().clone()
    }
}

/// The output of an entry that must have succeeded.
pub fn ok(entry: &Entry) -> &serde_json::Value {
    assert_eq!(
        entry.status,
        Status::Ok,
        "expected ok, got {:?}",
        entry.error
    );
    entry.output.as_ref().unwrap()
}

/// The error kind and message of an entry that must have failed.
pub fn failed(entry: &Entry) -> (&str, &str) {
    assert_eq!(
        entry.status,
        Status::Error,
        "expected an error, got {:?}",
        entry.output
    );
    let error = entry.error.as_ref().unwrap();
    (&error.kind, &error.message)
}

/// The lines of an audit log, each a JSON object.
pub fn audit_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The result of a script step that must have succeeded.
pub fn step_ok(result: &serde_json::Value) -> &serde_json::Value {
    assert!(result.get("ok").is_some(), "expected ok, got {result}");
    &result["ok"]
}

/// The error kind of a script step that must have failed.
pub fn step_error(result: &serde_json::Value) -> &str {
    result["error"]["kind"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {result}"))
}

/// Every file below `dir`, relative, sorted.
pub fn files_below(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Says that the running test left a case out, and why, where the test output shows it:
/// straight to stderr (past the harness's capture, which would hide it in a passing
/// test), as `SKIPPED (N in this run): TEST: WHY` — `grep -c '^SKIPPED'` counts them.
pub fn skipped(why: &str) {
    static SKIPPED: AtomicUsize = AtomicUsize::new(0);
    let count = SKIPPED.fetch_add(1, Ordering::Relaxed) + 1;
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    // Nothing to do if stderr is gone: the skip was still the test's to make.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED ({count} in this run): {test}: {why}"
    );
}

/// A report (as JSON) without its timings, to compare two runs of the same plan.
pub fn untimed(mut report: serde_json::Value) -> serde_json::Value {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                // When, how long, and how many processes: the rest is the run's.
                for key in ["duration_ms", "started_at", "start_ms", "merged_shards"] {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(list) => list.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut report);
    report
}
