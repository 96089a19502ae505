//! Why a plugin, or the plugin directory, cannot be used: the refusals of every loading
//! step (the catalog's, provenance's), in one leaf module both import.

use std::path::PathBuf;
use std::time::Duration;

use xacct_provenance::{Digest, NotTrusted};

use crate::bindings::WORLD;

const MIB: f64 = (1 << 20) as f64;

/// Why a plugin (or the plugin directory) cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("plugin directory {}: {source}", dir.display())]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("no plugin named {name:?} in {}: available: {available}", dir.display())]
    NotFound {
        name: String,
        dir: PathBuf,
        available: String,
    },
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a WebAssembly component: {reason}", path.display())]
    NotAComponent { path: PathBuf, reason: String },
    #[error("{}: not built for world {WORLD}: {detail}", path.display())]
    WrongWorld { path: PathBuf, detail: String },
    #[error(
        "{}: {size} bytes ({:.1} MiB) is over the plugin size cap of {} MiB; fix: raise max_plugin_mib in the config if the plugin is meant to be that large",
        path.display(), *size as f64 / MIB, *cap as f64 / MIB
    )]
    TooLarge { path: PathBuf, size: u64, cap: u64 },
    #[error(
        "{}: compiling took longer than the compile time budget of {} s{}; fix: raise compile_timeout_secs in the config if the plugin is trusted (large components take tens of seconds)",
        path.display(), budget.as_secs_f64(),
        if *remembered { " (remembered from a compile in the last 10 minutes, not tried again under this budget)" } else { "" }
    )]
    CompileTimeout {
        path: PathBuf,
        budget: Duration,
        /// Refused from the cache's memory of an earlier compile, without compiling.
        remembered: bool,
    },
    #[error(
        "{}: not compiled: {abandoned} compiles of other plugins that ran past their budget are still running (at most one per core may), and none ended within this plugin's compile budget of {} s; fix: load it again once they end, or raise compile_timeout_secs in the config",
        path.display(), budget.as_secs_f64()
    )]
    CompileBusy {
        path: PathBuf,
        abandoned: usize,
        budget: Duration,
    },
    #[error("{0}")]
    DigestMismatch(Box<PinMismatch>),
    #[error("{}: refused: {reason}", path.display())]
    Provenance { path: PathBuf, reason: String },
    #[error(
        "{}: refused: {key}.require_signed is true and {why}",
        path.display()
    )]
    NotTrusted {
        path: PathBuf,
        /// The config section whose signers were asked.
        key: String,
        why: NotTrusted,
    },
    #[error("{}: cannot compile: {reason}", path.display())]
    Compile { path: PathBuf, reason: String },
    #[error(
        "{}: the component holds {figure} {}, over the limit of {limit} (plugin.{plugin}.limits.{limit_key}); fix: set {limit_key} = {figure} under [plugin.{plugin}.limits] in the config (or under [limits] for every plugin) if the plugin may take that many",
        path.display(), limit_key.replace('_', " ")
    )]
    OverLimit {
        path: PathBuf,
        plugin: String,
        /// The config key under `[limits]` / `[plugin.NAME.limits]`.
        limit_key: &'static str,
        /// What the component holds.
        figure: u64,
        limit: u32,
    },
}

impl LoadError {
    /// Whether the plugin was refused for want of compile time: its compile ran out of
    /// the budget, or could not start within it beside the compiles abandoned before.
    pub fn out_of_compile_time(&self) -> bool {
        matches!(
            self,
            LoadError::CompileTimeout { .. } | LoadError::CompileBusy { .. }
        )
    }
}

/// A plugin file that is not a build its pin allows.
#[derive(Debug, thiserror::Error)]
#[error(
    "{}: its sha256 is {actual}, not the {} pinned at {}:{line} (plugin.{plugin}.sha256); fix: put back the pinned build, or, if this build is meant to run, pin it there: sha256 = \"{actual}\"",
    path.display(), expected.iter().map(ToString::to_string).collect::<Vec<_>>().join(" or "), config.display()
)]
pub struct PinMismatch {
    pub path: PathBuf,
    pub plugin: String,
    pub actual: Digest,
    pub expected: Vec<Digest>,
    /// The config file and the line of the pin.
    pub config: PathBuf,
    pub line: usize,
}
