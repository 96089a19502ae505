//! The plugin directory: finding `*.wasm` files, compiling each once (with an on-disk
//! cache of precompiled artifacts), and checking it against the `xacct:plugin` world
//! before anything runs, so a wrong component fails with a message about *that* plugin.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::InvocationState;
use crate::bindings::{PluginPre, WORLD};
use crate::config::is_plugin_name;

/// The package every import of ours comes from, and the version this host serves.
const PACKAGE: &str = "xacct:plugin/";
const PACKAGE_VERSION: &str = "@0.1.0";

/// A plugin checked against the world and ready to instantiate.
pub struct LoadedPlugin {
    pub name: String,
    /// Hex sha256 of the component file: identifies exactly what ran.
    pub sha256: String,
    pub(super) pre: PluginPre<InvocationState>,
}

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
}

/// The plugins of a directory: `NAME.wasm` → plugin `NAME`.
pub fn plugin_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, LoadError> {
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
    plugins.sort();
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

/// Compiles a component, or loads it from the cache of precompiled artifacts.
///
/// The cache key is the sha256 of the component and a hash of every engine setting that
/// affects compiled code, so a changed plugin or a different engine never hits a stale
/// entry. A corrupt or unwritable cache only costs a compile.
pub(super) fn compile(
    engine: &Engine,
    cache_dir: Option<&Path>,
    path: &Path,
    bytes: &[u8],
    sha256: &str,
) -> Result<Component, LoadError> {
    let mut engine_hash = DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let cached =
        cache_dir.map(|dir| dir.join(format!("{sha256}-{:016x}.cwasm", engine_hash.finish())));
    if let Some(cached) = cached.as_deref().filter(|p| p.is_file()) {
        // SAFETY: the cache holds only artifacts this host serialised itself, in a
        // directory owned by the operator, and the key includes the engine's
        // compatibility hash; wasmtime still validates the artifact's header.
        match unsafe { Component::deserialize_file(engine, cached) } {
            Ok(component) => return Ok(component),
            Err(err) => {
                tracing::warn!(path = %cached.display(), "ignoring unusable cached plugin: {err}")
            }
        }
    }
    let component = Component::new(engine, bytes).map_err(|err| LoadError::NotAComponent {
        path: path.to_owned(),
        reason: err.to_string(),
    })?;
    if let Some(cached) = cached
        && let Err(err) = store_artifact(&component, &cached)
    {
        tracing::warn!(path = %cached.display(), "cannot cache the compiled plugin: {err}");
    }
    Ok(component)
}

fn store_artifact(component: &Component, path: &Path) -> anyhow::Result<()> {
    let dir = path.parent().expect("cache entries live in a directory");
    std::fs::create_dir_all(dir)?;
    let serialized = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::fs::write(tmp.path(), serialized)?;
    tmp.persist(path)?;
    Ok(())
}

/// Reads, compiles and world-checks one plugin file.
pub(super) fn load(
    engine: &Engine,
    linker: &Linker<InvocationState>,
    cache_dir: Option<&Path>,
    name: &str,
    path: &Path,
) -> Result<LoadedPlugin, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let component = compile(engine, cache_dir, path, &bytes, &sha256)?;
    let wrong_world = |detail: String| LoadError::WrongWorld {
        path: path.to_owned(),
        detail,
    };
    check_names(engine, &component).map_err(wrong_world)?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|err| wrong_world(format!("{err:#}")))?;
    let pre = PluginPre::new(pre).map_err(|err| wrong_world(format!("{err:#}")))?;
    Ok(LoadedPlugin {
        name: name.to_owned(),
        sha256,
        pre,
    })
}

/// Explains the common mismatches in the operator's terms before wasmtime's own type
/// check: a missing `run` export, another version of our package.
fn check_names(engine: &Engine, component: &Component) -> Result<(), String> {
    let ty = component.component_type();
    let exports: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
    if !exports.contains(&"run") {
        return Err(format!(
            "it does not export `run: func(input: string) -> result<string, string>` (its exports: {})",
            if exports.is_empty() {
                "none".to_owned()
            } else {
                exports.join(", ")
            }
        ));
    }
    for (import, _) in ty.imports(engine) {
        if import.starts_with(PACKAGE) && !import.ends_with(PACKAGE_VERSION) {
            return Err(format!(
                "it imports {import}, but this host provides {PACKAGE}*{PACKAGE_VERSION}; rebuild it against this host's wit/"
            ));
        }
    }
    Ok(())
}
