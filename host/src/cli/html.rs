//! The run as a page: `xacct run --html FILE` (the logs from the run's own entries) and
//! `xacct report html REPORT.json` (a run's, a shard's or a merged report; the logs read
//! from the run's `--out-dir`). The page itself is `xacct-report-html`'s.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use xacct_core::config::accounts::is_account_id;
use xacct_core::report::private;
use xacct_core::report::{ALL_ACCOUNTS, Entry, Report};
use xacct_report_html::{LOG_BYTES, Options, render};

use super::args::HtmlArgs;
use super::error::UsageError;
use super::load::read_report;

/// What a plugin printed, as `plugin.log` of `--out-dir` holds it.
pub fn plugin_log(entry: &Entry) -> String {
    format!("== stdout\n{}== stderr\n{}", entry.stdout, entry.stderr)
}

/// The directory of an entry's files under `--out-dir`'s plugin directory.
pub fn entry_dir_name(account_id: &str) -> &str {
    if account_id == ALL_ACCOUNTS {
        "all-accounts"
    } else {
        account_id
    }
}

/// `--html FILE`: the page of a run that just ended, with what each plugin printed.
pub fn write_run_page(path: &Path, report: &Report) -> Result<(), UsageError> {
    let json = serde_json::to_value(report)?;
    let logs = report
        .entries
        .iter()
        .filter(|entry| !entry.stdout.is_empty() || !entry.stderr.is_empty())
        .map(|entry| (entry.account_id.clone(), plugin_log(entry)))
        .collect();
    let options = Options {
        logs,
        report_path: None,
    };
    write_page(path, &json, &options).with_context(|| format!("--html {}", path.display()))?;
    Ok(())
}

/// `xacct report html`: the page of a JSON report, written owner-only; its path on
/// stderr.
pub fn report_html(args: &HtmlArgs) -> Result<ExitCode, UsageError> {
    let report = read_report(&args.report)?;
    let logs = match &args.out_dir {
        Some(dir) => {
            read_logs(dir, &report).with_context(|| format!("--out-dir {}", dir.display()))?
        }
        None => BTreeMap::new(),
    };
    let options = Options {
        logs,
        report_path: Some(args.report.display().to_string()),
    };
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| args.report.with_extension("html"));
    if output == args.report {
        return Err(UsageError(anyhow::anyhow!(
            "{}: the page would overwrite the report; fix: pass -o FILE.html",
            output.display()
        )));
    }
    write_page(&output, &report, &options)
        .map_err(|err| UsageError(anyhow::anyhow!("{}: {err:#}", args.report.display())))?;
    eprintln!("wrote {}", output.display());
    Ok(ExitCode::SUCCESS)
}

fn write_page(path: &Path, report: &serde_json::Value, options: &Options) -> anyhow::Result<()> {
    let page = render(report, options)?;
    private::write(path, page.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Each entry's `DIR/<plugin>/<account>/plugin.log`, read bounded, by account id. The
/// report names the plugin and the accounts, and a report is untrusted: a name that is
/// not one path component (a plugin) or not an account id is not looked up, and only
/// regular files are read (a FIFO would never end).
fn read_logs(dir: &Path, report: &serde_json::Value) -> anyhow::Result<BTreeMap<String, String>> {
    let mut logs = BTreeMap::new();
    let Some(plugin) = report["plugin"]
        .as_str()
        .filter(|name| is_one_component(name))
    else {
        return Ok(logs);
    };
    let plugin_dir = dir.join(plugin);
    anyhow::ensure!(
        plugin_dir.is_dir(),
        "no directory {} (the --out-dir of a run of {plugin:?})",
        plugin_dir.display()
    );
    let entries = report["entries"].as_array().into_iter().flatten();
    for account in entries.filter_map(|entry| entry["account_id"].as_str()) {
        if account != ALL_ACCOUNTS && !is_account_id(account) {
            continue;
        }
        let path: PathBuf = plugin_dir.join(entry_dir_name(account)).join("plugin.log");
        if let Some(log) = read_bounded(&path)? {
            logs.insert(account.to_owned(), log);
        }
    }
    Ok(logs)
}

fn is_one_component(name: &str) -> bool {
    let mut components = Path::new(name).components();
    matches!(
        (components.next(), components.next()),
        (Some(Component::Normal(_)), None)
    )
}

/// A regular file's text, at most [`LOG_BYTES`] of it: the first quarter and the last
/// three quarters, and how much was left out between them. `None` when there is no
/// regular file at `path`.
fn read_bounded(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_file() => {}
        Ok(_) => return Ok(None),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let size = file.metadata()?.len();
        let limit = LOG_BYTES as u64;
        if size <= limit {
            let mut bytes = Vec::with_capacity(size as usize);
            file.take(limit).read_to_end(&mut bytes)?;
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
        let (head_bytes, tail_bytes) = (limit / 4, limit - limit / 4);
        let mut head = Vec::new();
        (&mut file).take(head_bytes).read_to_end(&mut head)?;
        file.seek(SeekFrom::Start(size - tail_bytes))?;
        let mut tail = Vec::new();
        file.take(tail_bytes).read_to_end(&mut tail)?;
        Ok(format!(
            "{}\n… {} bytes left out here (the whole log is {}) …\n{}",
            String::from_utf8_lossy(&head),
            size - head_bytes - tail_bytes,
            path.display(),
            String::from_utf8_lossy(&tail)
        ))
    };
    read()
        .map(Some)
        .with_context(|| format!("cannot read {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_names_are_looked_up() {
        assert!(is_one_component("inventory"));
        for name in ["", ".", "..", "../x", "a/b", "/etc"] {
            assert!(!is_one_component(name), "{name:?}");
        }
    }

    #[test]
    fn a_long_log_is_read_bounded_head_and_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugin.log");
        let log = format!("{}{}", "start\n".repeat(100_000), "the end\n");
        std::fs::write(&path, &log).unwrap();
        let read = read_bounded(&path).unwrap().unwrap();
        assert!(read.len() < LOG_BYTES + 200, "{}", read.len());
        assert!(read.starts_with("start\n") && read.ends_with("the end\n"));
        assert!(read.contains("bytes left out here"));
        std::fs::write(&path, "short").unwrap();
        assert_eq!(read_bounded(&path).unwrap().as_deref(), Some("short"));
        assert_eq!(read_bounded(&dir.path().join("none")).unwrap(), None);
        assert_eq!(
            read_bounded(dir.path()).unwrap(),
            None,
            "a directory is no log"
        );
    }
}
