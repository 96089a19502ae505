//! `xacct completions SHELL` and `xacct man`: generated from the same clap definition the
//! command line parses with, so they cannot drift from it.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use super::args::Cli;
use super::error::UsageError;

/// The completion script for `shell` on stdout.
pub fn completions(shell: Shell) -> Result<ExitCode, UsageError> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "xacct", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// The man page, as roff, on stdout: every command with its options, each subcommand
/// named in it (`xacct run --help` has the rest).
pub fn man_page() -> Result<ExitCode, UsageError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    std::io::stdout().lock().write_all(&page)?;
    Ok(ExitCode::SUCCESS)
}
