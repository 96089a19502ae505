//! Writes the page of a synthetic report: `synthetic-page ACCOUNTS PAGE.html [REPORT.json]`
//! (the JSON report too when a third path is given). For measuring the page at scale with
//! `browser/measure.py`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(accounts), Some(page)) = (args.first().and_then(|n| n.parse().ok()), args.get(1))
    else {
        eprintln!("usage: synthetic-page ACCOUNTS PAGE.html [REPORT.json]");
        return ExitCode::from(2);
    };
    let report = xacct_report_html::synthetic::report(accounts);
    let html = match xacct_report_html::render(&report, &Default::default()) {
        Ok(html) => html,
        Err(err) => {
            eprintln!("synthetic-page: {err}");
            return ExitCode::FAILURE;
        }
    };
    let written = std::fs::write(page, &html).and_then(|()| match args.get(2) {
        Some(path) => std::fs::write(path, report.to_string()),
        None => Ok(()),
    });
    if let Err(err) = written {
        eprintln!("synthetic-page: {err}");
        return ExitCode::FAILURE;
    }
    println!("{page}: {accounts} accounts, {} bytes", html.len());
    ExitCode::SUCCESS
}
