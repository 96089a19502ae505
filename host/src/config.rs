//! Stage 1 of the pipeline: **config**. Reads `xacct.toml`, validates all of it up front
//! and turns it into a [`Config`] that the later stages trust without re-checking.
//!
//! Every error names the file, the line, the key and the fix, because the operator reading
//! it is usually in the middle of a run across many accounts and should not have to guess.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::policy::{AccountSelector, Action, Grant, S3Rule};

/// The file looked for in the current directory when no `--config` is given.
pub const DEFAULT_FILE: &str = "xacct.toml";
/// The environment variable naming a config file, used when no `--config` is given.
pub const ENV_VAR: &str = "XACCT_CONFIG";

/// The largest inline session policy STS accepts (packed, as sent).
const MAX_SESSION_POLICY_BYTES: usize = 2048;

/// Largest memory limit a plugin may be given; the pooling allocator reserves this much
/// address space per instance slot.
pub const MAX_MEMORY_MIB: u64 = 4096;

/// The default cap on a plugin file: componentize-py components are about 19 MB.
pub const DEFAULT_MAX_PLUGIN_MIB: u64 = 64;
/// The default compile time budget per plugin: large components take up to about 20 s.
pub const DEFAULT_COMPILE_TIMEOUT_SECS: u64 = 60;

/// A validated configuration.
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
    pub backend: BackendConfig,
    /// Accounts in config order (with `[organization]`, the discovered ones follow once
    /// listed: [`Config::add_discovered`]).
    pub accounts: Vec<AccountConfig>,
    /// Accounts listed from AWS Organizations, once per run.
    pub organization: Option<OrganizationConfig>,
    /// Limits for plugins without their own `[plugin.NAME.limits]`.
    pub default_limits: Limits,
    /// The `[plugin.NAME]` sections: grants and limits (merged over the defaults).
    pub plugins: BTreeMap<String, PluginConfig>,
}

/// What the config says of one plugin.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    pub limits: Limits,
    /// `None`: the plugin may touch nothing (deny by default).
    pub grant: Option<Grant>,
}

/// Which S3 implementation serves the plugins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendConfig {
    /// The embedded local backend: `<root>/<account-id>/<bucket>/<key>`.
    Local { root: PathBuf },
    /// AWS: the home identity assumes each account's role.
    Aws(AwsConfig),
}

/// The home identity: where xacct runs and whose credentials assume the target roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// The home region; the default region of every account. `None` until resolved from
    /// `--region` or the SDK's chain (`aws::region::resolve_home_region`).
    pub region: Option<String>,
    /// Tag each session with `xacct-plugin` and `xacct-sha256` (needs `sts:TagSession`
    /// in every role's trust policy).
    pub session_tags: bool,
    /// The `SourceIdentity` set on every AssumeRole (needs `sts:SetSourceIdentity`).
    pub source_identity: Option<SourceIdentity>,
    /// A named profile for the home credentials; `None`: the standard chain.
    pub profile: Option<String>,
    /// An STS- and S3-compatible endpoint instead of AWS (`AWS_ENDPOINT_URL` works too).
    pub endpoint_url: Option<String>,
    /// The home principal's ARN, for the trust policies `xacct iam` prints; `None`: ask
    /// STS who the home identity is.
    pub home_principal: Option<String>,
    /// How the SDK retries a failed call.
    pub retry_mode: RetryMode,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
}

/// The SDK's retry modes, for S3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryMode {
    /// Exponential backoff with jitter, within a retry quota: the default. Measured on
    /// the fault harness (every 4th S3 request throttled, over 12 accounts), a run took
    /// 37 s in this mode and over 160 s in adaptive mode, whose rate limiter held
    /// invocations past their time limit.
    Standard,
    /// Standard, plus a client-side rate limiter (per account) once S3 throttles: for a
    /// long run against buckets that throttle steadily.
    Adaptive,
}

/// Attempts per call by default: enough that throttling at the rates a fan-out meets
/// costs time, not accounts (the fault harness passes with every 4th S3 request and every
/// 2nd AssumeRole throttled), while an error that persists (a 5xx that is no blip) costs
/// seconds of backoff, not a minute: ten attempts took 60 s, a whole default time limit.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// `[organization]`: the accounts of an AWS Organization, listed from its management or
/// delegated-administrator account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationConfig {
    /// The role assumed in every listed account (a name).
    pub role: String,
    /// A role (ARN) in the management or delegated-administrator account to list
    /// through; `None`: the home identity lists.
    pub via_role: Option<String>,
    /// Only accounts under these OUs (ids `ou-…`/`r-…` or paths `/Prod/Apps`), nested
    /// OUs included; empty: every account.
    pub include_ous: Vec<String>,
    /// Never accounts under these OUs.
    pub exclude_ous: Vec<String>,
    /// Never these accounts.
    pub exclude_accounts: Vec<String>,
}

/// What `[aws] source_identity` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceIdentity {
    /// This text, on every session.
    Fixed(String),
    /// The home caller's name (a user name, or an SSO user's session name): `"caller"`.
    Caller,
}

/// One target account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    pub id: String,
    pub alias: String,
    /// The account's region: its own `region`, else the home region.
    pub region: String,
    /// Whether `region` is the home region's, filled in when that is resolved.
    pub inherits_region: bool,
    pub tags: BTreeMap<String, String>,
    /// The role to assume (a full ARN; a name in the file is expanded). Required with
    /// `[aws]`.
    pub role_arn: Option<String>,
    /// The `sts:ExternalId` the role's trust policy expects.
    pub external_id: Option<String>,
    /// How long assumed credentials last (900 s to 43200 s; `None`: STS's default).
    pub session_duration: Option<Duration>,
}

/// Per-invocation limits and budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory of the plugin instance, in bytes.
    pub memory_bytes: u64,
    /// Wall time of one invocation, guest CPU and host waits together.
    pub time: Duration,
    /// Size of the JSON the plugin returns, in bytes.
    pub output_bytes: u64,
    /// S3 calls that reach the backend.
    pub s3_calls: u64,
    /// Object bytes read.
    pub read_bytes: u64,
    /// Object bytes written.
    pub write_bytes: u64,
    /// Handles (clients, uploads, streams) open at once.
    pub handles: u64,
    /// Object streams (gets) open at once: each holds a connection and a read buffer.
    pub streams: u64,
    /// Uploads (puts) unfinished at once: each holds up to a multipart part in memory.
    pub uploads: u64,
    /// Host memory the invocation's open streams and unfinished uploads may buffer
    /// together; `None`: a quarter of the memory limit, at least [`MIN_HOST_BUFFER_BYTES`].
    pub host_buffer_bytes: Option<u64>,
    /// What the plugin's component may hold; checked when it loads.
    pub component: ComponentLimits,
}

/// What one plugin component may take from the instance pool, checked before it is
/// compiled. Toolchains differ widely: a Rust plugin has 3 core instances, a jco one 4, a
/// componentize-py one 14; each has one memory and two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentLimits {
    /// Core module instances, nested components' included.
    pub core_instances: u32,
    /// Linear memories those instances define: each takes a slot of address space for
    /// every concurrent invocation.
    pub memories: u32,
    /// Tables those instances define.
    pub tables: u32,
}

impl Default for ComponentLimits {
    fn default() -> Self {
        ComponentLimits {
            core_instances: 32,
            memories: 4,
            tables: 8,
        }
    }
}

impl ComponentLimits {
    /// Each limit the larger of the two: what an engine serving both must allow.
    pub fn max(self, other: ComponentLimits) -> ComponentLimits {
        ComponentLimits {
            core_instances: self.core_instances.max(other.core_instances),
            memories: self.memories.max(other.memories),
            tables: self.tables.max(other.tables),
        }
    }
}

/// The smallest default host buffer: one multipart part (8 MiB) and the chunks in flight
/// behind it must fit.
pub const MIN_HOST_BUFFER_BYTES: u64 = 16 << 20;

impl Limits {
    /// The host memory budget of an invocation. Derived from the memory limit by default,
    /// so that what the host holds for a plugin grows with what the operator gave it.
    /// A quarter: sixteen plugins hoarding at the default limits then peaked at 391 MiB
    /// of host memory, where half reached 579 MiB (BENCHMARKS.md, row f).
    pub fn host_buffer(&self) -> u64 {
        self.host_buffer_bytes
            .unwrap_or((self.memory_bytes / 4).max(MIN_HOST_BUFFER_BYTES))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            time: Duration::from_secs(60),
            output_bytes: 1 << 20,
            s3_calls: 100_000,
            read_bytes: 100 << 30,
            write_bytes: 100 << 30,
            handles: 1_000,
            streams: 32,
            uploads: 8,
            host_buffer_bytes: None,
            component: ComponentLimits::default(),
        }
    }
}

impl Config {
    /// Limits of a plugin: its own section if it has one, else the defaults.
    pub fn limits_for(&self, plugin: &str) -> Limits {
        self.plugins
            .get(plugin)
            .map_or(self.default_limits, |p| p.limits)
    }

    /// Adds the accounts listed from the organization. An `[[account]]` entry of the same
    /// id overrides what was listed (alias, region, role; its tags win over the
    /// listed ones); listed accounts follow the entries, by id. A listed account's alias is
    /// its name made alias-safe, or `<name>-<id>` where that is taken.
    pub fn add_discovered(&mut self, listed: Vec<AccountConfig>) {
        let mut aliases: std::collections::HashSet<String> =
            self.accounts.iter().map(|a| a.alias.clone()).collect();
        let by_id: std::collections::HashMap<String, usize> = self
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let mut added = Vec::new();
        for mut account in listed {
            if let Some(&i) = by_id.get(&account.id) {
                let entry = &mut self.accounts[i];
                for (key, value) in account.tags {
                    entry.tags.entry(key).or_insert(value);
                }
                continue;
            }
            if !aliases.insert(account.alias.clone()) {
                account.alias = format!("{}-{}", account.alias, account.id);
                aliases.insert(account.alias.clone());
            }
            added.push(account);
        }
        added.sort_by(|a, b| a.id.cmp(&b.id));
        self.accounts.extend(added);
    }

    /// Sets the home region of an `[aws]` config and of every account that inherits it.
    pub fn set_home_region(&mut self, region: &str) {
        if let BackendConfig::Aws(aws) = &mut self.backend {
            aws.region = Some(region.to_owned());
        }
        for account in self.accounts.iter_mut().filter(|a| a.inherits_region) {
            account.region = region.to_owned();
        }
    }

    /// The grant of a plugin, if it has one.
    pub fn grant_for(&self, plugin: &str) -> Option<&Grant> {
        self.plugins.get(plugin).and_then(|p| p.grant.as_ref())
    }

    /// The config of `xacct run --local-root ROOT` where there is no config file: every
    /// default, the local backend at `root`, plugins in `./plugins`, and no grant; it is
    /// named after the `./xacct.toml` that would hold one.
    pub fn without_file(root: &Path) -> Config {
        let mut config = Config::parse("", Path::new(DEFAULT_FILE))
            .expect("the empty config is valid: every key has a default");
        config.backend = BackendConfig::Local {
            root: root.to_owned(),
        };
        config
    }

    /// On the local backend, a config that lists no `[[account]]` has one account per
    /// directory at the top of its root named by a 12-digit id (alias: the id), so that
    /// a directory of data is enough to develop against. Returns the other top-level
    /// names, which are not accounts.
    pub fn discover_local_accounts(&mut self) -> Vec<String> {
        let BackendConfig::Local { root } = &self.backend else {
            return Vec::new();
        };
        if !self.accounts.is_empty() {
            return Vec::new();
        }
        let mut ignored = Vec::new();
        for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && name.len() == 12 && name.bytes().all(|b| b.is_ascii_digit()) {
                self.accounts.push(AccountConfig {
                    alias: name.clone(),
                    id: name,
                    region: "local".to_owned(),
                    inherits_region: false,
                    tags: BTreeMap::new(),
                    role_arn: None,
                    external_id: None,
                    session_duration: None,
                });
            } else if !name.starts_with('.') {
                ignored.push(name);
            }
        }
        self.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        ignored.sort();
        ignored
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Finds the config: `--config`, else `$XACCT_CONFIG`, else `./xacct.toml`.
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

    /// Parses config text; `path` is used for messages and to resolve relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|err| {
            let line = err.span().map_or(1, |span| line_of(text, span.start));
            ConfigError::Invalid(Invalid {
                path: path.to_owned(),
                line,
                key: String::new(),
                problem: err.message().trim_end().to_owned(),
                fix: "correct the TOML at that line (see the config reference in README.md)"
                    .to_owned(),
            })
        })?;
        Validator { text, path }.validate(raw)
    }
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

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
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
    aws: Option<Spanned<RawAws>>,
    organization: Option<Spanned<RawOrganization>>,
    limits: Option<RawLimits>,
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
struct RawOrganization {
    role: Option<Spanned<String>>,
    via_role: Option<Spanned<String>>,
    #[serde(default)]
    include_ous: Vec<Spanned<String>>,
    #[serde(default)]
    exclude_ous: Vec<Spanned<String>>,
    #[serde(default)]
    exclude_accounts: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAws {
    region: Option<Spanned<String>>,
    session_tags: Option<bool>,
    source_identity: Option<Spanned<String>>,
    retry_mode: Option<Spanned<String>>,
    max_attempts: Option<Spanned<i64>>,
    profile: Option<String>,
    endpoint_url: Option<Spanned<String>>,
    home_principal: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory_mib: Option<Spanned<i64>>,
    time_secs: Option<Spanned<i64>>,
    output_kib: Option<Spanned<i64>>,
    s3_calls: Option<Spanned<i64>>,
    read_mib: Option<Spanned<i64>>,
    write_mib: Option<Spanned<i64>>,
    handles: Option<Spanned<i64>>,
    streams: Option<Spanned<i64>>,
    uploads: Option<Spanned<i64>>,
    host_buffer_mib: Option<Spanned<i64>>,
    core_instances: Option<Spanned<i64>>,
    memories: Option<Spanned<i64>>,
    tables: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    limits: Option<RawLimits>,
    accounts: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    s3: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    buckets: Spanned<String>,
    #[serde(default)]
    prefix: String,
    actions: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    id: Spanned<String>,
    alias: Spanned<String>,
    region: Option<Spanned<String>>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    role: Option<Spanned<String>>,
    external_id: Option<Spanned<String>>,
    session_duration: Option<Spanned<i64>>,
}

struct Validator<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Validator<'_> {
    fn invalid(&self, span: Range<usize>, key: String, problem: String, fix: &str) -> ConfigError {
        ConfigError::Invalid(Invalid {
            path: self.path.to_owned(),
            line: line_of(self.text, span.start),
            key,
            problem,
            fix: fix.to_owned(),
        })
    }

    /// Resolves a path written in the config relative to the config file's directory.
    fn resolve(&self, written: &str) -> PathBuf {
        let dir = self.path.parent().unwrap_or(Path::new(""));
        dir.join(written)
    }

    fn validate(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let concurrency = match raw.concurrency {
            None => 16,
            Some(n) if (1..=1000).contains(n.get_ref()) => *n.get_ref() as usize,
            Some(n) => {
                return Err(self.invalid(
                    n.span(),
                    "concurrency".into(),
                    format!("{} is out of range", n.get_ref()),
                    "set concurrency to a whole number from 1 to 1000",
                ));
            }
        };
        let max_plugin_mib = self.top_level_number(
            raw.max_plugin_mib,
            "max_plugin_mib",
            1..=4096,
            DEFAULT_MAX_PLUGIN_MIB,
        )?;
        let compile_timeout_secs = self.top_level_number(
            raw.compile_timeout_secs,
            "compile_timeout_secs",
            1..=3600,
            DEFAULT_COMPILE_TIMEOUT_SECS,
        )?;
        let cache_dir = raw.cache_dir.map(|dir| self.cache_dir(dir)).transpose()?;
        let default_limits = self.limits(raw.limits, Limits::default(), "limits")?;
        let backend = match (raw.local, raw.aws) {
            (Some(_), Some(aws)) => {
                return Err(self.invalid(
                    aws.span(),
                    "aws".into(),
                    "both [local] and [aws] are configured".into(),
                    "keep the one backend you mean (--local-root runs an [aws] config locally)",
                ));
            }
            (_, Some(aws)) => BackendConfig::Aws(self.aws(aws)?),
            (local, None) => {
                let root = local.and_then(|local| local.into_inner().root);
                BackendConfig::Local {
                    root: self.resolve(root.as_deref().unwrap_or("xacct-data")),
                }
            }
        };
        let accounts = self.accounts(raw.account, &backend)?;
        let organization = raw
            .organization
            .map(|organization| self.organization(organization, &backend))
            .transpose()?;
        let mut plugins = BTreeMap::new();
        for (name, plugin) in raw.plugin {
            let key = format!("plugin.{}", name.get_ref());
            if !is_plugin_name(name.get_ref()) {
                return Err(self.invalid(
                    name.span(),
                    key,
                    format!("{:?} is not a plugin name", name.get_ref()),
                    "name the section after the plugin's file without .wasm (letters, digits, '-', '_')",
                ));
            }
            let limits = self.limits(plugin.limits, default_limits, &format!("{key}.limits"))?;
            let grant = self.grant(
                &key,
                name.span(),
                plugin.accounts,
                plugin.s3,
                // Accounts listed later cannot be checked against yet.
                organization.is_none().then_some(&accounts[..]),
                &backend,
            )?;
            plugins.insert(name.into_inner(), PluginConfig { limits, grant });
        }
        Ok(Config {
            path: self.path.to_owned(),
            plugins_dir: self.resolve(raw.plugins.as_deref().unwrap_or("plugins")),
            cache_dir,
            max_plugin_bytes: max_plugin_mib << 20,
            compile_timeout: Duration::from_secs(compile_timeout_secs),
            concurrency,
            accounts,
            organization,
            backend,
            default_limits,
            plugins,
        })
    }

    fn organization(
        &self,
        raw: Spanned<RawOrganization>,
        backend: &BackendConfig,
    ) -> Result<OrganizationConfig, ConfigError> {
        let span = raw.span();
        let raw = raw.into_inner();
        if !matches!(backend, BackendConfig::Aws(_)) {
            return Err(self.invalid(
                span,
                "organization".into(),
                "accounts are listed from AWS Organizations, but there is no [aws] section".into(),
                "add an [aws] section (the home identity lists the accounts), or remove [organization]",
            ));
        }
        let role = match raw.role {
            None => "OrganizationAccountAccessRole".to_owned(),
            Some(role) if is_role_name(role.get_ref()) && !role.get_ref().starts_with("arn:") => {
                role.into_inner()
            }
            Some(role) => {
                return Err(self.invalid(
                    role.span(),
                    "organization.role".into(),
                    format!("{:?} is not a role name", role.get_ref()),
                    "give the name of the role every member account has, e.g. \"OrganizationAccountAccessRole\"",
                ));
            }
        };
        let via_role = match raw.via_role {
            None => None,
            Some(arn)
                if parse_arn(arn.get_ref())
                    .is_some_and(|a| a.service == "iam" && a.resource.starts_with("role/")) =>
            {
                Some(arn.into_inner())
            }
            Some(arn) => {
                return Err(self.invalid(
                    arn.span(),
                    "organization.via_role".into(),
                    format!("{:?} is not a role ARN", arn.get_ref()),
                    "use the ARN of a role in the management or delegated-administrator account",
                ));
            }
        };
        let ous = |list: Vec<Spanned<String>>, key: &str| {
            list.into_iter()
                .map(|ou| {
                    let text = ou.get_ref();
                    let valid = text.starts_with("ou-") || text.starts_with("r-") || text.starts_with('/');
                    if valid {
                        Ok(ou.into_inner())
                    } else {
                        Err(self.invalid(
                            ou.span(),
                            format!("organization.{key}"),
                            format!("{text:?} is neither an OU id nor an OU path"),
                            "use an id (\"ou-ab12-cdef3456\", or the root \"r-ab12\") or a path from the root (\"/Prod/Apps\")",
                        ))
                    }
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let include_ous = ous(raw.include_ous, "include_ous")?;
        let exclude_ous = ous(raw.exclude_ous, "exclude_ous")?;
        let exclude_accounts = raw
            .exclude_accounts
            .into_iter()
            .map(|id| {
                if id.get_ref().len() == 12 && id.get_ref().bytes().all(|b| b.is_ascii_digit()) {
                    Ok(id.into_inner())
                } else {
                    Err(self.invalid(
                        id.span(),
                        "organization.exclude_accounts".into(),
                        format!("{:?} is not a 12-digit account id", id.get_ref()),
                        "list account ids as 12 digits in quotes",
                    ))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OrganizationConfig {
            role,
            via_role,
            include_ous,
            exclude_ous,
            exclude_accounts,
        })
    }

    /// A whole number of the top level within `range`, `default` when unset.
    fn top_level_number(
        &self,
        value: Option<Spanned<i64>>,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
        default: u64,
    ) -> Result<u64, ConfigError> {
        match value {
            None => Ok(default),
            Some(v) if range.contains(v.get_ref()) => Ok(*v.get_ref() as u64),
            Some(v) => Err(self.invalid(
                v.span(),
                key.into(),
                format!("{} is out of range", v.get_ref()),
                &format!(
                    "set {key} to a whole number from {} to {} (default {default})",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    /// The compile cache holds native code the host runs: it is never resolved next to
    /// the config, where it would travel with a repository or a CI cache.
    fn cache_dir(&self, dir: Spanned<String>) -> Result<PathBuf, ConfigError> {
        let path = PathBuf::from(dir.get_ref());
        if path.is_absolute() {
            return Ok(path);
        }
        Err(self.invalid(
            dir.span(),
            "cache_dir".into(),
            format!("{:?} is a relative path", dir.get_ref()),
            "give an absolute path of your own, or remove cache_dir to use $XDG_CACHE_HOME/xacct (~/.cache/xacct)",
        ))
    }

    /// A plugin's grant: `accounts` plus `s3` rules. Without `accounts` there is none.
    fn grant(
        &self,
        key: &str,
        section: Range<usize>,
        accounts: Option<Spanned<Vec<Spanned<String>>>>,
        rules: Vec<RawRule>,
        configured: Option<&[AccountConfig]>,
        backend: &BackendConfig,
    ) -> Result<Option<Grant>, ConfigError> {
        let Some(accounts) = accounts else {
            if rules.is_empty() {
                return Ok(None);
            }
            return Err(self.invalid(
                section,
                format!("{key}.accounts"),
                "S3 rules are given, but no accounts".into(),
                &format!("add accounts = [\"*\"] (or ids, aliases, \"tag:key=value\") to [{key}]"),
            ));
        };
        let mut selectors = Vec::new();
        for selector in accounts.into_inner() {
            let parsed = AccountSelector::parse(selector.get_ref()).map_err(|problem| {
                self.invalid(
                    selector.span(),
                    format!("{key}.accounts"),
                    problem,
                    "use \"*\", a 12-digit id, an alias or \"tag:key=value\"",
                )
            })?;
            let known = match (&parsed, configured) {
                (_, None) | (AccountSelector::All, _) => true,
                (AccountSelector::Id(id), Some(configured)) => {
                    configured.iter().any(|a| a.id == *id)
                }
                (AccountSelector::Alias(alias), Some(configured)) => {
                    configured.iter().any(|a| a.alias == *alias)
                }
                (AccountSelector::Tag(..), Some(configured)) => {
                    // A tag no account carries grants nothing: most likely a typo in the
                    // key or the value, which must not pass as a narrower grant.
                    if !configured.is_empty() && !configured.iter().any(|a| parsed.matches(a)) {
                        return Err(self.invalid(
                            selector.span(),
                            format!("{key}.accounts"),
                            format!(
                                "{:?} matches no configured account (tags in use: {})",
                                selector.get_ref(),
                                tags_in_use(configured)
                            ),
                            "fix the tag's key or value, or add it to the accounts' tags = { ... }",
                        ));
                    }
                    true
                }
            };
            if !known {
                return Err(self.invalid(
                    selector.span(),
                    format!("{key}.accounts"),
                    format!("{:?} names no configured account", selector.get_ref()),
                    "use the id or alias of an [[account]] entry",
                ));
            }
            selectors.push(parsed);
        }
        let mut s3 = Vec::new();
        for (index, rule) in rules.into_iter().enumerate() {
            let rule_key = format!("{key}.s3[{index}]");
            let mut actions = std::collections::BTreeSet::new();
            for action in &rule.actions {
                let parsed = Action::parse(action.get_ref()).ok_or_else(|| {
                    self.invalid(
                        action.span(),
                        format!("{rule_key}.actions"),
                        format!("{:?} is not an action", action.get_ref()),
                        "use list, read, write, delete or tag",
                    )
                })?;
                actions.insert(parsed);
            }
            let span = rule.buckets.span();
            let parsed =
                S3Rule::new(rule.buckets.get_ref(), &rule.prefix, actions).map_err(|problem| {
                    self.invalid(
                        span,
                        rule_key,
                        problem,
                        "fix the bucket glob or prefix of this rule",
                    )
                })?;
            s3.push(parsed);
        }
        let grant = Grant {
            key: key.to_owned(),
            accounts: selectors,
            s3,
        };
        // Every account's policy has the same size: ids are 12 digits.
        let policy_size = grant.session_policy("000000000000").to_string().len();
        if matches!(backend, BackendConfig::Aws(_)) && policy_size > MAX_SESSION_POLICY_BYTES {
            return Err(self.invalid(
                section,
                format!("{key}.s3"),
                format!("the grant's session policy takes {policy_size} bytes; AWS accepts {MAX_SESSION_POLICY_BYTES}"),
                "merge rules (bucket globs) or split the plugin",
            ));
        }
        Ok(Some(grant))
    }

    fn limits(
        &self,
        raw: Option<RawLimits>,
        base: Limits,
        key: &str,
    ) -> Result<Limits, ConfigError> {
        let raw = raw.unwrap_or_default();
        let mut limits = base;
        let check = |value: Option<Spanned<i64>>, name: &str, max: i64| {
            value
                .map(|v| {
                    if (1..=max).contains(v.get_ref()) {
                        Ok(*v.get_ref() as u64)
                    } else {
                        Err(self.invalid(
                            v.span(),
                            format!("{key}.{name}"),
                            format!("{} is out of range", v.get_ref()),
                            &format!("set {name} to a whole number from 1 to {max}"),
                        ))
                    }
                })
                .transpose()
        };
        if let Some(mib) = check(raw.memory_mib, "memory_mib", MAX_MEMORY_MIB as i64)? {
            limits.memory_bytes = mib << 20;
        }
        if let Some(secs) = check(raw.time_secs, "time_secs", 24 * 3600)? {
            limits.time = Duration::from_secs(secs);
        }
        if let Some(kib) = check(raw.output_kib, "output_kib", 1 << 20)? {
            limits.output_bytes = kib << 10;
        }
        if let Some(calls) = check(raw.s3_calls, "s3_calls", i64::MAX)? {
            limits.s3_calls = calls;
        }
        if let Some(mib) = check(raw.read_mib, "read_mib", 1 << 30)? {
            limits.read_bytes = mib << 20;
        }
        if let Some(mib) = check(raw.write_mib, "write_mib", 1 << 30)? {
            limits.write_bytes = mib << 20;
        }
        if let Some(handles) = check(raw.handles, "handles", 1_000_000)? {
            limits.handles = handles;
        }
        if let Some(streams) = check(raw.streams, "streams", 10_000)? {
            limits.streams = streams;
        }
        if let Some(uploads) = check(raw.uploads, "uploads", 1_000)? {
            limits.uploads = uploads;
        }
        if let Some(mib) = check(raw.host_buffer_mib, "host_buffer_mib", 64 << 10)? {
            limits.host_buffer_bytes = Some(mib << 20);
        }
        if let Some(n) = check(raw.core_instances, "core_instances", 1_000)? {
            limits.component.core_instances = n as u32;
        }
        // Every memory slot of the pool reserves 4 GiB of address space, times the
        // concurrency: 16 memories at 1000 invocations is already 64 TiB.
        if let Some(n) = check(raw.memories, "memories", 16)? {
            limits.component.memories = n as u32;
        }
        if let Some(n) = check(raw.tables, "tables", 1_000)? {
            limits.component.tables = n as u32;
        }
        Ok(limits)
    }

    fn aws(&self, raw: Spanned<RawAws>) -> Result<AwsConfig, ConfigError> {
        let raw = raw.into_inner();
        if let Some(region) = &raw.region {
            self.region(region, "aws.region")?;
        }
        let source_identity = match raw.source_identity {
            None => None,
            Some(text) if text.get_ref() == "caller" => Some(SourceIdentity::Caller),
            Some(text) => {
                let valid = (2..=64).contains(&text.get_ref().len())
                    && text
                        .get_ref()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
                if !valid {
                    return Err(self.invalid(
                        text.span(),
                        "aws.source_identity".into(),
                        format!("{:?} is not a valid source identity", text.get_ref()),
                        "use \"caller\" (the home caller's name) or 2 to 64 letters, digits or +=,.@_-",
                    ));
                }
                Some(SourceIdentity::Fixed(text.into_inner()))
            }
        };
        if let Some(url) = &raw.endpoint_url
            && !(url.get_ref().starts_with("http://") || url.get_ref().starts_with("https://"))
        {
            return Err(self.invalid(
                url.span(),
                "aws.endpoint_url".into(),
                format!("{:?} is not an http(s) URL", url.get_ref()),
                "write the endpoint as http://host:port or https://host",
            ));
        }
        if let Some(principal) = &raw.home_principal
            && parse_arn(principal.get_ref())
                .is_none_or(|arn| arn.service != "iam" && arn.service != "sts")
        {
            return Err(self.invalid(
                principal.span(),
                "aws.home_principal".into(),
                format!("{:?} is not an IAM principal ARN", principal.get_ref()),
                "use the ARN of the home role or user, e.g. arn:aws:iam::123456789012:role/xacct",
            ));
        }
        let retry_mode = match raw
            .retry_mode
            .as_ref()
            .map(|m| (m.get_ref().as_str(), m.span()))
        {
            None | Some(("standard", _)) => RetryMode::Standard,
            Some(("adaptive", _)) => RetryMode::Adaptive,
            Some((other, span)) => {
                return Err(self.invalid(
                    span,
                    "aws.retry_mode".into(),
                    format!("{other:?} is not a retry mode"),
                    "use \"standard\" (the default) or \"adaptive\"",
                ));
            }
        };
        let max_attempts = match raw.max_attempts {
            None => DEFAULT_MAX_ATTEMPTS,
            Some(n) if (1..=50).contains(n.get_ref()) => *n.get_ref() as u32,
            Some(n) => {
                return Err(self.invalid(
                    n.span(),
                    "aws.max_attempts".into(),
                    format!("{} is out of range", n.get_ref()),
                    "set max_attempts to 1..=50 (the first attempt included)",
                ));
            }
        };
        Ok(AwsConfig {
            retry_mode,
            max_attempts,
            region: raw.region.map(Spanned::into_inner),
            session_tags: raw.session_tags.unwrap_or(false),
            source_identity,
            profile: raw.profile,
            endpoint_url: raw.endpoint_url.map(Spanned::into_inner),
            home_principal: raw.home_principal.map(Spanned::into_inner),
        })
    }

    /// Checks a region code.
    fn region(&self, region: &Spanned<String>, key: &str) -> Result<(), ConfigError> {
        if is_region_code(region.get_ref()) {
            return Ok(());
        }
        Err(self.invalid(
            region.span(),
            key.to_owned(),
            format!("{:?} is not an AWS region code", region.get_ref()),
            "use a region code such as \"us-east-1\" or \"eu-west-1\"",
        ))
    }

    /// The role's full ARN: a name is expanded into the account; an ARN must be in it.
    fn role_arn(
        &self,
        role: &Spanned<String>,
        id: &str,
        key: String,
    ) -> Result<String, ConfigError> {
        let written = role.get_ref();
        match parse_arn(written) {
            Some(arn) if arn.service == "iam" && arn.resource.starts_with("role/") => {
                if arn.account == id {
                    Ok(written.clone())
                } else {
                    Err(self.invalid(
                        role.span(),
                        key,
                        format!(
                            "the role ARN is in account {}, but this entry's id is {id}",
                            arn.account
                        ),
                        "use a role in the account itself, or give just the role's name",
                    ))
                }
            }
            Some(_) => Err(self.invalid(
                role.span(),
                key,
                format!("{written:?} is not an IAM role ARN"),
                "write arn:aws:iam::<id>:role/<name>, or just the role's name",
            )),
            None if is_role_name(written) => Ok(format!("arn:aws:iam::{id}:role/{written}")),
            None => Err(self.invalid(
                role.span(),
                key,
                format!("{written:?} is neither a role name nor a role ARN"),
                "give the role's name (letters, digits, +=,.@_- and / for a path) or its full ARN",
            )),
        }
    }

    fn accounts(
        &self,
        raw: Vec<RawAccount>,
        backend: &BackendConfig,
    ) -> Result<Vec<AccountConfig>, ConfigError> {
        let mut accounts: Vec<AccountConfig> = Vec::with_capacity(raw.len());
        let mut seen_ids = BTreeMap::new();
        let mut seen_aliases = BTreeMap::new();
        for (index, account) in raw.into_iter().enumerate() {
            let key = |field: &str| format!("account[{index}].{field}");
            let id = account.id.get_ref();
            if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(self.invalid(
                    account.id.span(),
                    key("id"),
                    format!("{id:?} is not a 12-digit AWS account id"),
                    "write the account id as 12 digits in quotes, e.g. id = \"123456789012\"",
                ));
            }
            if let Some(first) = seen_ids.insert(id.clone(), index) {
                return Err(self.invalid(
                    account.id.span(),
                    key("id"),
                    format!("account id {id} is already configured as account[{first}]"),
                    "remove one of the two [[account]] entries",
                ));
            }
            let alias = account.alias.get_ref();
            if alias.len() == 12 && alias.bytes().all(|b| b.is_ascii_digit()) {
                let problem = match seen_ids.get(alias) {
                    Some(other) if *other != index => {
                        format!(
                            "alias {alias:?} is account[{other}]'s id: --account {alias} would select both"
                        )
                    }
                    _ => format!(
                        "alias {alias:?} looks like an account id: --account and grants would take it for one"
                    ),
                };
                return Err(self.invalid(
                    account.alias.span(),
                    key("alias"),
                    problem,
                    "use a name that is not 12 digits, e.g. the account's purpose (alias = \"billing\")",
                ));
            }
            if !is_alias(alias) {
                return Err(self.invalid(
                    account.alias.span(),
                    key("alias"),
                    format!("{alias:?} is not a valid alias"),
                    "use 1 to 64 letters, digits, '-', '_' or '.'",
                ));
            }
            if let Some(first) = seen_aliases.insert(alias.clone(), index) {
                return Err(self.invalid(
                    account.alias.span(),
                    key("alias"),
                    format!("alias {alias:?} is already used by account[{first}]"),
                    "give each account its own alias",
                ));
            }
            let role_arn = match (&account.role, backend) {
                (Some(role), _) => Some(self.role_arn(role, id, key("role"))?),
                (None, BackendConfig::Aws(_)) => {
                    return Err(self.invalid(
                        account.id.span(),
                        key("role"),
                        "the role to assume is missing".into(),
                        "add role = \"<role name or ARN>\" to this [[account]]",
                    ));
                }
                (None, BackendConfig::Local { .. }) => None,
            };
            if let Some(external_id) = &account.external_id {
                let valid = (2..=1224).contains(&external_id.get_ref().len())
                    && external_id
                        .get_ref()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c));
                if !valid {
                    return Err(self.invalid(
                        external_id.span(),
                        key("external_id"),
                        "not a valid external id".into(),
                        "use 2 to 1224 letters, digits or +=,.@:/-_",
                    ));
                }
            }
            let session_duration = match &account.session_duration {
                Some(secs) if (900..=43200).contains(secs.get_ref()) => {
                    Some(Duration::from_secs(*secs.get_ref() as u64))
                }
                Some(secs) => {
                    return Err(self.invalid(
                        secs.span(),
                        key("session_duration"),
                        format!("{} s is outside what STS allows", secs.get_ref()),
                        "set session_duration to 900..=43200 seconds (and within the role's maximum)",
                    ));
                }
                None => None,
            };
            if let Some(region) = &account.region {
                self.region(region, &key("region"))?;
            }
            let default_region = match backend {
                BackendConfig::Aws(aws) => aws.region.clone().unwrap_or_default(),
                BackendConfig::Local { .. } => "local".to_owned(),
            };
            accounts.push(AccountConfig {
                id: account.id.into_inner(),
                alias: account.alias.into_inner(),
                inherits_region: account.region.is_none(),
                region: account
                    .region
                    .map(Spanned::into_inner)
                    .unwrap_or(default_region),
                tags: account.tags,
                role_arn,
                external_id: account.external_id.map(Spanned::into_inner),
                session_duration,
            });
        }
        Ok(accounts)
    }
}

/// The parts of an ARN that matter here.
pub struct Arn<'a> {
    pub service: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// Splits `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
pub fn parse_arn(text: &str) -> Option<Arn<'_>> {
    let mut parts = text.splitn(6, ':');
    if parts.next()? != "arn" || !parts.next()?.starts_with("aws") {
        return None;
    }
    let service = parts.next()?;
    let _region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    let valid =
        account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !resource.is_empty();
    valid.then_some(Arn {
        service,
        account,
        resource,
    })
}

fn is_role_name(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or_default();
    (1..=64).contains(&base.len())
        && name.len() <= 512
        && !name.starts_with('/')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
}

/// An account's name made into an alias: the characters an alias allows (others become
/// `-`), at most 64, never all digits (which would read as an account id).
pub fn alias_from_name(name: &str, id: &str) -> String {
    let mut alias: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    alias.truncate(64);
    if alias.is_empty() || alias.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        format!("account-{id}")
    } else {
        alias
    }
}

/// An AWS region code: `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-3`
/// (two letters, words, a number), not a region's display name.
pub fn is_region_code(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let [first, middle @ .., last] = &parts[..] else {
        return false;
    };
    region.len() <= 32
        && first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !middle.is_empty()
        && middle
            .iter()
            .all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// `env=dev, team=data`: the tags the accounts carry, for a message.
pub fn tags_in_use(accounts: &[AccountConfig]) -> String {
    let tags: std::collections::BTreeSet<String> = accounts
        .iter()
        .flat_map(|a| a.tags.iter().map(|(k, v)| format!("{k}={v}")))
        .collect();
    if tags.is_empty() {
        "none".to_owned()
    } else {
        tags.into_iter().collect::<Vec<_>>().join(", ")
    }
}

fn is_alias(alias: &str) -> bool {
    (1..=64).contains(&alias.len())
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
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
        assert_eq!(
            config.backend,
            BackendConfig::Local {
                root: "/etc/xacct/data".into()
            }
        );
        assert_eq!(config.concurrency, 4);
        assert_eq!(config.accounts.len(), 2);
        assert_eq!(config.accounts[0].tags["env"], "dev");
        assert_eq!(config.accounts[0].region, "local");
        assert_eq!(config.accounts[1].region, "eu-west-1");
        assert_eq!(config.default_limits.memory_bytes, 32 << 20);
        let hello = config.limits_for("hello");
        assert_eq!(hello.time, Duration::from_secs(5));
        assert_eq!(
            hello.memory_bytes,
            32 << 20,
            "plugin limits inherit the defaults"
        );
        assert_eq!(config.limits_for("other").time, Duration::from_secs(60));
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
            ComponentLimits {
                tables: 12,
                ..ComponentLimits::default()
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

    const AWS: &str = r#"
[aws]
region = "eu-west-1"
endpoint_url = "http://127.0.0.1:5000"

[[account]]
id = "111111111111"
alias = "dev"
role = "xacct-target"
external_id = "ext-1"
session_duration = 3600

[[account]]
id = "222222222222"
alias = "prod"
region = "us-east-2"
role = "arn:aws:iam::222222222222:role/ops/xacct"
"#;

    #[test]
    fn aws_accounts_expand_role_names_and_inherit_the_home_region() {
        let config = parse(AWS).unwrap();
        let BackendConfig::Aws(aws) = &config.backend else {
            panic!("an [aws] config has the AWS backend")
        };
        assert_eq!(aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(aws.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        let dev = &config.accounts[0];
        assert_eq!(
            dev.role_arn.as_deref(),
            Some("arn:aws:iam::111111111111:role/xacct-target")
        );
        assert_eq!(dev.external_id.as_deref(), Some("ext-1"));
        assert_eq!(dev.session_duration, Some(Duration::from_secs(3600)));
        assert_eq!(dev.region, "eu-west-1");
        let prod = &config.accounts[1];
        assert_eq!(
            prod.role_arn.as_deref(),
            Some("arn:aws:iam::222222222222:role/ops/xacct")
        );
        assert_eq!(prod.region, "us-east-2");
    }

    #[test]
    fn aws_account_errors_name_line_key_and_fix() {
        let err = invalid(&AWS.replace(
            "arn:aws:iam::222222222222:role",
            "arn:aws:iam::333333333333:role",
        ));
        assert_eq!((err.line, err.key.as_str()), (17, "account[1].role"));
        assert!(err.problem.contains("in account 333333333333"), "{err}");
        let err = invalid(&AWS.replace("3600", "600"));
        assert_eq!(
            (err.line, err.key.as_str()),
            (11, "account[0].session_duration")
        );
        assert!(err.fix.contains("900..=43200"));
        let err = invalid(&AWS.replace("43200", "x").replace("3600", "43201"));
        assert_eq!(err.key, "account[0].session_duration");
        let err = invalid(&AWS.replace("role = \"xacct-target\"\n", ""));
        assert_eq!(err.key, "account[0].role");
        let err = invalid(&AWS.replace("region = \"eu-west-1\"", "region = \"EU West (Ireland)\""));
        assert_eq!(err.key, "aws.region");
        assert!(
            err.problem.contains("not an AWS region code"),
            "{}",
            err.problem
        );
        let err = invalid(&AWS.replace("region = \"us-east-2\"", "region = \"Ohio\""));
        assert!(err.key.ends_with(".region"), "{}", err.key);
        let err = invalid(&AWS.replace("external_id = \"ext-1\"", "external_id = \"a b\""));
        assert_eq!(err.key, "account[0].external_id");
        let err = invalid(&AWS.replace("xacct-target", "bad role!"));
        assert_eq!(err.key, "account[0].role");
        let err = invalid(&format!("{AWS}\n[local]\nroot = \"x\"\n"));
        assert_eq!(err.key, "aws");
        let err = invalid(&AWS.replace("http://127.0.0.1:5000", "127.0.0.1:5000"));
        assert_eq!(err.key, "aws.endpoint_url");
    }

    #[test]
    fn the_home_region_may_come_from_outside_the_file() {
        let mut config = parse(&AWS.replace("region = \"eu-west-1\"\n", "")).unwrap();
        let BackendConfig::Aws(aws) = &config.backend else {
            panic!()
        };
        assert_eq!(aws.region, None);
        config.set_home_region("ap-south-1");
        let regions: Vec<&str> = config.accounts.iter().map(|a| a.region.as_str()).collect();
        assert_eq!(regions, ["ap-south-1", "us-east-2"], "own regions are kept");
    }

    #[test]
    fn region_codes_are_told_from_names() {
        for code in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-3",
            "il-central-1",
        ] {
            assert!(is_region_code(code), "{code}");
        }
        for name in [
            "EU West (Ireland)",
            "eu-west",
            "useast1",
            "us-east-1a",
            "",
            "local",
        ] {
            assert!(!is_region_code(name), "{name}");
        }
    }

    #[test]
    fn malformed_toml_reports_its_line() {
        let err = invalid("concurrency = 2\nplugins = [\n");
        assert_eq!(err.line, 2, "{err}");
        assert!(err.key.is_empty());
    }
}
