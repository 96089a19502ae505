//! What an install gives an operator besides `run`: `--version` (the version, the commit,
//! the wasmtime), shell completions and a man page generated from the command line itself.
//! (The README's install command itself is checked from a clean clone by `.ci/run`: a
//! build from scratch takes minutes.)

use crate::common;

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
    assert!(man.contains(".TH xacct 1"), "{man}");
    for command in ["run", "report", "completions", "man", "plugins"] {
        assert!(man.contains(command), "the man page names {command}");
    }
}
