//! The config file: where it is, and its TOML with every key and value located, so that
//! each owner of a section takes its part out, reads it, and refuses it with the file,
//! the line, the key and the fix.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IntoDeserializer;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The file looked for in the current directory when no `--config` is given.
pub const DEFAULT_FILE: &str = "xacct.toml";
/// The environment variable naming a config file, used when no `--config` is given.
pub const ENV_VAR: &str = "XACCT_CONFIG";

/// What the fix of a TOML error says.
const FIX_TOML: &str = "correct the TOML at that line (see the config reference in README.md)";

/// Finds the config: `explicit` (`--config`), else `$XACCT_CONFIG`, else `./xacct.toml`.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(path) = explicit {
        return Ok(path.to_owned());
    }
    if let Some(path) = std::env::var_os(ENV_VAR) {
        return Ok(PathBuf::from(path));
    }
    let default = PathBuf::from(DEFAULT_FILE);
    if default.is_file() {
        Ok(default)
    } else {
        Err(ConfigError::NotFound)
    }
}

/// Reads a config file's text.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no config file: pass --config FILE, set {ENV_VAR}, or create ./{DEFAULT_FILE} (see README.md)"
    )]
    NotFound,
    #[error("{}: cannot read the config: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Invalid),
}

/// A config value that cannot be accepted, located precisely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub path: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// Dotted key, e.g. `account[2].id`; empty when the TOML itself is malformed.
    pub key: String,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.path.display(), self.line)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        write!(f, "{}; fix: {}", self.problem, self.fix)
    }
}

/// A parsed config file whose sections have not all been read yet.
pub struct Document<'a> {
    text: &'a str,
    path: &'a Path,
    root: Spanned<DeTable<'a>>,
}

impl<'a> Document<'a> {
    /// Parses the TOML of `text`; `path` names the file in messages and is where relative
    /// paths are resolved from.
    pub fn parse(text: &'a str, path: &'a Path) -> Result<Document<'a>, ConfigError> {
        let mut document = Document {
            text,
            path,
            root: Spanned::new(0..0, DeTable::new()),
        };
        document.root = DeTable::parse(text).map_err(|err| document.toml_error(&err))?;
        Ok(document)
    }

    pub fn path(&self) -> &'a Path {
        self.path
    }

    /// The refusal of the value at `span`.
    pub fn invalid(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid(Invalid {
            path: self.path.to_owned(),
            line: line_of(self.text, span.start),
            key: key.into(),
            problem: problem.into(),
            fix: fix.into(),
        })
    }

    /// The 1-based line of the config file where `span` starts.
    pub fn line(&self, span: Range<usize>) -> usize {
        line_of(self.text, span.start)
    }

    fn toml_error(&self, err: &toml::de::Error) -> ConfigError {
        let span = err.span().unwrap_or(0..0);
        self.invalid(span, "", err.message().trim_end(), FIX_TOML)
    }

    /// Reads a value as `T`; a value of the wrong shape is a TOML error at its line.
    pub fn read<T: Deserialize<'a>>(&self, value: Spanned<DeValue<'a>>) -> Result<T, ConfigError> {
        T::deserialize(value.into_deserializer()).map_err(|err| self.toml_error(&err))
    }

    /// A path written in the config, relative to the config file's directory.
    pub fn resolve(&self, written: &str) -> PathBuf {
        let dir = self.path.parent().unwrap_or(Path::new(""));
        dir.join(written)
    }

    /// Whether the file has the top-level key `name`.
    pub fn has(&self, name: &str) -> bool {
        self.root.get_ref().contains_key(name)
    }

    /// Takes the top-level key `name` out of the file and reads it: from now on it is
    /// the caller's to check, not an unknown key of the file.
    pub fn take<T: Deserialize<'a>>(
        &mut self,
        name: &str,
    ) -> Result<Option<Spanned<T>>, ConfigError> {
        let Some(value) = self.root.get_mut().remove(name) else {
            return Ok(None);
        };
        let span = value.span();
        Ok(Some(Spanned::new(span, self.read(value)?)))
    }

    /// Takes `keys` out of every `[[account]]` entry and reads each entry's as `T` (so `T`
    /// has `Option` or defaulted fields), in the entries' order. Anything that is not an
    /// array of tables is left for the owner of `account` to refuse.
    pub fn take_account_keys<T: Deserialize<'a>>(
        &mut self,
        keys: &[&str],
    ) -> Result<Vec<T>, ConfigError> {
        let mut taken = Vec::new();
        if let Some(DeValue::Array(entries)) =
            self.root.get_mut().get_mut("account").map(Spanned::get_mut)
        {
            for entry in entries.iter_mut() {
                let span = entry.span();
                let mut part = DeTable::new();
                if let DeValue::Table(table) = entry.get_mut() {
                    for key in keys {
                        if let Some((name, value)) = table.remove_entry(*key) {
                            part.insert(name, value);
                        }
                    }
                }
                taken.push(Spanned::new(span, DeValue::Table(part)));
            }
        }
        taken.into_iter().map(|part| self.read(part)).collect()
    }

    /// The string `key` of every `[[account]]` entry, where it is one (the others are
    /// the owner of `account`'s to refuse), with where it stands.
    pub fn account_strings(&self, key: &str) -> Vec<Option<Spanned<String>>> {
        let Some(DeValue::Array(entries)) =
            self.root.get_ref().get("account").map(Spanned::get_ref)
        else {
            return Vec::new();
        };
        entries
            .iter()
            .map(|entry| match entry.get_ref() {
                DeValue::Table(table) => match table.get(key) {
                    Some(value) => match value.get_ref() {
                        DeValue::String(text) => Some(Spanned::new(value.span(), text.to_string())),
                        _ => None,
                    },
                    None => None,
                },
                _ => None,
            })
            .collect()
    }

    /// Reads what is left of the file as `T`, whose unknown keys it refuses. The
    /// document still locates errors afterwards.
    pub fn finish<T: Deserialize<'a>>(&mut self) -> Result<T, ConfigError> {
        let rest = std::mem::replace(&mut self.root, Spanned::new(0..0, DeTable::new()));
        T::deserialize(rest.into_deserializer()).map_err(|err| self.toml_error(&err))
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}
