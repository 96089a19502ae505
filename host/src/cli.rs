//! The `xacct` command line: one module per command, their arguments apart ([`args`]),
//! what they share ([`load`]), and the rows they print ([`rows`]).
//!
//! Exit codes: 0 every account succeeded; 1 some account failed (or, for `plugins`, some
//! plugin failed its check); 2 a config or usage error; 129, 130, 143 the run was stopped
//! by SIGHUP, SIGINT, SIGTERM (128 + the signal, as a shell reports a process it killed);
//! 141 stdout was closed before the run's end (`| head`).

mod accounts;
pub mod args;
mod check;
mod declared;
mod error;
mod html;
mod iam;
mod load;
mod manual;
mod metadata;
mod new;
mod plugins;
mod report;
mod rows;
mod run;
mod sign;

use std::process::ExitCode;

use args::{Command, GrantCommand, PluginCommand, ReportCommand};

use crate::terminal::ColorChoice;

pub use args::Language;
pub use error::UsageError;
pub use new::{NewPlugin, ScaffoldError, create, default_sdk};

/// Runs `command`.
pub async fn dispatch(command: Command, color: ColorChoice) -> Result<ExitCode, UsageError> {
    match command {
        Command::Run(args) => run::run(*args, color).await,
        Command::Plugins(args) => plugins::plugins(args),
        Command::Check(args) => check::check(args).await,
        Command::Iam(args) => iam::iam(args).await,
        Command::Accounts(args) => accounts::accounts(args).await,
        Command::New(args) => new::new_plugin(args),
        Command::Report(ReportCommand::Merge { reports }) => report::merge_reports(&reports),
        Command::Report(ReportCommand::Html(args)) => html::report_html(&args),
        Command::Completions { shell } => manual::completions(shell),
        Command::Man { dir: None } => manual::man_page(),
        Command::Man { dir: Some(dir) } => manual::man_pages(&dir),
        Command::Sign(args) => sign::sign_plugin(args),
        Command::Verify(args) => sign::verify_plugin(args),
        Command::Plugin(PluginCommand::Annotate { grant, plugin }) => {
            declared::annotate_plugin(&grant, &plugin)
        }
        Command::Grant(GrantCommand::Suggest { plugin, config }) => {
            declared::suggest_grant(&plugin, &config)
        }
    }
}
