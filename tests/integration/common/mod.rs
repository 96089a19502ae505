//! Shared harness of the integration tests: real components built from `plugins/` and
//! `tests/guests/` (by `scripts/build-guests`), a scratch directory per test holding the
//! local backend's data, the plugin directory and a config, and helpers to run plugins
//! through the same pipeline the CLI uses.

#![allow(dead_code)] // the benchmarks use their own part of the harness

pub mod components;
pub mod conformance;
pub mod moto;
pub mod shim;

use std::path::{Path, PathBuf};
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
    let rust = target_dir().join("wasm32-wasip2/release").join(&file);
    let path = if rust.is_file() {
        rust
    } else {
        target_dir().join("guests").join(&file)
    };
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
    /// A world on the local backend with the given guests in its plugin directory, each
    /// granted everything in every account, the three [`ACCOUNTS`], and `extra` appended
    /// to the config.
    pub fn new(guests: &[&str], extra: &str) -> World {
        World::local(guests, &format!("{}{extra}", full_grants(guests)))
    }

    /// Like [`World::new`], but the plugins have only the grants `extra` gives them.
    pub fn local(guests: &[&str], extra: &str) -> World {
        let text = format!("[local]\nroot = \"data\"\n{extra}{}", account_entries(""));
        let world = World::with_config(guests, &text, None);
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
        World::aws_with_grants(guests, endpoint, role, home, &full_grants(guests))
    }

    /// Like [`World::aws`], with the grants (and any other config) in `extra`.
    pub fn aws_with_grants(
        guests: &[&str],
        endpoint: &str,
        role: &str,
        home: SharedCredentialsProvider,
        extra: &str,
    ) -> World {
        let text = format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{endpoint}\"\n{extra}{}",
            account_entries(&format!("role = \"{role}\"\n"))
        );
        World::with_config(guests, &text, Some(home))
    }

    /// A world with `text` as its config (after the plugin directory line).
    pub fn with_config(
        guests: &[&str],
        text: &str,
        home: Option<SharedCredentialsProvider>,
    ) -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        for name in guests {
            std::fs::copy(guest(name), dir.path().join(format!("plugins/{name}.wasm"))).unwrap();
        }
        let config_path = dir.path().join("xacct.toml");
        std::fs::write(&config_path, format!("plugins = \"plugins\"\n{text}")).unwrap();
        let config = Config::load(&config_path).unwrap();
        World {
            dir,
            config,
            home,
            service: tokio::sync::OnceCell::new(),
        }
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

/// Grants of every action on every bucket of every account.
pub fn full_grants(guests: &[&str]) -> String {
    guests
        .iter()
        .map(|name| {
            format!(
                "[plugin.{name}]\naccounts = [\"*\"]\ns3 = [{{ buckets = \"*\", actions = [\"list\", \"read\", \"write\", \"delete\", \"tag\"] }}]\n"
            )
        })
        .collect()
}

/// `[[account]]` entries for [`ACCOUNTS`], each with `extra` lines.
fn account_entries(extra: &str) -> String {
    ACCOUNTS
        .iter()
        .map(|(id, alias)| format!("\n[[account]]\nid = \"{id}\"\nalias = \"{alias}\"\n{extra}"))
        .collect()
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

/// Runs the `xacct` binary in `dir` with `args`, in an environment cleared of the
/// caller's AWS settings (no credentials, profile, region or config files, no IMDS)
/// plus `env`: (exit code, stdout, stderr).
pub fn xacct_in(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_xacct"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("XACCT_CONFIG")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_ENDPOINT_URL")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("XDG_CACHE_HOME", target_dir().join("xacct-test-cache-cli"));
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}
