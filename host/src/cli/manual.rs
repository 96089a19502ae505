//! `xacct completions SHELL` and `xacct man`: generated from the same clap definition the
//! command line parses with, so they cannot drift from it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

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
    man(Cli::command()).render(&mut page)?;
    std::io::stdout().lock().write_all(&page)?;
    Ok(ExitCode::SUCCESS)
}

/// The page of `command`, its footer naming xacct and its version (`xacct 0.1.0`), for
/// every page alike: clap_mangen would put a subcommand's own name and version there.
fn man(command: clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(command).source(format!("xacct {}", env!("CARGO_PKG_VERSION")))
}

/// One man page per command and subcommand in `dir` (created if missing), named as
/// clap_mangen names them (`xacct-report-html.1`), each path on stdout. They are
/// documentation, created as any file is (the umask decides), not owner-only like what
/// a run writes: a system-wide install must be readable by every user.
pub fn man_pages(dir: &Path) -> Result<ExitCode, UsageError> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // As `clap_mangen::generate_to` walks the commands, keeping the paths it writes.
    fn write(command: clap::Command, dir: &Path, pages: &mut Vec<PathBuf>) -> io::Result<()> {
        for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
            write(sub.clone(), dir, pages)?;
        }
        pages.push(man(command).generate_to(dir)?);
        Ok(())
    }
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let mut pages = Vec::new();
    write(command, dir, &mut pages)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    pages.sort();
    let mut out = std::io::stdout().lock();
    for page in pages {
        writeln!(out, "{}", page.display())?;
    }
    Ok(ExitCode::SUCCESS)
}
