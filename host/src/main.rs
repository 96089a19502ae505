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
use xacct::config::{BackendConfig, Config, ConfigError};
use xacct::aws::{SessionSpec, Sessions};
use xacct::config::tags_in_use;
use xacct::pipeline::{self, Progress, RunRequest, Service};
use xacct::plan::{Mode, Plan, Selection};
use xacct::policy::Grant;
use xacct::report::text::inert;
use xacct::report::terminal::{self, ColorChoice};
use xacct::report::{Entry, Look, Report, private};
use xacct::sandbox::{LoadOptions, Sandbox, plugin_files};

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
    Run(RunArgs),
    /// List the plugins in the plugin directory and whether each fits the xacct world.
    Plugins(ConfigArgs),
    /// Assume every configured account's role and print the assumed-role ARN (AWS).
    Check(CheckArgs),
    /// Print the IAM policies the config needs: the home identity's and each role's trust.
    Iam(ConfigFile),
    /// Create a plugin project: source, build script, a config with its grant, sample
    /// data and a test.
    New(NewArgs),
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
        if selection != Selection::default()
            && !config.accounts.iter().any(|a| selection.selects(a))
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
            Command::Run(args) => run(args, color).await,
            Command::Plugins(args) => plugins(args),
            Command::Check(args) => check(args).await,
            Command::Iam(args) => iam(args).await,
            Command::New(args) => new_plugin(args),
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
async fn aws_sessions(config: &Config, command: &str) -> Result<Arc<Sessions>, UsageError> {
    match Service::connect(config, None).await? {
        Service::Aws(sessions) => Ok(sessions),
        Service::Local(_) | Service::Custom(_) => Err(UsageError(anyhow::anyhow!(
            "{}: `xacct {command}` needs an [aws] section (the local backend assumes no roles)",
            config.path.display()
        ))),
    }
}

async fn run(args: RunArgs, color: ColorChoice) -> Result<ExitCode, UsageError> {
    let mut config = with_home_region(load_config(&args.config)?, &args.config.file).await?;
    serde_json::from_str::<serde_json::Value>(&args.input)
        .context("--input is not valid JSON; fix: quote it for your shell, e.g. --input '{\"key\": \"value\"}'")?;
    if let Some(concurrency) = args.concurrency {
        config.concurrency = usize::from(concurrency);
    }
    let selection = args.selection.validate(&config)?;
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
    let plan = pipeline::plan(&config, &request);
    if plan.accounts.is_empty()
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
        // As `run` would: no account to run is a failed run.
        return Ok(if plan.accounts.is_empty() {
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
    let service = Service::connect(&config, None).await?;
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
    } else if report.all_ok() {
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
    let config = with_home_region(load_config_file(&args.config)?, &args.config).await?;
    let selection = args.selection.validate(&config)?;
    warn_of_missing_plugins(&config);
    let sessions = aws_sessions(&config, "check").await?;
    let accounts: Vec<_> = config
        .accounts
        .iter()
        .filter(|a| selection.selects(a))
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

async fn iam(args: ConfigFile) -> Result<ExitCode, UsageError> {
    let config = with_home_region(load_config_file(&args)?, &args).await?;
    let BackendConfig::Aws(aws) = &config.backend else {
        return Err(UsageError(anyhow::anyhow!(
            "{}: `xacct iam` needs an [aws] section with the accounts' roles",
            config.path.display()
        )));
    };
    let home = match &aws.home_principal {
        Some(principal) => principal.clone(),
        None => {
            let sessions = aws_sessions(&config, "iam").await.map_err(|UsageError(err)| {
                anyhow::anyhow!(
                    "cannot tell who the home identity is ({err:#}); fix: set aws.home_principal in {}",
                    config.path.display()
                )
            })?;
            xacct::aws::iam::principal_of_caller(sessions.home_arn())
        }
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
