//! Test an xacct plugin from its own `cargo test`.
//!
//! Calling a plugin's code natively goes nowhere: its S3 client is the host's. This crate
//! runs the plugin's real component in the embedded xacct host, with every limit and
//! grant check the command line applies, against a temporary local estate — accounts,
//! buckets and objects in a scratch directory — and returns the report's entries.
//!
//! ```no_run
//! use xacct_testing::{Estate, build};
//!
//! #[test]
//! fn counts_each_bucket() {
//!     let plugin = build(env!("CARGO_MANIFEST_DIR")).unwrap();
//!     let estate = Estate::new()
//!         .account("111111111111", "dev")
//!         .object("111111111111", "reports", "2024/jan.csv", "jan,1200\n")
//!         .grant(r#"accounts = ["*"]
//! s3 = [{ buckets = "*", actions = ["list", "read"] }]"#);
//!     let report = estate.run(&plugin, serde_json::json!({})).unwrap();
//!     assert_eq!(report.entries[0].output.as_ref().unwrap()["buckets"][0]["objects"], 1);
//! }
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use xacct_core::config::Config;
use xacct_core::pipeline::{self, RunRequest, local_provider};
use xacct_core::plan::Mode;
use xacct_core::sandbox::{LoadOptions, Sandbox};

pub use xacct_core::report::{Entry, Report, Status};

/// Why a plugin could not be built or run (as opposed to an account failing, which is an
/// entry of the report).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("building the plugin: {0}")]
    Build(String),
    #[error("the estate: {0}")]
    Estate(String),
    #[error("running the plugin: {0}")]
    Run(String),
}

/// Builds the plugin crate at `manifest_dir` (a `cdylib`) for `wasm32-wasip2`, release,
/// and returns its component. It builds into `xacct-testing/` under the target directory:
/// the `cargo test` that runs this holds the lock of the target directory's own builds.
pub fn build(manifest_dir: impl AsRef<Path>) -> Result<PathBuf, Error> {
    let dir = manifest_dir.as_ref();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Beside the crate's own builds, in the target directory of its workspace.
    let metadata = Command::new(&cargo)
        .current_dir(dir)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|err| Error::Build(format!("cannot run cargo: {err}")))?;
    let target = serde_json::from_slice::<serde_json::Value>(&metadata.stdout)
        .ok()
        .and_then(|metadata| metadata["target_directory"].as_str().map(PathBuf::from))
        .ok_or_else(|| {
            Error::Build(format!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&metadata.stderr)
            ))
        })?
        .join("xacct-testing");
    let output = Command::new(&cargo)
        .current_dir(dir)
        .args([
            "build",
            "--release",
            "--lib",
            "--message-format=json",
            "--target",
        ])
        .arg("wasm32-wasip2")
        .arg("--target-dir")
        .arg(&target)
        .output()
        .map_err(|err| Error::Build(format!("cannot run cargo: {err}")))?;
    if !output.status.success() {
        return Err(Error::Build(format!(
            "cargo build --target wasm32-wasip2 failed (is the target installed? rustup target add wasm32-wasip2):\n{}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    // The artifact cargo reports for the crate itself: a `.wasm` file.
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| {
            message["manifest_path"]
                .as_str()
                .is_some_and(|path| Path::new(path).parent() == Some(dir))
        })
        .flat_map(|message| message["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|name| name.as_str().map(PathBuf::from))
        .find(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .ok_or_else(|| Error::Build("cargo built no .wasm: is the crate a cdylib?".into()))
}

/// A temporary local estate: accounts with buckets and objects, and the grants of the
/// plugins run against it. Dropped, it is deleted.
pub struct Estate {
    dir: tempfile::TempDir,
    accounts: Vec<(String, String)>,
    grant: String,
    extra: String,
}

impl Default for Estate {
    fn default() -> Self {
        Estate::new()
    }
}

impl Estate {
    /// No account, no grant.
    pub fn new() -> Estate {
        Estate {
            dir: tempfile::tempdir().expect("creating a temporary directory"),
            accounts: Vec::new(),
            grant: String::new(),
            extra: String::new(),
        }
    }

    /// An account: a 12-digit id and an alias.
    pub fn account(mut self, id: &str, alias: &str) -> Estate {
        std::fs::create_dir_all(self.data().join(id)).expect("creating an account");
        self.accounts.push((id.to_owned(), alias.to_owned()));
        self
    }

    /// An empty bucket in `account`.
    pub fn bucket(self, account: &str, bucket: &str) -> Estate {
        std::fs::create_dir_all(self.data().join(account).join(bucket)).expect("creating a bucket");
        self
    }

    /// An object; its bucket is created as needed.
    pub fn object(self, account: &str, bucket: &str, key: &str, body: impl AsRef<[u8]>) -> Estate {
        let path = self.data().join(account).join(bucket).join(key);
        std::fs::create_dir_all(path.parent().expect("a key has a parent"))
            .and_then(|()| std::fs::write(&path, body))
            .expect("writing an object");
        self
    }

    /// The plugin's grant, as the body of its `[plugin.NAME]` section: `accounts = [...]`
    /// and `s3 = [...]`. Without one, the plugin runs nowhere, as in production.
    pub fn grant(mut self, toml: &str) -> Estate {
        self.grant = toml.to_owned();
        self
    }

    /// More config: `[limits]`, `[plugin.NAME.limits]`, ...
    pub fn config(mut self, toml: &str) -> Estate {
        self.extra.push_str(toml);
        self.extra.push('\n');
        self
    }

    /// The estate's data: `<data>/<account>/<bucket>/<key>`, to check what a plugin wrote.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs `plugin` (a component file; its name is the file's, without `.wasm`) once per
    /// account, with `input`, and returns the report.
    pub fn run(&self, plugin: &Path, input: serde_json::Value) -> Result<Report, Error> {
        self.run_in(plugin, input, Mode::PerAccount)
    }

    /// Runs `plugin` once, seeing every account.
    pub fn run_all_accounts(
        &self,
        plugin: &Path,
        input: serde_json::Value,
    ) -> Result<Report, Error> {
        self.run_in(plugin, input, Mode::AllAccounts)
    }

    fn run_in(&self, plugin: &Path, input: serde_json::Value, mode: Mode) -> Result<Report, Error> {
        let name = plugin
            .file_stem()
            .and_then(|stem| stem.to_str())
            .ok_or_else(|| Error::Run(format!("{}: not a plugin file", plugin.display())))?;
        let plugins = self.dir.path().join("plugins");
        std::fs::create_dir_all(&plugins)
            .and_then(|()| std::fs::copy(plugin, plugins.join(format!("{name}.wasm"))))
            .map_err(|err| Error::Run(format!("{}: {err}", plugin.display())))?;
        let mut text = format!(
            "plugins = \"plugins\"\n[local]\nroot = \"data\"\n{}\n",
            self.extra
        );
        if !self.grant.is_empty() {
            text.push_str(&format!("[plugin.{name}]\n{}\n", self.grant));
        }
        for (id, alias) in &self.accounts {
            text.push_str(&format!(
                "\n[[account]]\nid = \"{id}\"\nalias = \"{alias}\"\n"
            ));
        }
        std::fs::create_dir_all(self.data()).map_err(|err| Error::Estate(err.to_string()))?;
        let path = self.dir.path().join("xacct.toml");
        std::fs::write(&path, text).map_err(|err| Error::Estate(err.to_string()))?;
        let config = Config::load(&path).map_err(|err| Error::Estate(err.to_string()))?;
        // The per-user compile cache: a plugin is compiled once, not once per test.
        let sandbox = Sandbox::with_options(LoadOptions::for_config(&config), 4)
            .map_err(|err| Error::Run(err.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|err| Error::Run(err.to_string()))?;
        runtime.block_on(async {
            let provider = local_provider(&config).map_err(|err| Error::Run(err.to_string()))?;
            let request = RunRequest::new(name, &input.to_string(), mode);
            pipeline::run(&config, &Arc::new(sandbox), &provider, &request, &())
                .await
                .map_err(|err| Error::Run(err.to_string()))
        })
    }
}
