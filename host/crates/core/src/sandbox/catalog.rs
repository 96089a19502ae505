//! The plugin directory: finding `*.wasm` files and turning each into a plugin ready to
//! instantiate — size cap, the cheap world check, a compile under a time budget,
//! wasmtime's type check — with what that led to (native code or a refusal) kept in the
//! authenticated compile cache, so a wrong component fails at once with a message about
//! *that* plugin.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::Duration;

use wasmparser::Parser;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::adapt::adapt;
use super::cache::{CacheLocation, CompileCache, EntryKind};
use super::footprint::footprint;
use super::load_error::LoadError;
use super::precheck::{Refusal, precheck};
use super::provenance::{Provenance, ProvenanceOptions, check as check_provenance};
use super::state::InvocationState;
use crate::bindings::PluginPre;
use crate::config::limits::ComponentLimits;
use crate::config::{Config, DEFAULT_COMPILE_TIMEOUT_SECS, DEFAULT_MAX_PLUGIN_MIB, is_plugin_name};

/// A plugin checked against the world and ready to instantiate.
pub struct LoadedPlugin {
    pub name: String,
    /// Hex sha256 of the component file: identifies exactly what ran.
    pub sha256: String,
    /// Its digest checked against the pin, its signatures, declared grant and metadata.
    pub provenance: Provenance,
    pub(super) pre: PluginPre<InvocationState>,
}

/// Where cargo puts release builds under a target directory, so that `--plugins target`
/// finds what `cargo build --release --target ...` made.
const CARGO_RELEASE_DIRS: [&str; 2] = ["wasm32-wasip2/release", "wasm32-wasip1/release"];

/// The plugins of a directory: `NAME.wasm` → plugin `NAME`; in a cargo target directory,
/// those of its release builds too (a name found first wins).
pub fn plugin_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, LoadError> {
    let mut plugins = wasm_files(dir)?;
    for release in CARGO_RELEASE_DIRS.map(|release| dir.join(release)) {
        for (name, path) in wasm_files(&release).unwrap_or_default() {
            if !plugins.iter().any(|(found, _)| *found == name) {
                plugins.push((name, path));
            }
        }
    }
    plugins.sort();
    Ok(plugins)
}

fn wasm_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Dir {
        dir: dir.to_owned(),
        source,
    })?;
    let mut plugins = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.file_stem().and_then(|s| s.to_str());
        if let Some(name) = name
            && path.extension().is_some_and(|ext| ext == "wasm")
            && is_plugin_name(name)
            && path.is_file()
        {
            plugins.push((name.to_owned(), path.clone()));
        }
    }
    Ok(plugins)
}

/// The file of plugin `name` in `dir`.
pub fn plugin_file(dir: &Path, name: &str) -> Result<PathBuf, LoadError> {
    let plugins = plugin_files(dir)?;
    match plugins.iter().find(|(n, _)| n == name) {
        Some((_, path)) => Ok(path.clone()),
        None => Err(LoadError::NotFound {
            name: name.to_owned(),
            dir: dir.to_owned(),
            available: if plugins.is_empty() {
                "none".to_owned()
            } else {
                plugins
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }),
    }
}

/// How plugin files are loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Where compiled plugins and refusals are kept between runs; `None`: compile every
    /// time, in memory.
    pub cache: Option<CacheLocation>,
    /// Larger plugin files are refused before they are read.
    pub max_plugin_bytes: u64,
    /// How long compiling one plugin may take.
    pub compile_timeout: Duration,
    /// What a plugin's component may hold, unless `plugin_component_limits` says otherwise.
    pub component_limits: ComponentLimits,
    /// Per plugin, by name.
    pub plugin_component_limits: BTreeMap<String, ComponentLimits>,
    /// Digest pins and trusted signers.
    pub provenance: ProvenanceOptions,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            cache: None,
            max_plugin_bytes: DEFAULT_MAX_PLUGIN_MIB << 20,
            compile_timeout: Duration::from_secs(DEFAULT_COMPILE_TIMEOUT_SECS),
            component_limits: ComponentLimits::default(),
            plugin_component_limits: BTreeMap::new(),
            provenance: ProvenanceOptions::default(),
        }
    }
}

impl LoadOptions {
    /// The config's limits, and its `cache_dir` (else the per-user cache) with the user's
    /// key.
    pub fn for_config(config: &Config) -> LoadOptions {
        LoadOptions {
            cache: match &config.cache_dir {
                Some(dir) => CacheLocation::with_user_key(dir.clone()),
                None => CacheLocation::per_user(),
            },
            max_plugin_bytes: config.max_plugin_bytes,
            compile_timeout: config.compile_timeout,
            component_limits: config.default_limits.component,
            plugin_component_limits: config
                .plugins
                .iter()
                .map(|(name, plugin)| (name.clone(), plugin.limits.component))
                .collect(),
            provenance: ProvenanceOptions::for_config(config),
        }
    }

    /// What plugin `name`'s component may hold.
    pub fn component_limits_for(&self, name: &str) -> ComponentLimits {
        self.plugin_component_limits
            .get(name)
            .copied()
            .unwrap_or(self.component_limits)
    }

    /// What the engine must admit for any one component: the largest of every limit.
    pub fn largest_component_limits(&self) -> ComponentLimits {
        self.plugin_component_limits
            .values()
            .fold(self.component_limits, |all, limits| all.max(*limits))
    }
}

/// The error of a refusal of the plugin at `path`.
fn refusal_error(refusal: Refusal, path: &Path) -> LoadError {
    let path = path.to_owned();
    match refusal {
        Refusal::NotAComponent(reason) => LoadError::NotAComponent { path, reason },
        Refusal::WrongWorld(detail) => LoadError::WrongWorld { path, detail },
    }
}

/// Loads plugin files under [`LoadOptions`].
pub(super) struct Loader {
    cache: Option<CompileCache>,
    max_plugin_bytes: u64,
    compile_timeout: Duration,
    limits: LoadOptions,
}

impl Loader {
    /// Opens the cache for `engine`; a cache that cannot be trusted is left alone, once
    /// and for the whole process, with a warning.
    pub(super) fn new(options: LoadOptions, engine: &Engine) -> Loader {
        let cache = options.cache.clone().and_then(|location| {
            CompileCache::open(&location, engine)
                .inspect_err(|err| {
                    tracing::warn!(
                        "not using the compile cache: {err}; plugins are compiled in memory"
                    )
                })
                .ok()
        });
        Loader {
            cache,
            max_plugin_bytes: options.max_plugin_bytes,
            compile_timeout: options.compile_timeout,
            limits: options,
        }
    }

    /// Reads, compiles and world-checks one plugin file.
    pub(super) fn load(
        &self,
        engine: &Engine,
        linker: &Linker<InvocationState>,
        name: &str,
        path: &Path,
    ) -> Result<LoadedPlugin, LoadError> {
        let bytes = read_plugin(path, self.max_plugin_bytes)?;
        let provenance = check_provenance(
            &self.limits.provenance,
            name,
            path,
            &bytes,
            self.cache.as_ref(),
        )?;
        // The plugin's identity is the hash of these bytes, the very ones compiled, and
        // every cache entry is bound to it.
        let digest = provenance.digest.0;
        if let Some(refusal) = self.cached_refusal(&digest) {
            return Err(refusal_error(refusal, path));
        }
        // A wasm32-wasip1 module is adapted on every load, cached artifact or not: the
        // limits below are the adapted component's, and adapting costs milliseconds.
        let bytes = if Parser::is_core_wasm(&bytes) {
            adapt(&bytes)
                .map_err(|reason| self.refuse(&digest, Refusal::NotAComponent(reason), path))?
        } else {
            bytes
        };
        // The limits are the operator's and may change between runs, so going over them
        // is not a cached refusal; counting is a parse without function bodies.
        if let Ok(figures) = footprint(&bytes)
            && let Some((limit_key, figure, limit)) =
                figures.over(&self.limits.component_limits_for(name))
        {
            return Err(LoadError::OverLimit {
                path: path.to_owned(),
                plugin: name.to_owned(),
                limit_key,
                figure,
                limit,
            });
        }
        let cached = self.cached_component(engine, &digest);
        let fresh = cached.is_none();
        let component = match cached {
            Some(component) => component,
            None => match precheck(&bytes) {
                Ok(()) => self.compile(engine, path, bytes)?,
                Err(refusal) => Err(refusal),
            }
            .map_err(|refusal| self.refuse(&digest, refusal, path))?,
        };
        let pre = type_check(linker, &component)
            .map_err(|refusal| self.refuse(&digest, refusal, path))?;
        if fresh && let Some(cache) = &self.cache {
            match component.serialize() {
                Ok(artifact) => cache.put(EntryKind::Artifact, &digest, &artifact),
                Err(err) => tracing::warn!("cannot serialise the compiled plugin: {err}"),
            }
        }
        Ok(LoadedPlugin {
            name: name.to_owned(),
            sha256: provenance.digest.to_string(),
            provenance,
            pre,
        })
    }

    fn cached_refusal(&self, digest: &[u8; 32]) -> Option<Refusal> {
        let json = self.cache.as_ref()?.get(EntryKind::Refusal, digest)?;
        serde_json::from_slice(&json)
            .inspect_err(|err| tracing::warn!("ignoring an unreadable cached refusal: {err}"))
            .ok()
    }

    // The crate's one `unsafe`: see the SAFETY note.
    #[allow(unsafe_code)]
    fn cached_component(&self, engine: &Engine, digest: &[u8; 32]) -> Option<Component> {
        let artifact = self.cache.as_ref()?.get(EntryKind::Artifact, digest)?;
        // SAFETY: `artifact` is what this host serialised for exactly this plugin on an
        // engine with these settings: its tag, made with this user's secret key over the
        // plugin's sha256, the host id (wasmtime's compatibility hash among it) and these
        // bytes, was verified on this very buffer, and no file is read after the check.
        // wasmtime validates the artifact's header as well.
        unsafe { Component::deserialize(engine, &artifact) }
            .inspect_err(|err| tracing::warn!("ignoring an unusable cached plugin: {err}"))
            .ok()
    }

    /// Remembers a refusal, and turns it into the error to report.
    fn refuse(&self, digest: &[u8; 32], refusal: Refusal, path: &Path) -> LoadError {
        if let Some(cache) = &self.cache
            && let Ok(json) = serde_json::to_vec(&refusal)
        {
            cache.put(EntryKind::Refusal, digest, &json);
        }
        refusal_error(refusal, path)
    }

    /// Compiles on a thread of its own and waits at most the compile budget. A compile
    /// cannot be interrupted: past the budget its thread is abandoned, runs on in the
    /// background until wasmtime returns, and its result is dropped; the process does
    /// not wait for it to exit.
    fn compile(
        &self,
        engine: &Engine,
        path: &Path,
        bytes: Vec<u8>,
    ) -> Result<Result<Component, Refusal>, LoadError> {
        let (done, compiled) = sync_channel(1);
        let engine = engine.clone();
        std::thread::Builder::new()
            .name("xacct-compile".into())
            .spawn(move || {
                // Nobody listens any more when the budget ran out.
                let _ = done.send(Component::new(&engine, &bytes));
            })
            .map_err(|err| LoadError::Compile {
                path: path.to_owned(),
                reason: format!("cannot start a compile thread: {err}"),
            })?;
        match compiled.recv_timeout(self.compile_timeout) {
            Ok(compiled) => Ok(compiled.map_err(|err| Refusal::NotAComponent(format!("{err:#}")))),
            Err(RecvTimeoutError::Timeout) => Err(LoadError::CompileTimeout {
                path: path.to_owned(),
                budget: self.compile_timeout,
            }),
            Err(RecvTimeoutError::Disconnected) => Err(LoadError::Compile {
                path: path.to_owned(),
                reason: "the compiler panicked".to_owned(),
            }),
        }
    }
}

/// Reads a plugin file of at most `cap` bytes, refusing a larger one before reading it.
fn read_plugin(path: &Path, cap: u64) -> Result<Vec<u8>, LoadError> {
    let read_error = |source| LoadError::Read {
        path: path.to_owned(),
        source,
    };
    let too_large = |size| LoadError::TooLarge {
        path: path.to_owned(),
        size,
        cap,
    };
    let file = File::open(path).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    if size > cap {
        return Err(too_large(size));
    }
    // The file may have grown since: read no further than the cap.
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > cap {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// wasmtime's full check of the component's imports and exports against the world.
fn type_check(
    linker: &Linker<InvocationState>,
    component: &Component,
) -> Result<PluginPre<InvocationState>, Refusal> {
    let wrong_world = |err: wasmtime::Error| Refusal::WrongWorld(format!("{err:#}"));
    PluginPre::new(linker.instantiate_pre(component).map_err(wrong_world)?).map_err(wrong_world)
}
