//! What an install gives an operator besides `run`: `--version` (the version, the commit,
//! the wasmtime), shell completions and a man page generated from the command line itself.
//! (The README's install command itself is checked from a clean clone by `.ci/run`: a
//! build from scratch takes minutes.)

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::Xacct;

fn xacct(args: &[&str]) -> common::cli::Outcome {
    let dir = tempfile::tempdir().unwrap();
    let output = Xacct::in_dir(dir.path()).args(args).output();
    assert!(output.success(), "{args:?}: {output:?}");
    output
}

#[test]
fn version_names_the_commit_and_the_wasmtime() {
    let version = xacct(&["--version"]).stdout;
    let lock = include_str!("../../../Cargo.lock");
    let wasmtime = lock
        .split("name = \"wasmtime\"\nversion = \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap();
    let commit = if head.trim().is_empty() {
        "unknown"
    } else {
        head.trim()
    };
    assert_eq!(
        version.trim(),
        format!(
            "xacct {} (commit {commit}, wasmtime {wasmtime})",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn completions_and_the_man_page_cover_every_command() {
    for (shell, marker) in [
        ("bash", "_xacct()"),
        ("zsh", "#compdef xacct"),
        ("fish", "complete -c xacct"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = xacct(&["completions", shell]).stdout;
        assert!(script.contains(marker), "{shell}: {script}");
        for word in ["run", "merge", "html", "shard", "rerun-failed"] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    let refused = Xacct::in_dir(std::env::temp_dir().as_path())
        .args(["completions", "tcsh"])
        .output();
    assert_eq!(refused.code(), Some(2), "{refused:?}");
    let man = xacct(&["man"]).stdout;
    let title = format!(".TH xacct 1  \"xacct {}\"", env!("CARGO_PKG_VERSION"));
    assert!(man.contains(&title), "{man}");
    for command in ["run", "report", "completions", "man", "plugins"] {
        assert!(man.contains(command), "the man page names {command}");
    }
    // A page per command, each with its own options: `man xacct-run`.
    let pages = tempfile::tempdir().unwrap();
    let dir = pages.path().join("man1");
    let written = xacct(&["man", "--dir", dir.to_str().unwrap()]).stdout;
    assert_eq!(
        written.lines().count(),
        std::fs::read_dir(&dir).unwrap().count()
    );
    // Every page's footer, as man shows it, when man is installed.
    for page in std::fs::read_dir(&dir).unwrap() {
        let path = page.unwrap().path();
        let shown = Command::new("man")
            .arg("-l")
            .arg(&path)
            .env("MANWIDTH", "80")
            .env("MAN_KEEP_FORMATTING", "")
            .output();
        if let Some(shown) = shown.ok().filter(|shown| shown.status.success()) {
            let text = String::from_utf8_lossy(&shown.stdout);
            let footer = text
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty())
                .unwrap();
            assert!(
                footer.contains(&format!("xacct {}", env!("CARGO_PKG_VERSION"))),
                "{}: {footer:?}",
                path.display()
            );
        }
    }
    // Every subcommand has the version (`xacct run --version`).
    let run = xacct(&["run", "--version"]).stdout;
    assert!(
        run.starts_with(&format!("xacct-run {}", env!("CARGO_PKG_VERSION"))),
        "{run}"
    );
    for (page, options) in [
        (
            "xacct-run.1",
            &["\\-\\-shard", "\\-\\-html", "\\-\\-rerun\\-failed"][..],
        ),
        ("xacct-report-html.1", &["\\-\\-out\\-dir"]),
        ("xacct-report-merge.1", &[]),
    ] {
        let path = dir.join(page);
        assert!(written.contains(path.to_str().unwrap()), "{written}");
        let text = std::fs::read_to_string(&path).unwrap();
        // The footer names xacct and its version, not the subcommand again.
        let title = format!(
            ".TH {} 1  \"xacct {}\"",
            page.trim_end_matches(".1"),
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.contains(&title), "{title:?} in {text}");
        for option in options {
            assert!(text.contains(option), "{page} documents {option}");
        }
    }
}

/// `scripts/package` from the binaries this test run built (`--from`; the release build
/// is the same code): the tarball unpacks to a binary that answers `--version`, with the
/// README, the LICENSE, the completions and the man page beside it; the Lambda zip holds
/// `bootstrap`, a config, and plugins compiled ahead that a run uses as they are.
#[test]
fn the_release_tarball_and_the_lambda_zip_unpack_and_run() {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let binaries = std::path::Path::new(env!("CARGO_BIN_EXE_xacct"))
        .parent()
        .unwrap();
    let dist = tempfile::tempdir().unwrap();
    let packaged = Command::new(workspace.join("scripts/package"))
        .arg("--out")
        .arg(dist.path())
        .arg("--from")
        .arg(binaries)
        .output()
        .unwrap();
    assert!(packaged.status.success(), "{packaged:?}");
    let paths = String::from_utf8(packaged.stdout).unwrap();
    let (tarball, zip) = paths.trim().split_once('\n').unwrap();

    let unpacked = tempfile::tempdir().unwrap();
    let untar = Command::new("tar")
        .args(["-xzf", tarball, "-C"])
        .arg(unpacked.path())
        .status()
        .unwrap();
    assert!(untar.success());
    let name = Path::new(tarball)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches(".tar.gz");
    let root = unpacked.path().join(name);
    for file in [
        "README.md",
        "LICENSE",
        "completions/xacct.bash",
        "completions/_xacct",
        "completions/xacct.fish",
        "completions/_xacct.ps1",
        "man/man1/xacct.1",
        "man/man1/xacct-run.1",
        "man/man1/xacct-report-html.1",
    ] {
        assert!(root.join(file).is_file(), "the tarball has {file}");
    }
    let installed = root.join("bin/xacct");
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("xacct "));

    let lambda = tempfile::tempdir().unwrap();
    let unzip = Command::new("unzip")
        .args(["-q", zip, "-d"])
        .arg(lambda.path())
        .status()
        .unwrap();
    assert!(unzip.success());
    assert!(
        std::fs::metadata(lambda.path().join("bootstrap"))
            .unwrap()
            .permissions()
            .mode()
            & 0o111
            != 0,
        "bootstrap is executable"
    );
    // Every plugin its config grants is in the package: none warned of as missing.
    let plugins = Xacct::in_dir(lambda.path())
        .env("XDG_CACHE_HOME", lambda.path().join("xacct-cache"))
        .env("XDG_STATE_HOME", lambda.path().join("xacct-state"))
        .args(["plugins"])
        .output();
    assert!(plugins.success(), "{plugins:?}");
    for plugin in ["hello", "inventory", "posture", "replicate"] {
        assert!(
            lambda
                .path()
                .join(format!("plugins/{plugin}.wasm"))
                .is_file(),
            "{plugin}"
        );
    }
    assert!(
        !plugins.stderr.contains("not in plugins"),
        "{}",
        plugins.stderr
    );
    // A local run of the unpacked package's config, with its compiled plugins.
    let run = Xacct::in_dir(lambda.path())
        .env("XDG_CACHE_HOME", lambda.path().join("xacct-cache"))
        .env("XDG_STATE_HOME", lambda.path().join("xacct-state"))
        .args(["run", "hello", "--output", "json"])
        .output();
    assert!(run.success(), "{run:?}");
    assert_eq!(run.json()["entries"].as_array().unwrap().len(), 3);
    let mut run = Command::new(&installed);
    run.current_dir(lambda.path())
        .args(["run", "inventory", "--output", "json"]);
    assert!(
        run.output().unwrap().status.success(),
        "the tarball's xacct runs the package"
    );
}
