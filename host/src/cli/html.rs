//! The run as a page: `xacct run --html FILE` (the logs from the run's own entries) and
//! `xacct report html REPORT.json` (a run's, a shard's or a merged report; the logs read
//! from the run's `--out-dir`). The page itself is `xacct-report-html`'s.

mod log;

use std::collections::BTreeMap;
use std::fs::{File, Metadata};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use xacct_core::config::accounts::is_account_id;
use xacct_core::report::private;
use xacct_core::report::{ALL_ACCOUNTS, Entry, Report};
use xacct_report_html::{Options, render};

use super::args::HtmlArgs;
use super::error::UsageError;
use super::load::read_report_file;
use log::{PRINTED_NOTHING, read_bounded};

/// What a plugin printed, as `plugin.log` of `--out-dir` holds it.
pub fn plugin_log(entry: &Entry) -> String {
    plugin_log_of(&entry.stdout, &entry.stderr)
}

fn plugin_log_of(stdout: &str, stderr: &str) -> String {
    format!("== stdout\n{stdout}== stderr\n{stderr}")
}

/// A plugin log as the page shows it: one of a plugin that printed nothing says so.
fn page_log(log: String) -> String {
    if log == plugin_log_of("", "") {
        PRINTED_NOTHING.to_owned()
    } else {
        log
    }
}

/// The directory of an entry's files under `--out-dir`'s plugin directory.
pub fn entry_dir_name(account_id: &str) -> &str {
    if account_id == ALL_ACCOUNTS {
        "all-accounts"
    } else {
        account_id
    }
}

/// `--html FILE`, opened before the run starts (as `--audit` is), so that a page that
/// could not be written fails the run before anything runs: a path that cannot be
/// created, is not a regular file (a FIFO is not waited on), is one of the files the run
/// keeps (the `--audit` file, the `--rerun-failed` report, the file stdout writes the
/// report to), or lies where the run writes in `--out-dir` (`DIR/<plugin>/`). It is written once the
/// report is out; a page this run created and never wrote (the run failed before its
/// end) is removed, not left empty.
pub struct RunPage {
    path: PathBuf,
    file: File,
    created: bool,
    written: bool,
}

impl Drop for RunPage {
    fn drop(&mut self) {
        if self.created && !self.written {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl RunPage {
    pub fn open(
        path: &Path,
        kept: &[KeptFile],
        out_dir: Option<&Path>,
        plugin: &str,
    ) -> Result<RunPage, UsageError> {
        let refuse = |why: String| {
            UsageError(anyhow::anyhow!(
                "--html {}: {why}; fix: name another file for the page",
                path.display()
            ))
        };
        if let Some(dir) = out_dir {
            let written = resolved(&dir.join(plugin));
            let page = resolved(path);
            if page.starts_with(&written) || written.starts_with(&page) {
                return Err(refuse(format!(
                    "it lies in {}, where the run writes (--out-dir {})",
                    written.display(),
                    dir.display()
                )));
            }
        }
        let created = std::fs::symlink_metadata(path).is_err();
        let file = private::open_regular(path)
            .with_context(|| format!("--html {}: cannot write it", path.display()))?;
        let page = file.metadata()?;
        if let Some(kept) = kept.iter().find(|kept| same_file(&page, &kept.metadata)) {
            return Err(refuse(format!("it is {}", kept.what)));
        }
        Ok(RunPage {
            path: path.to_owned(),
            file,
            created,
            written: false,
        })
    }

    /// The page of the run that just ended, with what each plugin printed.
    pub fn write(mut self, report: &Report) -> Result<(), UsageError> {
        let json = serde_json::to_value(report)?;
        let logs = report
            .entries
            .iter()
            .map(|entry| (entry.account_id.clone(), page_log(plugin_log(entry))))
            .collect();
        let options = Options {
            logs,
            report_path: None,
        };
        let page = render(&json, &options)?;
        private::replace(&mut self.file, page.as_bytes())
            .with_context(|| format!("--html {}: cannot write it", self.path.display()))?;
        self.written = true;
        Ok(())
    }
}

/// `path` absolute, with the links of the part that exists resolved: the file it names,
/// or will once created.
fn resolved(path: &Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut existing = path;
    loop {
        if let Ok(real) = existing.canonicalize() {
            return missing
                .iter()
                .rev()
                .fold(real, |path, name| path.join(name));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name);
                existing = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
            }
            _ => return path.to_owned(),
        }
    }
}

/// A file the run reads or writes that nothing else of the run may write over.
pub struct KeptFile {
    /// What it is, as a refusal names it (`the --audit file a.jsonl`).
    pub what: String,
    pub metadata: Metadata,
}

pub fn same_file(a: &Metadata, b: &Metadata) -> bool {
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

/// `xacct report html`: the page of a JSON report, written owner-only; its path on
/// stderr (`-o -`: the page on stdout). The page is written only to a regular file (a FIFO is not waited on), and
/// never over the report itself, whatever name or link `-o` gives it.
pub fn report_html(args: &HtmlArgs) -> Result<ExitCode, UsageError> {
    let (report, report_file) = read_report_file(&args.report)?;
    let logs = match &args.out_dir {
        Some(dir) => {
            read_logs(dir, &report).with_context(|| format!("--out-dir {}", dir.display()))?
        }
        None => BTreeMap::new(),
    };
    // The copied `--rerun-failed` command names the report absolute, so that it runs
    // from any directory.
    let absolute = (args.report.canonicalize())
        .or_else(|_| std::path::absolute(&args.report))
        .unwrap_or_else(|_| args.report.clone());
    let options = Options {
        logs,
        report_path: Some(absolute.display().to_string()),
    };
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| args.report.with_extension("html"));
    let page = render(&report, &options)
        .map_err(|err| UsageError(anyhow::anyhow!("{}: {err:#}", args.report.display())))?;
    if output == Path::new("-") {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(page.as_bytes())
            .and_then(|()| stdout.flush())
            .context("cannot write the page to stdout")?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut file = private::open_regular(&output)
        .with_context(|| format!("cannot write {}", output.display()))?;
    if same_file(&file.metadata()?, &report_file) {
        return Err(UsageError(anyhow::anyhow!(
            "{}: it is the report {} (the same file, by another name or a link); the page would overwrite it; fix: pass -o FILE.html",
            output.display(),
            args.report.display()
        )));
    }
    private::replace(&mut file, page.as_bytes())
        .with_context(|| format!("cannot write {}", output.display()))?;
    eprintln!("wrote {}", output.display());
    Ok(ExitCode::SUCCESS)
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
            logs.insert(account.to_owned(), page_log(log));
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
}
