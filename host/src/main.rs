//! The `xacct` command line.
//!
//! Exit codes: 0 every account succeeded; 1 some account failed (or, for `plugins`, some
//! plugin failed its check); 2 a config or usage error.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use xacct::capability::error_message;
use xacct::config::{BackendConfig, Config};
use xacct::credentials::{SessionSpec, Sessions};
use xacct::pipeline::{self, RunRequest, Service};
use xacct::plan::Mode;
use xacct::sandbox::{Sandbox, plugin_files};

/// Run WebAssembly plugins across many AWS accounts; the plugins never hold credentials.
#[derive(Parser)]
#[command(name = "xacct", version, about)]
struct Cli {
    /// Log format on stderr (filter with RUST_LOG, e.g. RUST_LOG=debug).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
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
}

#[derive(Args)]
struct ConfigFile {
    /// Config file [default: $XACCT_CONFIG, else ./xacct.toml].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct CheckArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
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
    /// Report format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Table,
    Json,
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
    init_logging(cli.log_format);
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
            Command::Run(args) => run(args).await,
            Command::Plugins(args) => plugins(args),
            Command::Check(args) => check(args).await,
            Command::Iam(args) => iam(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(UsageError(err)) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == LogFormat::Json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Loads the config and applies the command-line overrides.
fn load_config(args: &ConfigArgs) -> Result<Config, UsageError> {
    let mut config = load_config_file(&args.file)?;
    if let Some(dir) = &args.plugins {
        config.plugins_dir = dir.clone();
    }
    if let Some(root) = &args.local_root {
        config.backend = BackendConfig::Local { root: root.clone() };
    }
    Ok(config)
}

fn load_config_file(args: &ConfigFile) -> Result<Config, UsageError> {
    let path = Config::locate(args.config.as_deref())?;
    Ok(Config::load(&path)?)
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

/// The compiled-plugin cache: the config's `cache_dir`, else the user's cache directory.
fn cache_dir(config: &Config) -> Option<PathBuf> {
    config.cache_dir.clone().or_else(|| {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
            .map(|dir| dir.join("xacct"))
    })
}

async fn run(args: RunArgs) -> Result<ExitCode, UsageError> {
    let config = load_config(&args.config)?;
    serde_json::from_str::<serde_json::Value>(&args.input)
        .context("--input is not valid JSON; fix: quote it for your shell, e.g. --input '{\"key\": \"value\"}'")?;
    let sandbox = Arc::new(Sandbox::new(cache_dir(&config))?);
    let service = Service::connect(&config, None).await?;
    let request = RunRequest {
        plugin: args.plugin,
        input: args.input,
        mode: if args.all_accounts {
            Mode::AllAccounts
        } else {
            Mode::PerAccount
        },
    };
    let report = pipeline::run(&config, &sandbox, &service, &request).await?;
    if report.entries.is_empty() && report.notes.is_empty() {
        eprintln!(
            "no account in scope: add [[account]] entries to {}",
            config.path.display()
        );
    }
    let mut stdout = std::io::stdout().lock();
    let written = match args.output {
        Output::Json => report.write_json(&mut stdout),
        Output::Table => report.write_table(&mut stdout),
    }
    .and_then(|()| stdout.flush());
    // A reader that stopped early (`| head`) is not an error of the run.
    if let Err(err) = written
        && err.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(err.into());
    }
    Ok(if report.all_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn check(args: CheckArgs) -> Result<ExitCode, UsageError> {
    let config = load_config_file(&args.config)?;
    let sessions = aws_sessions(&config, "check").await?;
    let checks = config.accounts.iter().map(|account| {
        let sessions = sessions.clone();
        async move {
            let session = sessions
                .session(&account.id, &SessionSpec::host("check"))
                .await?;
            session.caller_arn().await
        }
    });
    let results = futures::future::join_all(checks).await;
    let rows: Vec<serde_json::Value> = config
        .accounts
        .iter()
        .zip(&results)
        .map(|(account, result)| match result {
            Ok(arn) => serde_json::json!({"account_id": account.id, "alias": account.alias, "status": "ok", "assumed_role_arn": arn}),
            Err(err) => serde_json::json!({"account_id": account.id, "alias": account.alias, "status": "error", "error": error_message(err)}),
        })
        .collect();
    let mut stdout = std::io::stdout().lock();
    match args.output {
        Output::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&rows)?)?,
        Output::Table => {
            for row in &rows {
                let detail = row
                    .get("assumed_role_arn")
                    .or(row.get("error"))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                writeln!(
                    stdout,
                    "{}  {:<16} {:<6} {detail}",
                    row["account_id"].as_str().unwrap_or_default(),
                    row["alias"].as_str().unwrap_or_default(),
                    row["status"].as_str().unwrap_or_default()
                )?;
            }
        }
    }
    Ok(if results.iter().all(Result::is_ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn iam(args: ConfigFile) -> Result<ExitCode, UsageError> {
    let config = load_config_file(&args)?;
    let BackendConfig::Aws(aws) = &config.backend else {
        return Err(UsageError(anyhow::anyhow!(
            "{}: `xacct iam` needs an [aws] section with the accounts' roles",
            config.path.display()
        )));
    };
    let home = match &aws.home_principal {
        Some(principal) => principal.clone(),
        None => {
            let caller = aws_sessions(&config, "iam").await?.home_caller_arn().await.map_err(|err| {
                anyhow::anyhow!(
                    "cannot tell who the home identity is ({}); fix: set aws.home_principal in {}",
                    error_message(&err),
                    config.path.display()
                )
            })?;
            xacct::iam::principal_of_caller(&caller)
        }
    };
    let documents = xacct::iam::documents(&config, &home);
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(&documents)?
    )?;
    Ok(ExitCode::SUCCESS)
}

fn plugins(args: ConfigArgs) -> Result<ExitCode, UsageError> {
    let config = load_config(&args)?;
    let sandbox = Sandbox::new(cache_dir(&config))?;
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
    for (name, path) in files {
        match sandbox.load(&name, &path) {
            Ok(plugin) => writeln!(stdout, "{name:<24} ok     sha256:{}", &plugin.sha256[..16])?,
            Err(err) => {
                all_ok = false;
                writeln!(stdout, "{name:<24} error  {err}")?;
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
