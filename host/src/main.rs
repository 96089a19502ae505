//! The `xacct` command line: parse the arguments, start logging, run the command
//! (`xacct::cli`), and exit with its code (see `xacct::cli` for what each means).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use xacct::cli::args::{Cli, LogFormat};
use xacct::cli::{UsageError, dispatch};
use xacct::logging;
use xacct::terminal::stderr::error_lines;
use xacct::terminal::stop::STDOUT_CLOSED;
use xacct::terminal::{ColorChoice, Stderr};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.color);
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
    match runtime.block_on(dispatch(cli.command, cli.color)) {
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
            // Errors quote what files, plugins and Organizations names hold: inert, as
            // the table is, so nothing in them reaches the terminal as a control code.
            let _ = writeln!(
                std::io::stderr(),
                "error: {}",
                error_lines(&format!("{err:#}"))
            );
            ExitCode::from(2)
        }
    }
}

/// Logs to stderr, beneath the progress bar, as text (coloured on a terminal) or JSON.
fn init_logging(format: LogFormat, color: ColorChoice) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(logging::filter())
        .with_ansi(color.colour(std::io::stderr().is_terminal()))
        .with_writer(Stderr);
    if format == LogFormat::Json {
        builder.json().init();
    } else {
        builder.init();
    }
}
