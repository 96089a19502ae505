//! The `xacct` command line.
//!
//! Exit codes: 0 every account succeeded; 1 some account failed (or, for `plugins`, some
//! plugin failed its check); 2 a config or usage error; 129, 130, 143 the run was stopped
//! by SIGHUP, SIGINT, SIGTERM (128 + the signal, as a shell reports a process it killed);
//! 141 stdout was closed before the run's end (`| head`).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use indicatif::{ProgressBar, ProgressStyle};
use xacct::audit::AuditLog;
use xacct::aws::region::resolve_home_region;
use xacct::aws::{SessionSpec, Sessions};
use xacct::config::tags_in_use;
use xacct::config::{BackendConfig, Config, ConfigError};
use xacct::pipeline::{self, Progress, RunRequest, Service};
use xacct::plan::{Mode, Plan, Selection};
use xacct::policy::Grant;
use xacct::report::terminal::{self, ColorChoice};
use xacct::report::text::inert;
use xacct::report::{Entry, Look, Report, private};
use xacct::sandbox::{LoadOptions, Sandbox, plugin_files};
use xacct::shard::Shard;

/// Run WebAssembly plugins across many AWS accounts; the plugins never hold credentials.
#[derive(Parser)]
#[command(name = "xacct", version, about)]
struct Cli {
    /// Log format on stderr (filter with RUST_LOG, e.g. RUST_LOG=debug).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// Colour the table, the recap and the log: `auto` on a terminal unless NO_COLOR is
    /// set.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Merge the JSON reports of a run's shards into the report of the whole run (JSON on
    /// stdout): every shard of the same plan, every planned account exactly once. Exits 0
    /// when every account succeeded, 1 when some failed, 2 when the reports do not merge.
    Merge {
        /// The shards' reports (`xacct run --shard K/N --output json > shard-K.json`).
        #[arg(required = true, value_name = "REPORT")]
        reports: Vec<PathBuf>,
    },
}

#[derive(Args)]
struct NewArgs {
    /// The plugin's name: its .wasm file and its [plugin.NAME] section.
    name: String,
    /// The plugin's language.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    lang: Lang,
    /// The project directory [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The xacct-guest SDK a Rust project depends on [default: the guest-sdk of the source
    /// tree this xacct was built from].
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Lang {
    Rust,
    Python,
    Js,
}

#[derive(Args)]
struct ConfigFile {
    /// Config file [default: $XACCT_CONFIG, else ./xacct.toml].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Home region when `[aws]` names none [default: AWS_REGION, AWS_DEFAULT_REGION, the
    /// profile's region].
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
}

/// The operator's choice of accounts, for `run` and `check`.
#[derive(Args)]
struct SelectionArgs {
    /// Only this account (id or alias); repeat for more. [default: every granted account]
    #[arg(long = "account", value_name = "ID|ALIAS")]
    accounts: Vec<String>,
    /// Only accounts with this tag; repeat: all must match.
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    /// Leave this account (id or alias) out; repeatable.
    #[arg(long = "exclude", value_name = "ID|ALIAS")]
    exclude: Vec<String>,
}

impl SelectionArgs {
    /// The selection, every name it holds checked against the config.
    fn validate(self, config: &Config) -> Result<Selection, UsageError> {
        let selection = Selection {
            accounts: self.accounts,
            tags: self.tags,
            exclude: self.exclude,
        };
        selection
            .validate(config)
            .map_err(|problem| anyhow::anyhow!("--account/--exclude: {problem}"))?;
        let matcher = selection.matcher();
        if selection != Selection::default() && !config.accounts.iter().any(|a| matcher.selects(a))
        {
            let flags: Vec<String> = (selection.accounts.iter().map(|a| format!("--account {a}")))
                .chain(selection.tags.iter().map(|(k, v)| format!("--tag {k}={v}")))
                .chain(selection.exclude.iter().map(|a| format!("--exclude {a}")))
                .collect();
            return Err(UsageError(anyhow::anyhow!(
                "{} together match no account in {} (tags in use: {}); fix: check the tag's key and value, or drop a flag",
                inert(&flags.join(" ")),
                config.path.display(),
                inert(&tags_in_use(&config.accounts))
            )));
        }
        Ok(selection)
    }
}

/// Warns of each grant whose plugin is not in the plugin directory: a typo in the section
/// name, or a plugin not built yet; either way the grant serves nothing.
fn warn_of_missing_plugins(config: &Config) {
    let text = std::fs::read_to_string(&config.path).unwrap_or_default();
    for (name, plugin) in &config.plugins {
        if plugin.grant.is_none() || config.plugins_dir.join(format!("{name}.wasm")).is_file() {
            continue;
        }
        let line = text
            .lines()
            .position(|line| {
                let line = line.trim_start();
                line.starts_with(&format!("[plugin.{name}]"))
                    || line.starts_with(&format!("plugin.{name} "))
                    || line.starts_with(&format!("plugin.{name}="))
            })
            .map_or(0, |i| i + 1);
        tracing::warn!(
            "{}:{line}: plugin.{}: the grant names a plugin that is not in {}; fix: build {}.wasm into it, or correct or remove the section",
            config.path.display(),
            inert(name),
            config.plugins_dir.display(),
            inert(name),
        );
    }
}

#[derive(Args)]
struct AccountsArgs {
    /// Format: a table, JSON, or `[[account]]` entries for a config file.
    #[arg(long, value_enum, default_value_t = AccountsOutput::Table)]
    output: AccountsOutput,
    #[command(flatten)]
    config: ConfigFile,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AccountsOutput {
    Table,
    Json,
    Toml,
}

#[derive(Args)]
struct CheckArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
    #[command(flatten)]
    selection: SelectionArgs,
    #[command(flatten)]
    config: ConfigFile,
}

#[derive(Args)]
struct ConfigArgs {
    #[command(flatten)]
    file: ConfigFile,
    /// Plugin directory [default: the config's `plugins`].
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,
    /// Root of the local backend [default: the config's `local.root`].
    #[arg(long, value_name = "DIR")]
    local_root: Option<PathBuf>,
}

#[derive(Args)]
struct RunArgs {
    /// The plugin: its file name in the plugin directory, without `.wasm`.
    plugin: String,
    /// JSON handed to the plugin's `run`.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    input: String,
    /// Run one instance that sees every account, instead of one instance per account.
    #[arg(long)]
    all_accounts: bool,
    #[command(flatten)]
    selection: SelectionArgs,
    /// Print which accounts would run, with which grant and limits, and call nothing.
    #[arg(long)]
    plan: bool,
    /// Invocations at once [default: the config's `concurrency`].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    concurrency: Option<u16>,
    /// Time limit of each invocation, in seconds [default: the plugin's limits].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    timeout: Option<u64>,
    /// Plan puts, deletes, copies and tag writes instead of executing them; the plugin is
    /// told (`dry-run`), and the report and audit log list what it would have done.
    #[arg(long)]
    dry_run: bool,
    /// Append one JSON line per S3 call to this file.
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// Write DIR/<plugin>/<account>/result.json and plugin.log for each account.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Report format: a table, one JSON document, or one JSON line per account as it
    /// finishes.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// Run only shard K of N (0 ≤ K < N) of the selected accounts, an account's shard
    /// being a hash of its id; `auto` takes K (and N) from AWS_BATCH_JOB_ARRAY_INDEX and
    /// AWS_BATCH_JOB_ARRAY_SIZE, or from Kubernetes' JOB_COMPLETION_INDEX with
    /// --shard-count. Merge the shards' JSON reports with `xacct report merge`.
    #[arg(long, value_name = "K/N|auto", conflicts_with = "all_accounts")]
    shard: Option<String>,
    /// The number of shards, for `--shard auto` when the environment does not say it
    /// (a Kubernetes Indexed Job's completions).
    #[arg(long, value_name = "N", env = "XACCT_SHARD_COUNT", value_parser = clap::value_parser!(u32).range(1..))]
    shard_count: Option<u32>,
    /// Run only the accounts that failed or were skipped in this JSON report of an earlier
    /// run of the plugin (a shard's, or a merged one).
    #[arg(long, value_name = "REPORT", conflicts_with = "accounts")]
    rerun_failed: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
    Jsonl,
}

fn parse_tag(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

impl From<Color> for ColorChoice {
    fn from(color: Color) -> ColorChoice {
        match color {
            Color::Auto => ColorChoice::Auto,
            Color::Always => ColorChoice::Always,
            Color::Never => ColorChoice::Never,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// A failure to report with exit code 2: bad config or usage.
struct UsageError(anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for UsageError {
    fn from(err: E) -> Self {
        UsageError(err.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = ColorChoice::from(cli.color);
    init_logging(cli.log_format, color);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run(*args, color).await,
            Command::Plugins(args) => plugins(args),
            Command::Check(args) => check(args).await,
            Command::Iam(args) => iam(args).await,
            Command::Accounts(args) => accounts(args).await,
            Command::New(args) => new_plugin(args),
            Command::Report(ReportCommand::Merge { reports }) => merge_reports(&reports),
        }
    });
    match result {
        Ok(code) => code,
        // A reader that left (`xacct plugins | head -1`) is no error to report.
        Err(UsageError(err))
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|err| err.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::from(STDOUT_CLOSED)
        }
        Err(UsageError(err)) => {
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// xacct's own events at `info`; the AWS SDK's only when something is wrong. At `info`
/// the SDK logs a line per resolved credential, with its access key id.
const DEFAULT_LOG_FILTER: &str = "info,aws_config=warn,aws_runtime=warn,aws_smithy_runtime=warn,aws_sdk_sts=warn,aws_sdk_s3=warn";

fn init_logging(format: LogFormat, color: ColorChoice) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(color.colour(std::io::stderr().is_terminal()))
        .with_writer(terminal::Stderr);
    if format == LogFormat::Json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Loads the config and applies the command-line overrides.
fn load_config(args: &ConfigArgs) -> Result<Config, UsageError> {
    let mut config = match (load_config_file(&args.file), &args.local_root) {
        // A directory of data is enough to develop against.
        (Err(UsageError(err)), Some(root))
            if matches!(err.downcast_ref(), Some(ConfigError::NotFound)) =>
        {
            Config::without_file(root)
        }
        (loaded, _) => loaded?,
    };
    if let Some(dir) = &args.plugins {
        config.plugins_dir = dir.clone();
    }
    if let Some(root) = &args.local_root {
        config.backend = BackendConfig::Local { root: root.clone() };
    }
    let ignored = config.discover_local_accounts();
    if !ignored.is_empty() {
        tracing::warn!(
            "not accounts (not 12-digit ids) at the top of the local root: {}",
            inert(&ignored.join(", "))
        );
    }
    Ok(config)
}

fn load_config_file(args: &ConfigFile) -> Result<Config, UsageError> {
    let path = Config::locate(args.config.as_deref())?;
    Ok(Config::load(&path)?)
}

/// The config with its home region resolved the AWS way (config, `--region`, the SDK's
/// chain), for the commands that talk to AWS.
async fn with_home_region(mut config: Config, args: &ConfigFile) -> Result<Config, UsageError> {
    resolve_home_region(&mut config, args.region.as_deref()).await?;
    Ok(config)
}

/// The AWS sessions of an `[aws]` config, or a usage error naming the file.
async fn aws_sessions(config: &mut Config, command: &str) -> Result<Arc<Sessions>, UsageError> {
    match connect(config).await? {
        Service::Aws(sessions) => Ok(sessions),
        Service::Local(_) | Service::Custom(_) => Err(UsageError(anyhow::anyhow!(
            "{}: `xacct {command}` needs an [aws] section (the local backend assumes no roles)",
            config.path.display()
        ))),
    }
}

/// Connects to the backend, listing the organization's accounts into `config` first
/// when it has `[organization]` (once per run, before anything is selected or planned).
async fn connect(config: &mut Config) -> Result<Service, UsageError> {
    let service = Service::connect(config, None).await?;
    service.discover(config).await?;
    Ok(service)
}

async fn run(args: RunArgs, color: ColorChoice) -> Result<ExitCode, UsageError> {
    let mut config = with_home_region(load_config(&args.config)?, &args.config.file).await?;
    // With an organization, the accounts are known only once listed.
    let mut service = match config.organization {
        Some(_) => Some(connect(&mut config).await?),
        None => None,
    };
    serde_json::from_str::<serde_json::Value>(&args.input)
        .context("--input is not valid JSON; fix: quote it for your shell, e.g. --input '{\"key\": \"value\"}'")?;
    if let Some(concurrency) = args.concurrency {
        config.concurrency = usize::from(concurrency);
    }
    let mut selection = args.selection.validate(&config)?;
    if let Some(path) = &args.rerun_failed {
        let failed = failed_accounts(path, &args.plugin, args.all_accounts)?;
        if failed.is_empty() {
            eprintln!(
                "{}: no account failed or was skipped: nothing to rerun",
                path.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        selection.accounts = failed;
        selection
            .validate(&config)
            .map_err(|problem| anyhow::anyhow!("--rerun-failed {}: {problem}", path.display()))?;
    }
    let shard = match args.shard.as_deref() {
        None => None,
        Some("auto") => Some(
            Shard::from_env(|name| std::env::var(name).ok(), args.shard_count)
                .map_err(|problem| anyhow::anyhow!("--shard auto: {problem}"))?,
        ),
        Some(text) => {
            Some(Shard::parse(text).map_err(|problem| anyhow::anyhow!("--shard: {problem}"))?)
        }
    };
    warn_of_missing_plugins(&config);
    let mode = if args.all_accounts {
        Mode::AllAccounts
    } else {
        Mode::PerAccount
    };
    let mut request = RunRequest::new(&args.plugin, &args.input, mode);
    request.selection = selection;
    request.timeout = args.timeout.map(Duration::from_secs);
    request.dry_run = args.dry_run;
    request.shard = shard;
    let plan = pipeline::plan(&config, &request);
    if plan.selected.is_empty()
        && request.selection != Selection::default()
        && let Some(grant) = config.grant_for(&args.plugin)
    {
        return Err(UsageError(anyhow::anyhow!(
            "the accounts --account/--tag/--exclude select are outside the grant of plugin {:?} ({} in {}); fix: select accounts it covers, or widen its accounts",
            inert(&args.plugin),
            grant.key,
            config.path.display()
        )));
    }
    if args.plan {
        print_plan(&plan, config.grant_for(&args.plugin), args.output)?;
        // As `run` would: no account to run is a failed run (a shard may hold none).
        return Ok(if plan.selected.is_empty() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    if let Some(path) = &args.audit {
        request.audit = Some(Arc::new(AuditLog::open(path)?));
    }
    let stop = Stop::listen(request.cancel.clone())?;
    let sandbox = Arc::new(Sandbox::with_options(
        LoadOptions::for_config(&config),
        config.concurrency as u32,
    )?);
    let service = match service.take() {
        Some(service) => service,
        None => Service::connect(&config, None).await?,
    };
    let progress = Terminal::new(args.output, request.cancel.clone());
    let report = pipeline::run(&config, &sandbox, &service, &request, &progress).await;
    terminal::hide_bar();
    let report = report?;
    if report.entries.is_empty() && config.accounts.is_empty() {
        eprintln!(
            "no account in scope: add [[account]] entries to {}",
            config.path.display()
        );
    }
    if let Some(dir) = &args.out_dir {
        write_out_dir(dir, &report).with_context(|| format!("--out-dir {}", dir.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    let written = match args.output {
        Output::Json => report.write_json(&mut stdout),
        Output::Table => report.write_table(
            &mut stdout,
            &Look {
                width: terminal::stdout_width(),
                colour: color.colour(std::io::stdout().is_terminal()),
            },
        ),
        // The entries went out as they finished; the summary and recap go to stderr,
        // unless the reader left: then the run ends quietly.
        Output::Jsonl if progress.stdout_closed() => Ok(()),
        Output::Jsonl => report.write_recap(
            &mut terminal::Stderr,
            &Look {
                width: terminal_size::terminal_size_of(std::io::stderr())
                    .map(|(width, _)| usize::from(width.0)),
                colour: color.colour(std::io::stderr().is_terminal()),
            },
        ),
    }
    .and_then(|()| stdout.flush());
    // A reader that stopped once the run was over (`| head`) is not an error of the run.
    if let Err(err) = written
        && err.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(err.into());
    }
    Ok(if let Some(code) = stop.code() {
        ExitCode::from(code)
    } else if progress.stdout_closed() {
        ExitCode::from(STDOUT_CLOSED)
    } else if report.all_ok()
        // A shard that hashed no account of a plan that has some did all it had to.
        || (report.shard.is_some() && report.entries.is_empty() && !plan.selected.is_empty())
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The accounts to run again from an earlier JSON report of `plugin`.
fn failed_accounts(
    path: &Path,
    plugin: &str,
    all_accounts: bool,
) -> Result<Vec<String>, UsageError> {
    let report = read_report(path)?;
    let mode = if all_accounts {
        "all-accounts"
    } else {
        "per-account"
    };
    if report["plugin"] != plugin || report["mode"] != mode {
        return Err(UsageError(anyhow::anyhow!(
            "--rerun-failed {}: the report is of plugin {} in {} mode, not {} in {mode} mode; fix: rerun the plugin and mode of the report",
            path.display(),
            inert(&report["plugin"].to_string()),
            inert(&report["mode"].to_string()),
            inert(plugin)
        )));
    }
    Ok(xacct::shard::failed_accounts(&report))
}

fn read_report(path: &Path) -> Result<serde_json::Value, UsageError> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(serde_json::from_slice(&text).with_context(|| {
        format!(
            "{} is not a JSON report; fix: write reports with `xacct run --output json`",
            path.display()
        )
    })?)
}

/// `xacct report merge`: the merged report on stdout, its summary on stderr.
fn merge_reports(paths: &[PathBuf]) -> Result<ExitCode, UsageError> {
    let reports = paths
        .iter()
        .map(|path| Ok((path.display().to_string(), read_report(path)?)))
        .collect::<Result<Vec<_>, UsageError>>()?;
    let merged = xacct::shard::merge(&reports)?;
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &merged)?;
    writeln!(stdout)?;
    let entries = merged["entries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let count = |status: &str| entries.iter().filter(|e| e["status"] == status).count();
    let _ = writeln!(
        terminal::Stderr,
        "merged {} shard(s): {} ok, {} failed, {} skipped",
        reports.len(),
        count("ok"),
        count("error"),
        count("skipped")
    );
    Ok(if xacct::shard::all_ok(&merged) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The exit code of a run cut short because its stdout was closed (`… --output jsonl |
/// head`): 128 + SIGPIPE, what a shell reports for a process the closed pipe killed.
const STDOUT_CLOSED: u8 = 141;

/// The operator's stop: the first SIGINT, SIGTERM or SIGHUP cancels the run (no new
/// invocation starts, the running ones are cancelled and their uploads aborted, the
/// report is still written); a second one exits at once.
struct Stop {
    /// The exit code of the first signal, 0 until one came.
    code: Arc<std::sync::atomic::AtomicU8>,
}

impl Stop {
    fn listen(cancel: tokio_util::sync::CancellationToken) -> std::io::Result<Stop> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut hangup = signal(SignalKind::hangup())?;
        let code = Arc::new(std::sync::atomic::AtomicU8::new(0));
        let first = code.clone();
        tokio::spawn(async move {
            let mut next = async || {
                tokio::select! {
                    _ = interrupt.recv() => ("SIGINT", 130),
                    _ = terminate.recv() => ("SIGTERM", 143),
                    _ = hangup.recv() => ("SIGHUP", 129),
                }
            };
            let (name, code) = next().await;
            first.store(code, std::sync::atomic::Ordering::SeqCst);
            cancel.cancel();
            let _ = writeln!(
                terminal::Stderr,
                "{name}: stopping: no new invocation starts, running ones are cancelled and their uploads aborted; the report follows (signal again to exit at once)"
            );
            let (name, code) = next().await;
            let _ = writeln!(
                terminal::Stderr,
                "{name} again: exiting at once, without a report"
            );
            std::process::exit(i32::from(code));
        });
        Ok(Stop { code })
    }

    /// The exit code of the signal that stopped the run, if one did.
    fn code(&self) -> Option<u8> {
        Some(self.code.load(std::sync::atomic::Ordering::SeqCst)).filter(|code| *code != 0)
    }
}

/// The progress of a run on the terminal: a bar on stderr when it is a terminal, and the
/// entries as JSON lines on stdout as they finish with `--output jsonl`.
struct Terminal {
    bar: Option<ProgressBar>,
    jsonl: bool,
    /// Ends the run when no one reads its output any more.
    cancel: tokio_util::sync::CancellationToken,
    stdout_closed: std::sync::atomic::AtomicBool,
}

impl Terminal {
    fn new(output: Output, cancel: tokio_util::sync::CancellationToken) -> Terminal {
        let bar = std::io::stderr().is_terminal().then(|| {
            // `wide_bar` and `wide_msg` shrink to the terminal: a line longer than the
            // terminal would wrap, and each redraw would leave a stale line behind.
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{wide_bar} {pos}/{len} accounts, {elapsed} {wide_msg}",
                )
                .expect("a valid template"),
            );
            terminal::show_bar(bar.clone());
            bar
        });
        Terminal {
            bar,
            jsonl: output == Output::Jsonl,
            cancel,
            stdout_closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn stdout_closed(&self) -> bool {
        self.stdout_closed.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Progress for Terminal {
    fn started(&self, invocations: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(invocations as u64);
        }
    }

    fn finished(&self, entry: &Entry) {
        if self.jsonl && !self.stdout_closed() {
            let line = serde_json::to_string(entry).expect("entries serialise");
            let write = || {
                let mut stdout = std::io::stdout().lock();
                writeln!(stdout, "{line}").and_then(|()| stdout.flush())
            };
            let written = match &self.bar {
                Some(bar) => bar.suspend(write),
                None => write(),
            };
            // The reader is gone (`| head -1`): the rest of the run would go unread, so
            // it stops as it would for Ctrl-C, quietly.
            if written.is_err() {
                self.stdout_closed
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                self.cancel.cancel();
            }
        }
        if let Some(bar) = &self.bar {
            if entry.error.is_some() {
                bar.set_message(format!("(last failure: {})", entry.account_id));
            }
            bar.inc(1);
        }
    }
}

/// `DIR/<plugin>/<account>/result.json` and `plugin.log` per entry, owner-only. `DIR`
/// itself is created owner-only if missing, and left as it is if not (it may be shared,
/// e.g. `/tmp`); `<plugin>` and below are xacct's, tightened if an earlier run left them
/// open.
fn write_out_dir(dir: &Path, report: &Report) -> std::io::Result<()> {
    let plugin_dir = dir.join(&report.plugin);
    private::create_dir(&plugin_dir)?;
    for entry in &report.entries {
        let name = if entry.account_id == xacct::report::ALL_ACCOUNTS {
            "all-accounts"
        } else {
            &entry.account_id
        };
        let dir = plugin_dir.join(name);
        private::create_dir(&dir)?;
        let mut result = serde_json::to_vec_pretty(entry).expect("entries serialise");
        result.push(b'\n');
        private::write(&dir.join("result.json"), &result)?;
        private::write(
            &dir.join("plugin.log"),
            format!("== stdout\n{}== stderr\n{}", entry.stdout, entry.stderr).as_bytes(),
        )?;
    }
    Ok(())
}

/// `--plan`: what would run, with which grant and limits; nothing is called.
fn print_plan(plan: &Plan, grant: Option<&Grant>, output: Output) -> Result<(), UsageError> {
    let limits = plan.limits;
    let document = serde_json::json!({
        "plugin": plan.plugin,
        "mode": match plan.mode { Mode::PerAccount => "per-account", Mode::AllAccounts => "all-accounts" },
        "shard": plan.shard.map(|shard| shard.to_string()),
        "accounts": plan.accounts.iter().map(|a| serde_json::json!({
            "id": a.id, "alias": a.alias, "region": a.region, "tags": a.tags,
        })).collect::<Vec<_>>(),
        "grant": grant.map(Grant::describe),
        "limits": {
            "memory_mib": limits.memory_bytes >> 20,
            "time_secs": limits.time.as_secs(),
            "output_kib": limits.output_bytes >> 10,
            "s3_calls": limits.s3_calls,
            "read_mib": limits.read_bytes >> 20,
            "write_mib": limits.write_bytes >> 20,
            "handles": limits.handles,
        },
        "notes": plan.note.iter().collect::<Vec<_>>(),
    });
    let mut stdout = std::io::stdout().lock();
    if output != Output::Table {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&document)?)?;
        return Ok(());
    }
    writeln!(
        stdout,
        "plan: {} ({}) on {} account(s); nothing is called",
        plan.plugin,
        document["mode"].as_str().unwrap_or_default(),
        plan.accounts.len()
    )?;
    if let Some(note) = &plan.note {
        writeln!(stdout, "note: {}", inert(note))?;
    }
    writeln!(stdout, "grant: {}", inert(&document["grant"].to_string()))?;
    writeln!(stdout, "limits: {}", document["limits"])?;
    for account in &plan.accounts {
        let tags: Vec<String> = account
            .tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        writeln!(
            stdout,
            "{}  {:<16} {:<12} {}",
            inert(&account.id),
            inert(&account.alias),
            inert(&account.region),
            inert(&tags.join(","))
        )?;
    }
    Ok(())
}

async fn check(args: CheckArgs) -> Result<ExitCode, UsageError> {
    let mut config = with_home_region(load_config_file(&args.config)?, &args.config).await?;
    let sessions = aws_sessions(&mut config, "check").await?;
    let selection = args.selection.validate(&config)?;
    warn_of_missing_plugins(&config);
    let matcher = selection.matcher();
    let accounts: Vec<_> = config
        .accounts
        .iter()
        .filter(|a| matcher.selects(a))
        .collect();
    let checks = accounts.iter().map(|account| {
        let sessions = sessions.clone();
        async move {
            let session = sessions.session(&account.id, &SessionSpec::host("check"))?;
            session.caller_arn().await
        }
    });
    let results = futures::future::join_all(checks).await;
    let rows: Vec<serde_json::Value> = accounts
        .iter()
        .zip(&results)
        .map(|(account, result)| match result {
            Ok(arn) => serde_json::json!({"account_id": account.id, "alias": account.alias, "status": "ok", "assumed_role_arn": arn}),
            Err(err) => serde_json::json!({"account_id": account.id, "alias": account.alias, "status": "error", "error": err.to_string()}),
        })
        .collect();
    let mut stdout = std::io::stdout().lock();
    match args.output {
        Output::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&rows)?)?,
        Output::Jsonl => {
            for row in &rows {
                writeln!(stdout, "{row}")?;
            }
        }
        Output::Table => {
            for row in &rows {
                let detail = row
                    .get("assumed_role_arn")
                    .or(row.get("error"))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                let cell = |key: &str| inert(row[key].as_str().unwrap_or_default());
                writeln!(
                    stdout,
                    "{}  {:<16} {:<6} {}",
                    cell("account_id"),
                    cell("alias"),
                    cell("status"),
                    inert(detail)
                )?;
            }
        }
    }
    let failed = results.iter().filter(|r| r.is_err()).count();
    let summary = format!(
        "check: {} ok, {failed} failed of {} account(s)",
        results.len() - failed,
        results.len()
    );
    // The summary follows a table; beside JSON it goes to stderr, as with `run`.
    if args.output == Output::Table {
        writeln!(stdout, "{summary}")?;
    } else {
        let _ = writeln!(terminal::Stderr, "{summary}");
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn accounts(args: AccountsArgs) -> Result<ExitCode, UsageError> {
    let mut config = with_home_region(load_config_file(&args.config)?, &args.config).await?;
    if config.organization.is_some() {
        connect(&mut config).await?;
    }
    let mut stdout = std::io::stdout().lock();
    match args.output {
        AccountsOutput::Json => {
            let accounts: Vec<serde_json::Value> = config
                .accounts
                .iter()
                .map(|a| {
                    serde_json::json!({
                        "id": a.id, "alias": a.alias, "region": a.region,
                        "role": a.role_arn, "tags": a.tags,
                    })
                })
                .collect();
            writeln!(stdout, "{}", serde_json::to_string_pretty(&accounts)?)?;
        }
        AccountsOutput::Toml => {
            writeln!(
                stdout,
                "# {} account(s) as listed for {}; paste into the config to pin or override them.",
                config.accounts.len(),
                config.path.display()
            )?;
            for account in &config.accounts {
                let quoted = |text: &str| toml::Value::String(text.to_owned()).to_string();
                writeln!(stdout, "\n[[account]]")?;
                writeln!(stdout, "id = {}", quoted(&account.id))?;
                writeln!(stdout, "alias = {}", quoted(&account.alias))?;
                if !account.inherits_region {
                    writeln!(stdout, "region = {}", quoted(&account.region))?;
                }
                if let Some(role) = &account.role_arn {
                    writeln!(stdout, "role = {}", quoted(role))?;
                }
                if !account.tags.is_empty() {
                    let tags: Vec<String> = account
                        .tags
                        .iter()
                        .map(|(k, v)| format!("{} = {}", quoted(k), quoted(v)))
                        .collect();
                    writeln!(stdout, "tags = {{ {} }}", tags.join(", "))?;
                }
            }
        }
        AccountsOutput::Table => {
            for account in &config.accounts {
                let tags: Vec<String> = account
                    .tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                writeln!(
                    stdout,
                    "{}  {:<24} {:<14} {}",
                    inert(&account.id),
                    inert(&account.alias),
                    inert(&account.region),
                    inert(&tags.join(","))
                )?;
            }
            writeln!(stdout, "{} account(s)", config.accounts.len())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn iam(args: ConfigFile) -> Result<ExitCode, UsageError> {
    let mut config = with_home_region(load_config_file(&args)?, &args).await?;
    let BackendConfig::Aws(aws) = &config.backend else {
        return Err(UsageError(anyhow::anyhow!(
            "{}: `xacct iam` needs an [aws] section with the accounts' roles",
            config.path.display()
        )));
    };
    let principal = aws.home_principal.clone();
    // The caller's identity, or an organization's accounts, need the home identity.
    let sessions = if principal.is_none() || config.organization.is_some() {
        let path = config.path.display().to_string();
        Some(aws_sessions(&mut config, "iam").await.map_err(|UsageError(err)| {
            anyhow::anyhow!(
                "cannot tell who the home identity is or list its accounts ({err:#}); fix: set aws.home_principal in {path}"
            )
        })?)
    } else {
        None
    };
    let home = match (principal, &sessions) {
        (Some(principal), _) => principal,
        (None, Some(sessions)) => xacct::aws::iam::principal_of_caller(sessions.home_arn()),
        (None, None) => unreachable!("connected above"),
    };
    let documents = xacct::aws::iam::documents(&config, &home);
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(&documents)?
    )?;
    Ok(ExitCode::SUCCESS)
}

fn plugins(args: ConfigArgs) -> Result<ExitCode, UsageError> {
    let config = load_config(&args)?;
    warn_of_missing_plugins(&config);
    let sandbox = Sandbox::with_options(LoadOptions::for_config(&config), 1)?;
    let files = plugin_files(&config.plugins_dir)?;
    let mut stdout = std::io::stdout().lock();
    let mut all_ok = true;
    if files.is_empty() {
        writeln!(
            stdout,
            "no plugins (*.wasm) in {}",
            config.plugins_dir.display()
        )?;
    }
    // In parallel, each compile under its budget: one hostile file stalls no other.
    for ((name, _), loaded) in files.iter().zip(sandbox.load_all(&files)) {
        match loaded {
            Ok(plugin) => writeln!(
                stdout,
                "{:<24} ok     sha256:{}",
                inert(name),
                &plugin.sha256[..16]
            )?,
            Err(err) => {
                all_ok = false;
                writeln!(
                    stdout,
                    "{:<24} error  {}",
                    inert(name),
                    inert(&err.to_string())
                )?;
            }
        }
    }
    if std::io::stdout().is_terminal() {
        writeln!(stdout, "plugin directory: {}", config.plugins_dir.display())?;
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn new_plugin(args: NewArgs) -> Result<ExitCode, UsageError> {
    use xacct::scaffold::{Language, NewPlugin, create, default_sdk};
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    let new = NewPlugin {
        language: match args.lang {
            Lang::Rust => Language::Rust,
            Lang::Python => Language::Python,
            Lang::Js => Language::JavaScript,
        },
        dir: dir.clone(),
        sdk: args.sdk.unwrap_or_else(default_sdk),
        xacct: std::env::current_exe().context("cannot tell where this xacct is")?,
        name: args.name,
    };
    create(&new)?;
    let shown = dir.display();
    println!("created {shown}: build with {shown}/build.sh, test with {shown}/test.sh");
    println!(
        "its grant, to copy into the operator's config, is [plugin.{}] in {shown}/xacct.toml",
        new.name
    );
    Ok(ExitCode::SUCCESS)
}
