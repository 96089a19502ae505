//! The command line's arguments (clap), apart from what each command does.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::terminal::ColorChoice;

/// `xacct --version`: the version, the commit it was built from and the wasmtime that
/// runs the plugins (`host/build.rs`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("XACCT_COMMIT"),
    ", wasmtime ",
    env!("XACCT_WASMTIME_VERSION"),
    ")"
);

/// Run WebAssembly plugins across many AWS accounts; the plugins never hold credentials.
#[derive(Parser)]
#[command(name = "xacct", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    /// Log format on stderr (filter with RUST_LOG, e.g. RUST_LOG=debug).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Colour the table, the recap and the log: `auto` on a terminal unless NO_COLOR is
    /// set.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a plugin against the configured accounts and print a per-account report.
    Run(Box<RunArgs>),
    /// List the plugins in the plugin directory and whether each fits the xacct world.
    Plugins(ConfigArgs),
    /// Assume every configured account's role and print the assumed-role ARN (AWS).
    Check(CheckArgs),
    /// Print the IAM policies the config needs: the home identity's and each role's trust.
    Iam(ConfigFile),
    /// Print the accounts a run would know — with `[organization]`, as listed from AWS
    /// Organizations — as a table, JSON, or `[[account]]` TOML to review or pin.
    Accounts(AccountsArgs),
    /// Create a plugin project: source, build script, a config with its grant, sample
    /// data and a test.
    New(NewArgs),
    /// Work with JSON reports of `xacct run`.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Print the shell completion script for SHELL, e.g. `xacct completions bash >
    /// ~/.local/share/bash-completion/completions/xacct`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `xacct man > ~/.local/share/man/man1/xacct.1`; with
    /// `--dir DIR`, write one page per command into DIR instead (`xacct.1`,
    /// `xacct-run.1`, `xacct-report-html.1`, …: `man xacct-run` shows every option of
    /// `xacct run`).
    Man {
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
    /// Sign a plugin file with an SSH key (namespace xacct-plugin): embedded as its last
    /// section, or detached as PLUGIN.wasm.sig.
    Sign(SignArgs),
    /// Check a plugin file's signatures against the config's trusted signers, and show
    /// its digest, declared grant and metadata. Exits 0 when a trusted key signed it.
    Verify(VerifyArgs),
    /// Rewrite a plugin file.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Work with grants.
    #[command(subcommand)]
    Grant(GrantCommand),
}

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Declare the grant the plugin needs, in its file (a section xacct-grant), for any
    /// language: TOML with format = 1, accounts and s3 rules as in [plugin.NAME]. An
    /// embedded signature is removed: sign the file again.
    Annotate {
        /// The declaration (format = 1, mode, accounts, s3).
        #[arg(long, value_name = "FILE")]
        grant: PathBuf,
        /// The plugin file, rewritten in place.
        plugin: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum GrantCommand {
    /// Print the [plugin.NAME] section that grants what the plugin declares, to review.
    Suggest {
        /// The plugin: its file name in the plugin directory, without `.wasm`.
        plugin: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Args)]
pub struct SignArgs {
    /// The plugin file.
    pub plugin: PathBuf,
    /// An unencrypted OpenSSH ed25519 private key (for a passphrase, an agent or a
    /// hardware key, sign with ssh-keygen -Y sign -n xacct-plugin and embed with
    /// --signature).
    #[arg(long, value_name = "KEYFILE", conflicts_with = "signature")]
    pub key: Option<PathBuf>,
    /// Embed this signature, made by ssh-keygen -Y sign -n xacct-plugin over the file
    /// (without any embedded signature).
    #[arg(long, value_name = "FILE.sig")]
    pub signature: Option<PathBuf>,
    /// Write PLUGIN.wasm.sig beside the plugin instead of embedding the signature (the
    /// file, and so its digest, stays as it is).
    #[arg(long, requires = "key")]
    pub detached: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The plugin file (its trust policy is that of the plugin named after it).
    pub plugin: PathBuf,
    /// Write the bytes an embedded signature covers to OUT, for ssh-keygen -Y verify.
    #[arg(long, value_name = "OUT")]
    pub extract_unsigned: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigFile,
}

#[derive(Subcommand)]
pub enum ReportCommand {
    /// Merge the JSON reports of a run's shards into the report of the whole run (JSON on
    /// stdout): every shard of the same plan, every planned account exactly once. Exits 0
    /// when every account succeeded, 1 when some failed, 2 when the reports do not merge.
    Merge {
        /// The shards' reports (`xacct run --shard K/N --output json > shard-K.json`).
        #[arg(required = true, value_name = "REPORT")]
        reports: Vec<PathBuf>,
    },
    /// Write a JSON report (a run's, a shard's or a merged one) as one self-contained HTML
    /// page: failures grouped, every account in a table to sort and filter, durations and
    /// the timeline. It opens from disk and requests nothing. Exits 2 when the file is not
    /// a report.
    Html(HtmlArgs),
}

#[derive(Args)]
pub struct HtmlArgs {
    /// The JSON report (`xacct run --output json`, `xacct report merge`).
    #[arg(value_name = "REPORT")]
    pub report: PathBuf,
    /// The page [default: REPORT with the extension .html]: a regular file, never the
    /// report itself; `-` writes it to stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The run's --out-dir: each account's plugin.log is shown in its detail.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct NewArgs {
    /// The plugin's name: its .wasm file and its [plugin.NAME] section.
    pub name: String,
    /// The plugin's language.
    #[arg(long, value_enum, default_value_t = Language::Rust)]
    pub lang: Language,
    /// The project directory [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The xacct-guest SDK a Rust project depends on [default: the guest-sdk of the source
    /// tree this xacct was built from].
    #[arg(long, value_name = "DIR")]
    pub sdk: Option<PathBuf>,
}

/// The language of a new plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Language {
    Rust,
    Python,
    #[value(name = "js")]
    JavaScript,
}

#[derive(Args)]
pub struct ConfigFile {
    /// Config file [default: $XACCT_CONFIG, else ./xacct.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Home region when `[aws]` names none [default: AWS_REGION, AWS_DEFAULT_REGION, the
    /// profile's region].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

/// The operator's choice of accounts, for `run` and `check`.
#[derive(Args, Default)]
pub struct SelectionArgs {
    /// Only this account (id or alias); repeat for more. [default: every granted account]
    #[arg(long = "account", value_name = "ID|ALIAS")]
    pub accounts: Vec<String>,
    /// Only accounts with this tag; repeat: all must match.
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    pub tags: Vec<(String, String)>,
    /// Leave this account (id or alias) out; repeatable.
    #[arg(long = "exclude", value_name = "ID|ALIAS")]
    pub exclude: Vec<String>,
}

#[derive(Args)]
pub struct AccountsArgs {
    /// Format: a table, JSON, or `[[account]]` entries for a config file.
    #[arg(long, value_enum, default_value_t = AccountsOutput::Table)]
    pub output: AccountsOutput,
    #[command(flatten)]
    pub config: ConfigFile,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccountsOutput {
    Table,
    Json,
    Toml,
}

#[derive(Args)]
pub struct CheckArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub config: ConfigFile,
}

#[derive(Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub file: ConfigFile,
    /// Plugin directory [default: the config's `plugins`].
    #[arg(long, value_name = "DIR")]
    pub plugins: Option<PathBuf>,
    /// Root of the local backend [default: the config's `local.root`].
    #[arg(long, value_name = "DIR")]
    pub local_root: Option<PathBuf>,
}

#[derive(Args)]
pub struct RunArgs {
    /// The plugin: its file name in the plugin directory, without `.wasm`.
    pub plugin: String,
    /// JSON handed to the plugin's `run`.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub input: String,
    /// Run one instance that sees every account, instead of one instance per account.
    #[arg(long)]
    pub all_accounts: bool,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Print which accounts would run, with which grant and limits, and call nothing; it
    /// writes no file, so it takes no --html, --out-dir or --audit.
    #[arg(long, conflicts_with_all = ["html", "out_dir", "audit"])]
    pub plan: bool,
    /// Invocations at once [default: the config's `concurrency`].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub concurrency: Option<u16>,
    /// Time limit of each invocation, in seconds [default: the plugin's limits].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub timeout: Option<u64>,
    /// Plan puts, deletes, copies and tag writes instead of executing them; the plugin is
    /// told (`dry-run`), and the report and audit log list what it would have done.
    #[arg(long)]
    pub dry_run: bool,
    /// Append one JSON line per S3 call to this file.
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
    /// Write DIR/<plugin>/<account>/result.json and plugin.log for each account.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Also write the report as one self-contained HTML page (with what each plugin
    /// printed), owner-only, after the report; checked before the run starts. `xacct
    /// report html` makes one from a JSON report. Not `-`: stdout is the report's
    /// (`xacct report html REPORT -o -` writes a page to stdout).
    #[arg(long, value_name = "FILE", value_parser = page_file)]
    pub html: Option<PathBuf>,
    /// Report format: a table, one JSON document, or one JSON line per account as it
    /// finishes.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Run only shard K of N (1 ≤ K ≤ N: `1/2` and `2/2`) of the selected accounts, an
    /// account's shard being a hash of its id; `auto` takes the shard from the 0-based
    /// AWS_BATCH_JOB_ARRAY_INDEX (and AWS_BATCH_JOB_ARRAY_SIZE), or from Kubernetes'
    /// JOB_COMPLETION_INDEX with --shard-count (or XACCT_SHARD_COUNT). The summary and
    /// the plan name the shard taken. Merge the shards' JSON reports with `xacct report
    /// merge`.
    #[arg(long, value_name = "K/N|auto", conflicts_with = "all_accounts")]
    pub shard: Option<String>,
    /// The number of shards, for `--shard auto` only, when the environment does not say
    /// it (a Kubernetes Indexed Job's completions) [default: $XACCT_SHARD_COUNT]. Beside
    /// AWS_BATCH_JOB_ARRAY_SIZE, or an XACCT_SHARD_COUNT beside `--shard K/N`, a count
    /// that disagrees is refused.
    // `requires` alone is not enforced beside --all-accounts, which --shard conflicts with.
    #[arg(long, value_name = "N", requires = "shard", conflicts_with = "all_accounts", value_parser = clap::value_parser!(u32).range(1..))]
    pub shard_count: Option<u32>,
    /// Run only the accounts that failed or were skipped in this JSON report of an earlier
    /// run of the plugin (a shard's, or a merged one). When none did, nothing runs, exit
    /// 0: `--output json` writes a report with no entries, the table one line saying so.
    #[arg(long, value_name = "REPORT", conflicts_with = "accounts")]
    pub rerun_failed: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
    Jsonl,
}

/// `run --html FILE`: a file, not `-` (stdout is the report's).
fn page_file(text: &str) -> Result<PathBuf, String> {
    if text == "-" {
        return Err(
            "the page cannot go to stdout, which is the report's; fix: name a file, or write the report with --output json and make its page with `xacct report html REPORT -o -`".into(),
        );
    }
    Ok(PathBuf::from(text))
}

pub fn parse_tag(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}
