//! The plugin directory: finding `*.wasm` files and turning each into a plugin ready to
//! instantiate — size cap, the cheap world check, a compile under a time budget,
//! wasmtime's type check — with what that led to (native code or a refusal) kept in the
//! authenticated compile cache, so a wrong component fails at once with a message about
//! *that* plugin.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use wasmparser::Parser;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::adapt::{adapt, embeds_world};
use super::cache::{CacheLocation, CompileCache, EntryKind};
use super::compile::{Unfinished, within};
use super::footprint::footprint;
use super::load_error::LoadError;
use super::open::open_regular;
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
                .map(|cache| cache.under_limits(&options.largest_component_limits()))
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
        // Adapting a wasip1 module and compiling share one budget.
        let started = Instant::now();
        let bytes = if Parser::is_core_wasm(&bytes) {
            self.adapted(path, &digest, bytes, started)?
        } else {
            bytes
        };
        // The limits are the operator's and may change between runs, so going over them
        // is not a cached refusal; counting is a parse without function bodies. What
        // cannot be counted is refused (as what the precheck refuses, if it does).
        let figures = footprint(&bytes).map_err(|reason| {
            let refusal = precheck(&bytes).err().unwrap_or_else(|| {
                Refusal::NotAComponent(format!(
                    "what it instantiates cannot be counted against its limits: {reason}"
                ))
            });
            self.refuse(&digest, refusal, path)
        })?;
        if let Some((limit_key, figure, limit)) =
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
                Ok(()) => {
                    let engine = engine.clone();
                    self.within_budget(path, &digest, started, move || {
                        Component::new(&engine, &bytes).map_err(|err| format!("{err:#}"))
                    })?
                    .map_err(Refusal::NotAComponent)
                }
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

    /// The component a wasip1 module makes (the preview1 reactor adapter), from the
    /// cache when it was made before: the footprint and the limits are the component's.
    fn adapted(
        &self,
        path: &Path,
        digest: &[u8; 32],
        module: Vec<u8>,
        started: Instant,
    ) -> Result<Vec<u8>, LoadError> {
        if let Some(component) = self
            .cache
            .as_ref()
            .and_then(|cache| cache.get(EntryKind::Adapted, digest))
        {
            return Ok(component);
        }
        embeds_world(&module)
            .map_err(|reason| self.refuse(digest, Refusal::NotAComponent(reason), path))?;
        let component = self
            .within_budget(path, digest, started, move || adapt(&module))?
            .map_err(|reason| self.refuse(digest, Refusal::NotAComponent(reason), path))?;
        if let Some(cache) = &self.cache {
            cache.put(EntryKind::Adapted, digest, &component);
        }
        Ok(component)
    }

    /// Runs `work` (adapting, compiling) within what is left, since `started`, of the
    /// compile budget (see [`within`]). Running out of it is remembered, with the budget,
    /// for [`TIMEOUT_REMEMBERED_FOR`], so that the same file under that budget or a
    /// shorter one is refused at once instead of holding the loader for the whole budget
    /// again; a longer budget tries again.
    fn within_budget<T: Send + 'static>(
        &self,
        path: &Path,
        digest: &[u8; 32],
        started: Instant,
        work: impl FnOnce() -> Result<T, String> + Send + 'static,
    ) -> Result<Result<T, String>, LoadError> {
        let timed_out = |remembered| LoadError::CompileTimeout {
            path: path.to_owned(),
            budget: self.compile_timeout,
            remembered,
        };
        if self
            .remembered_timeout(digest)
            .is_some_and(|budget| budget >= self.compile_timeout)
        {
            return Err(timed_out(true));
        }
        let left = self.compile_timeout.saturating_sub(started.elapsed());
        match within(left, work) {
            Ok(done) => Ok(done),
            Err(Unfinished::TimedOut) => {
                if let Some(cache) = &self.cache {
                    let millis =
                        u64::try_from(self.compile_timeout.as_millis()).unwrap_or(u64::MAX);
                    let mut entry = millis.to_le_bytes().to_vec();
                    entry.extend(unix_secs(SystemTime::now()).to_le_bytes());
                    cache.put(EntryKind::Timeout, digest, &entry);
                }
                Err(timed_out(false))
            }
            Err(Unfinished::Busy { abandoned }) => Err(LoadError::CompileBusy {
                path: path.to_owned(),
                abandoned,
                budget: self.compile_timeout,
            }),
            Err(Unfinished::NoThread(err)) => Err(LoadError::Compile {
                path: path.to_owned(),
                reason: format!("cannot start a compile thread: {err}"),
            }),
        }
    }

    /// The compile budget the plugin's compile ran out of, if the cache says so and it
    /// was within [`TIMEOUT_REMEMBERED_FOR`].
    fn remembered_timeout(&self, digest: &[u8; 32]) -> Option<Duration> {
        let entry = self.cache.as_ref()?.get(EntryKind::Timeout, digest)?;
        let (millis, at) = entry.split_at_checked(8)?;
        let millis = u64::from_le_bytes(millis.try_into().ok()?);
        let at = u64::from_le_bytes(at.try_into().ok()?);
        // A time ahead of the clock is not believed either.
        let age = unix_secs(SystemTime::now()).checked_sub(at)?;
        (age < TIMEOUT_REMEMBERED_FOR.as_secs()).then(|| Duration::from_millis(millis))
    }
}

/// How long a compile that ran out of its budget is remembered. A compile bomb then
/// holds the loader for its budget once in that time, not on every run; a plugin that
/// timed out only because the machine was busy is tried again once it has passed (or at
/// once under a larger budget).
const TIMEOUT_REMEMBERED_FOR: Duration = Duration::from_secs(10 * 60);

fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
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
    let (file, metadata) = open_regular(path).map_err(read_error)?;
    let size = metadata.len();
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
