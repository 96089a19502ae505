//! The pipeline's **config** stage. Reads `xacct.toml`, validates all of it up front
//! and turns it into a [`Config`] that the later stages trust without re-checking.
//!
//! Every error names the file, the line, the key and the fix, because the operator reading
//! it is usually in the middle of a run across many accounts and should not have to guess.
//!
//! Each part reads its own sections: the file itself ([`file`]), the limits ([`limits`]),
//! the accounts ([`accounts`]), each plugin's grant (`capability::grant`, with its S3
//! rules beside them); this module assembles them. A provider's sections (`[aws]`,
//! `[organization]`, an account's role) are the provider's: it takes them out of the
//! [`Document`] before the core reads the rest, and adds its checks through an
//! [`Extension`].

pub mod accounts;
pub mod file;
pub mod limits;
pub mod provenance;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::capability::grant::{AccountSelector, Grant, RawGrant, read_grant};
use crate::capability::s3::rules::RawRule;
use crate::report::text::inert;
use accounts::{AccountConfig, LOCAL_REGION, RawAccount, is_account_id, read_accounts};
use file::{ConfigError, DEFAULT_FILE, Document, Invalid};
use limits::{Limits, RawLimits, read_limits};
use provenance::{DigestPin, RawTrust, TrustPolicy, read_global_trust, read_pin, read_trust};

/// The default cap on a plugin file: componentize-py components are about 19 MB.
pub const DEFAULT_MAX_PLUGIN_MIB: u64 = 64;
/// The default compile time budget per plugin: large components take up to about 20 s.
pub const DEFAULT_COMPILE_TIMEOUT_SECS: u64 = 60;

/// A validated configuration (the core's sections).
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages).
    pub path: PathBuf,
    /// Where the `*.wasm` plugins are.
    pub plugins_dir: PathBuf,
    /// Where compiled plugins are cached (an absolute path); `None` for the per-user
    /// default.
    pub cache_dir: Option<PathBuf>,
    /// Plugin files larger than this are refused before they are read.
    pub max_plugin_bytes: u64,
    /// How long compiling one plugin may take.
    pub compile_timeout: Duration,
    /// How many invocations run at once.
    pub concurrency: usize,
    /// `[local] root`: where the local backend serves `<root>/<account-id>/<bucket>/<key>`.
    pub local_root: PathBuf,
    /// Accounts in config order (accounts a provider lists follow once listed:
    /// [`Config::add_listed`]).
    pub accounts: Vec<AccountConfig>,
    /// Aliases withheld from listed accounts (a name two share, or one an `[[account]]`
    /// alias holds), each with the accounts involved: naming one is an error, not a guess.
    pub withdrawn_aliases: BTreeMap<String, Vec<String>>,
    /// Limits for plugins without their own `[plugin.NAME.limits]`.
    pub default_limits: Limits,
    /// The `[plugin.NAME]` sections: grants and limits (merged over the defaults).
    pub plugins: BTreeMap<String, PluginConfig>,
    /// `[trust]`: the signers and requirements of plugins without their own.
    pub trust: TrustPolicy,
}

/// What the config says of one plugin.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    pub limits: Limits,
    /// `None`: the plugin may touch nothing (deny by default).
    pub grant: Option<Grant>,
    /// `sha256`: the builds it may be; `None`: any.
    pub pin: Option<DigestPin>,
    /// `[plugin.NAME.trust]` over `[trust]`; `None`: `[trust]`'s.
    pub trust: Option<TrustPolicy>,
}

/// What a provider's sections add to the core's checks.
pub trait Extension {
    /// Whether accounts are listed only when a run starts (so grants may name accounts
    /// the file does not).
    fn lists_accounts(&self) -> bool {
        false
    }

    /// Refuses a grant the provider cannot enforce: the key under the grant's section,
    /// the problem and the fix.
    fn check_grant(&self, _grant: &Grant) -> Result<(), GrantRefusal> {
        Ok(())
    }
}

/// The core alone: the local backend.
impl Extension for () {}

/// Why a provider refuses a grant.
pub struct GrantRefusal {
    /// Under the grant's section, e.g. `s3`.
    pub key: &'static str,
    pub problem: String,
    pub fix: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    plugins: Option<String>,
    cache_dir: Option<Spanned<String>>,
    max_plugin_mib: Option<Spanned<i64>>,
    compile_timeout_secs: Option<Spanned<i64>>,
    concurrency: Option<Spanned<i64>>,
    local: Option<Spanned<RawLocal>>,
    limits: Option<RawLimits>,
    trust: Option<Spanned<RawTrust>>,
    #[serde(default)]
    plugin: BTreeMap<Spanned<String>, RawPlugin>,
    #[serde(default)]
    account: Vec<RawAccount>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocal {
    root: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    limits: Option<RawLimits>,
    accounts: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    s3: Vec<RawRule>,
    sha256: Option<Spanned<toml::Value>>,
    trust: Option<Spanned<RawTrust>>,
}

impl Config {
    /// Limits of a plugin: its own section if it has one, else the defaults.
    pub fn limits_for(&self, plugin: &str) -> Limits {
        self.plugins
            .get(plugin)
            .map_or(self.default_limits, |p| p.limits)
    }

    /// The grant of a plugin, if it has one.
    pub fn grant_for(&self, plugin: &str) -> Option<&Grant> {
        self.plugins.get(plugin).and_then(|p| p.grant.as_ref())
    }

    /// The trust policy of a plugin: its own section's, else `[trust]`'s.
    pub fn trust_for(&self, plugin: &str) -> &TrustPolicy {
        self.plugins
            .get(plugin)
            .and_then(|p| p.trust.as_ref())
            .unwrap_or(&self.trust)
    }

    /// The builds plugin `plugin` may be, if the config pins it.
    pub fn pin_for(&self, plugin: &str) -> Option<&DigestPin> {
        self.plugins.get(plugin).and_then(|p| p.pin.as_ref())
    }

    /// Adds the accounts a provider listed (see [`accounts::add_listed`]), warns once of
    /// each alias withheld and of each tag key a grant reads that only the listing gave
    /// an `[[account]]` entry, and refuses a grant that names a withheld alias.
    pub fn add_listed(&mut self, listed: Vec<AccountConfig>) -> Result<(), ConfigError> {
        let found = accounts::add_listed(&mut self.accounts, listed);
        for (alias, ids) in &found.withdrawn {
            tracing::warn!(
                "the account name \"{}\" is no alias: {} want it or hold it (the alias of a listed account is its id unless its name is unique among all accounts); fix: select them by id or tag",
                inert(alias),
                ids.join(", ")
            );
        }
        self.withdrawn_aliases.extend(found.withdrawn);
        for (name, plugin) in &self.plugins {
            let Some(grant) = &plugin.grant else { continue };
            for (selector, line) in grant.accounts.iter().zip(&grant.account_lines) {
                match selector {
                    AccountSelector::Alias(alias) => {
                        let held = self.accounts.iter().any(|a| a.alias == *alias);
                        if let (false, Some(ids)) = (held, self.withdrawn_alias(alias)) {
                            return Err(ConfigError::Invalid(Invalid {
                                path: self.path.clone(),
                                line: *line,
                                key: format!("{}.accounts", grant.key),
                                problem: format!(
                                    "{alias:?} is no account's alias: the listed accounts {} share that name",
                                    ids.join(", ")
                                ),
                                fix: "name the account by its id, or by a tag (\"tag:key=value\")"
                                    .into(),
                            }));
                        }
                    }
                    AccountSelector::Tag(key, _) => {
                        for (id, _) in found.filled_tags.iter().filter(|(_, k)| k == key) {
                            tracing::warn!(
                                "{}:{line}: plugin.{}: the selector tag:{} reads a tag that only Organizations gives account {id} (its [[account]] entry has no {} tag), so the grant covers it; fix: write the tag in the entry if that is meant",
                                self.path.display(),
                                inert(name),
                                inert(key),
                                inert(key),
                            );
                        }
                    }
                    AccountSelector::All | AccountSelector::Id(_) => {}
                }
            }
        }
        Ok(())
    }

    /// The accounts involved when `alias` was withheld from listed accounts and no account
    /// holds it.
    pub fn withdrawn_alias(&self, alias: &str) -> Option<&[String]> {
        self.withdrawn_aliases.get(alias).map(Vec::as_slice)
    }

    /// Sets the region of every account that has none of its own.
    pub fn inherit_region(&mut self, region: &str) {
        for account in self.accounts.iter_mut().filter(|a| a.inherits_region) {
            account.region = region.to_owned();
        }
    }

    /// The config of `xacct run --local-root ROOT` where there is no config file: every
    /// default, the local backend at `root`, plugins in `./plugins`, and no grant; it is
    /// named after the `./xacct.toml` that would hold one.
    pub fn without_file(root: &Path) -> Config {
        let path = Path::new(DEFAULT_FILE);
        Config {
            path: path.to_owned(),
            plugins_dir: PathBuf::from("plugins"),
            cache_dir: None,
            max_plugin_bytes: DEFAULT_MAX_PLUGIN_MIB << 20,
            compile_timeout: Duration::from_secs(DEFAULT_COMPILE_TIMEOUT_SECS),
            concurrency: DEFAULT_CONCURRENCY,
            local_root: root.to_owned(),
            accounts: Vec::new(),
            withdrawn_aliases: BTreeMap::new(),
            default_limits: Limits::default(),
            plugins: BTreeMap::new(),
            trust: TrustPolicy {
                key: "trust".into(),
                ..TrustPolicy::default()
            },
        }
    }

    /// On the local backend, a config that lists no `[[account]]` has one account per
    /// directory at the top of its root named by a 12-digit id (alias: the id), so that
    /// a directory of data is enough to develop against. Returns the other top-level
    /// names, which are not accounts.
    pub fn discover_local_accounts(&mut self) -> Vec<String> {
        if !self.accounts.is_empty() {
            return Vec::new();
        }
        let mut ignored = Vec::new();
        for entry in std::fs::read_dir(&self.local_root)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && is_account_id(&name) {
                self.accounts.push(AccountConfig {
                    alias: name.clone(),
                    id: name,
                    region: LOCAL_REGION.to_owned(),
                    inherits_region: false,
                    tags: BTreeMap::new(),
                });
            } else if !name.starts_with('.') {
                ignored.push(name);
            }
        }
        self.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        ignored.sort();
        ignored
    }

    /// Reads and validates a config file of the core's sections alone (the local
    /// backend).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::parse(&file::read(path)?, path)
    }

    /// Parses config text of the core's sections alone; `path` is used for messages and
    /// to resolve relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        Config::read(&mut Document::parse(text, path)?, &())
    }

    /// Reads the core's sections of `document`, whose provider sections have been taken
    /// out, and refuses whatever else it holds.
    pub fn read(
        document: &mut Document<'_>,
        extension: &dyn Extension,
    ) -> Result<Config, ConfigError> {
        let raw: RawConfig = document.finish()?;
        let document = &*document;
        let concurrency = match raw.concurrency {
            None => DEFAULT_CONCURRENCY,
            Some(n) if (1..=1000).contains(n.get_ref()) => *n.get_ref() as usize,
            Some(n) => {
                return Err(document.invalid(
                    n.span(),
                    "concurrency",
                    format!("{} is out of range", n.get_ref()),
                    "set concurrency to a whole number from 1 to 1000",
                ));
            }
        };
        let max_plugin_mib = top_level_number(
            document,
            raw.max_plugin_mib,
            "max_plugin_mib",
            1..=4096,
            DEFAULT_MAX_PLUGIN_MIB,
        )?;
        let compile_timeout_secs = top_level_number(
            document,
            raw.compile_timeout_secs,
            "compile_timeout_secs",
            1..=3600,
            DEFAULT_COMPILE_TIMEOUT_SECS,
        )?;
        let cache_dir = raw
            .cache_dir
            .map(|dir| read_cache_dir(document, dir))
            .transpose()?;
        let default_limits = read_limits(document, raw.limits, Limits::default(), "limits")?;
        let root = raw.local.and_then(|local| local.into_inner().root);
        let accounts = read_accounts(document, raw.account)?;
        let trust = read_global_trust(document, raw.trust)?;
        let mut plugins = BTreeMap::new();
        for (name, plugin) in raw.plugin {
            let key = format!("plugin.{}", name.get_ref());
            if !is_plugin_name(name.get_ref()) {
                return Err(document.invalid(
                    name.span(),
                    key,
                    format!("{:?} is not a plugin name", name.get_ref()),
                    "name the section after the plugin's file without .wasm (letters, digits, '-', '_')",
                ));
            }
            let limits = read_limits(
                document,
                plugin.limits,
                default_limits,
                &format!("{key}.limits"),
            )?;
            let raw_grant = RawGrant {
                accounts: plugin.accounts,
                s3: plugin.s3,
            };
            // Accounts listed later cannot be checked against yet.
            let configured = (!extension.lists_accounts()).then_some(&accounts[..]);
            let grant = read_grant(document, &key, name.span(), raw_grant, configured)?;
            if let Some(grant) = &grant {
                check_grant(document, extension, grant, name.span())?;
            }
            let pin = plugin
                .sha256
                .map(|written| read_pin(document, &key, written))
                .transpose()?;
            let plugin_trust = plugin
                .trust
                .map(|raw| read_trust(document, raw, &format!("{key}.trust"), &trust))
                .transpose()?;
            plugins.insert(
                name.into_inner(),
                PluginConfig {
                    limits,
                    grant,
                    pin,
                    trust: plugin_trust,
                },
            );
        }
        Ok(Config {
            path: document.path().to_owned(),
            plugins_dir: document.resolve(raw.plugins.as_deref().unwrap_or("plugins")),
            cache_dir,
            max_plugin_bytes: max_plugin_mib << 20,
            compile_timeout: Duration::from_secs(compile_timeout_secs),
            concurrency,
            local_root: document.resolve(root.as_deref().unwrap_or(DEFAULT_LOCAL_ROOT)),
            accounts,
            withdrawn_aliases: BTreeMap::new(),
            default_limits,
            plugins,
            trust,
        })
    }
}

/// Invocations at once by default.
const DEFAULT_CONCURRENCY: usize = 16;

/// The local backend's root when `[local]` names none.
const DEFAULT_LOCAL_ROOT: &str = "xacct-data";

/// Asks the provider whether it can enforce `grant`.
fn check_grant(
    document: &Document<'_>,
    extension: &dyn Extension,
    grant: &Grant,
    section: Range<usize>,
) -> Result<(), ConfigError> {
    extension.check_grant(grant).map_err(|refusal| {
        document.invalid(
            section,
            format!("{}.{}", grant.key, refusal.key),
            refusal.problem,
            refusal.fix,
        )
    })
}

/// A whole number of the top level within `range`, `default` when unset.
fn top_level_number(
    document: &Document<'_>,
    value: Option<Spanned<i64>>,
    key: &str,
    range: std::ops::RangeInclusive<i64>,
    default: u64,
) -> Result<u64, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) if range.contains(v.get_ref()) => Ok(*v.get_ref() as u64),
        Some(v) => Err(document.invalid(
            v.span(),
            key,
            format!("{} is out of range", v.get_ref()),
            format!(
                "set {key} to a whole number from {} to {} (default {default})",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// The compile cache holds native code the host runs: it is never resolved next to
/// the config, where it would travel with a repository or a CI cache.
fn read_cache_dir(document: &Document<'_>, dir: Spanned<String>) -> Result<PathBuf, ConfigError> {
    let path = PathBuf::from(dir.get_ref());
    if path.is_absolute() {
        return Ok(path);
    }
    Err(document.invalid(
        dir.span(),
        "cache_dir",
        format!("{:?} is a relative path", dir.get_ref()),
        "give an absolute path of your own, or remove cache_dir to use $XDG_CACHE_HOME/xacct (~/.cache/xacct)",
    ))
}

/// Whether `name` can name a plugin (a `NAME.wasm` file and a `[plugin.NAME]` section).
pub fn is_plugin_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use file::Invalid;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/xacct/xacct.toml"))
    }

    fn invalid(text: &str) -> Invalid {
        match parse(text) {
            Err(ConfigError::Invalid(invalid)) => invalid,
            other => panic!("expected an invalid config, got {other:?}"),
        }
    }

    const TWO_ACCOUNTS: &str = r#"
plugins = "wasm"
concurrency = 4

[local]
root = "data"

[limits]
memory_mib = 32

[plugin.hello.limits]
time_secs = 5

[plugin.hello]
accounts = ["dev", "tag:team=data"]
s3 = [{ buckets = "*", actions = ["list"] }]

[[account]]
id = "111111111111"
alias = "dev"
tags = { env = "dev", team = "data" }

[[account]]
id = "222222222222"
alias = "prod"
region = "eu-west-1"
"#;

    #[test]
    fn parses_a_full_config_and_resolves_paths_next_to_it() {
        let config = parse(TWO_ACCOUNTS).unwrap();
        assert_eq!(config.plugins_dir, Path::new("/etc/xacct/wasm"));
        assert_eq!(config.local_root, Path::new("/etc/xacct/data"));
        assert_eq!(config.concurrency, 4);
        assert_eq!(config.accounts.len(), 2);
        assert_eq!(config.accounts[0].tags["env"], "dev");
        assert_eq!(config.accounts[0].region, "local");
        assert_eq!(config.accounts[1].region, "eu-west-1");
        assert_eq!(config.default_limits.guest.memory_bytes, 32 << 20);
        let hello = config.limits_for("hello");
        assert_eq!(hello.guest.time, Duration::from_secs(5));
        assert_eq!(
            hello.guest.memory_bytes,
            32 << 20,
            "plugin limits inherit the defaults"
        );
        assert_eq!(
            config.limits_for("other").guest.time,
            Duration::from_secs(60)
        );
        let grant = config.grant_for("hello").unwrap();
        assert!(grant.covers(&config.accounts[0]));
        assert!(!grant.covers(&config.accounts[1]));
        assert!(config.grant_for("other").is_none(), "deny by default");
    }

    #[test]
    fn grant_errors_name_line_key_and_fix() {
        let base = "[[account]]\nid = \"111111111111\"\nalias = \"dev\"\n[plugin.p]\n";
        let err = invalid(&format!(
            "{base}accounts = [\"*\"]\ns3 = [{{ buckets = \"b*\", actions = [\"read\", \"nuke\"] }}]\n"
        ));
        assert_eq!((err.line, err.key.as_str()), (6, "plugin.p.s3[0].actions"));
        assert!(err.problem.contains("\"nuke\""), "{err}");
        let err = invalid(&format!(
            "{base}accounts = [\"*\"]\ns3 = [{{ buckets = \"b[0-9]\", actions = [\"read\"] }}]\n"
        ));
        assert_eq!(err.key, "plugin.p.s3[0]");
        let err = invalid(&format!("{base}accounts = [\"prod\"]\n"));
        assert_eq!((err.line, err.key.as_str()), (5, "plugin.p.accounts"));
        let err = invalid(&format!(
            "{base}s3 = [{{ buckets = \"b\", actions = [\"read\"] }}]\n"
        ));
        assert_eq!(err.key, "plugin.p.accounts");
        let err = invalid(&format!("{base}accounts = [\"tag:x\"]\n"));
        assert_eq!(err.key, "plugin.p.accounts");
    }

    #[test]
    fn a_bad_account_id_names_line_key_and_fix() {
        let err = invalid("[[account]]\nid = \"12345\"\nalias = \"a\"\n");
        assert_eq!(err.line, 2);
        assert_eq!(err.key, "account[0].id");
        assert!(err.problem.contains("12-digit"), "{err}");
        assert!(
            err.to_string()
                .starts_with("/etc/xacct/xacct.toml:2: account[0].id: ")
        );
        assert!(err.fix.contains("12 digits"));
    }

    #[test]
    fn duplicate_ids_and_aliases_are_refused() {
        let dup_id = "[[account]]\nid = \"111111111111\"\nalias = \"a\"\n\
                      [[account]]\nid = \"111111111111\"\nalias = \"b\"\n";
        let err = invalid(dup_id);
        assert_eq!((err.line, err.key.as_str()), (5, "account[1].id"));
        let dup_alias = "[[account]]\nid = \"111111111111\"\nalias = \"a\"\n\
                         [[account]]\nid = \"222222222222\"\nalias = \"a\"\n";
        let err = invalid(dup_alias);
        assert_eq!((err.line, err.key.as_str()), (6, "account[1].alias"));
    }

    #[test]
    fn aliases_that_look_like_ids_and_tags_no_account_has_are_refused() {
        let collision = "[[account]]\nid = \"111111111111\"\nalias = \"a\"\n\
                         [[account]]\nid = \"222222222222\"\nalias = \"111111111111\"\n";
        let err = invalid(collision);
        assert_eq!((err.line, err.key.as_str()), (6, "account[1].alias"));
        assert!(err.problem.contains("account[0]'s id"), "{err}");
        let err = invalid("[[account]]\nid = \"111111111111\"\nalias = \"999999999999\"\n");
        assert!(err.problem.contains("looks like an account id"), "{err}");
        let err = invalid(
            "[[account]]\nid = \"111111111111\"\nalias = \"a\"\ntags = { env = \"dev\" }\n\
             [plugin.p]\naccounts = [\"tag:env=prdo\"]\n",
        );
        assert_eq!((err.line, err.key.as_str()), (6, "plugin.p.accounts"));
        assert!(err.problem.contains("tags in use: env=dev"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let err = invalid(
            "concurrency = 2\n\n[[account]]\nid = \"111111111111\"\nalias = \"a\"\nrole_arn = \"x\"\n",
        );
        assert_eq!(err.line, 6);
        assert!(err.problem.contains("role_arn"), "{err}");
    }

    #[test]
    fn plugin_loading_keys_have_defaults_ranges_and_an_absolute_cache_dir() {
        let config = parse("").unwrap();
        assert_eq!(config.max_plugin_bytes, 64 << 20);
        assert_eq!(config.compile_timeout, Duration::from_secs(60));
        assert_eq!(config.cache_dir, None);
        let config = parse(
            "cache_dir = \"/var/cache/xacct\"\nmax_plugin_mib = 128\ncompile_timeout_secs = 5\n",
        )
        .unwrap();
        assert_eq!(
            config.cache_dir.as_deref(),
            Some(Path::new("/var/cache/xacct"))
        );
        assert_eq!(config.max_plugin_bytes, 128 << 20);
        assert_eq!(config.compile_timeout, Duration::from_secs(5));

        let err = invalid("concurrency = 4\ncache_dir = \".cache/xacct\"\n");
        assert_eq!((err.line, err.key.as_str()), (2, "cache_dir"));
        assert!(err.fix.contains("absolute"), "{err}");
        let err = invalid("max_plugin_mib = 0\n");
        assert_eq!(err.key, "max_plugin_mib");
        let err = invalid("compile_timeout_secs = 3601\n");
        assert_eq!(err.key, "compile_timeout_secs");
    }

    #[test]
    fn component_limits_default_and_are_set_per_plugin() {
        let config =
            parse("[limits]\ntables = 12\n[plugin.py.limits]\ncore_instances = 40\n").unwrap();
        assert_eq!(
            config.limits_for("other").component,
            limits::ComponentLimits {
                tables: 12,
                ..limits::ComponentLimits::default()
            }
        );
        let py = config.limits_for("py").component;
        assert_eq!((py.core_instances, py.memories, py.tables), (40, 4, 12));
        let err = invalid("[limits]\nmemories = 17\n");
        assert_eq!((err.line, err.key.as_str()), (2, "limits.memories"));
    }

    #[test]
    fn limits_out_of_range_are_refused() {
        let err = invalid("[limits]\nmemory_mib = 0\n");
        assert_eq!((err.line, err.key.as_str()), (2, "limits.memory_mib"));
        let err = invalid("[plugin.hello.limits]\ntime_secs = -3\n");
        assert_eq!(err.key, "plugin.hello.limits.time_secs");
        let err = invalid("concurrency = 0\n");
        assert_eq!(err.key, "concurrency");
    }

    #[test]
    fn malformed_toml_reports_its_line() {
        let err = invalid("concurrency = 2\nplugins = [\n");
        assert_eq!(err.line, 2, "{err}");
        assert!(err.key.is_empty());
    }
}
