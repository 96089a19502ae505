//! Issue 17, "`xacct new` writes the host's own path unquoted": `test.sh` held
//! `xacct=${XACCT:-{{xacct}}}` with the path of the running `xacct` pasted in, so an install
//! path holding `'` or `$(...)` ran as shell when the project's test ran; and the SDK path
//! was pasted into `Cargo.toml` between double quotes, so a path holding `"` or `\` broke
//! (or rewrote) the manifest.
//!
//! Defences these need (issue 17, Deliver 7): every substituted value is shell-quoted in
//! scripts and TOML-quoted in TOML, so the generated files mean exactly the paths given;
//! names stay refused as before.
//!
//! The host runs from a copy (a hard link where the file system allows) of the `xacct`
//! binary in a directory named `o'neil's $(touch pwned) bin` — two quotes, so that the
//! command substitution stands outside them — and the Rust project depends on a copy of
//! the SDK under `sdk "quoted" \ $(touch pwned)`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common;

/// The directory of the hostile `xacct`: quotes, a command substitution, spaces.
const HOSTILE_BIN: &str = "o'neil's $(touch pwned) bin";
/// The directory of the hostile SDK copy: what breaks a TOML basic string, and more.
const HOSTILE_SDK: &str = r#"sdk "quoted" \ $(touch pwned)"#;

/// The `xacct` binary, reachable at a path under `dir` that is hostile to a shell.
fn hostile_xacct(dir: &Path) -> PathBuf {
    let bin = dir.join(HOSTILE_BIN);
    std::fs::create_dir_all(&bin).unwrap();
    let xacct = bin.join("xacct");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_xacct"), &xacct).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_xacct"), &xacct).unwrap();
    }
    xacct
}

/// The xacct-guest SDK, copied under a path hostile to TOML, with the workspace around it
/// that its manifest inherits from (the root manifest's packages and dependencies) and
/// the WIT it reads.
fn hostile_sdk(dir: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = dir.join(HOSTILE_SDK);
    copy_tree(&repo.join("guest-sdk"), &root.join("guest-sdk"));
    copy_tree(&repo.join("wit"), &root.join("wit"));
    let manifest = std::fs::read_to_string(repo.join("Cargo.toml")).unwrap();
    let mut workspace: toml::Table = toml::from_str(&manifest).unwrap();
    let section = workspace["workspace"].as_table_mut().unwrap();
    section.insert(
        "members".into(),
        toml::Value::Array(vec!["guest-sdk".into()]),
    );
    section.remove("default-members");
    std::fs::write(
        root.join("Cargo.toml"),
        toml::to_string(&workspace).unwrap(),
    )
    .unwrap();
    root.join("guest-sdk")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `xacct new NAME --lang LANG` by the hostile `xacct`, in `dir`.
fn new_project(xacct: &Path, dir: &Path, name: &str, lang: &str, sdk: Option<&Path>) -> PathBuf {
    let project = dir.join(name);
    let mut command = Command::new(xacct);
    command
        .args(["new", name, "--lang", lang, "--dir"])
        .arg(&project)
        .current_dir(dir);
    if let Some(sdk) = sdk {
        command.arg("--sdk").arg(sdk);
    }
    let created = command.output().unwrap();
    assert!(created.status.success(), "{created:?}");
    project
}

/// Files named `pwned` anywhere below `dir`: what a command substitution left.
fn pwned_below(dir: &Path) -> Vec<String> {
    common::files_below(dir)
        .into_iter()
        .filter(|file| Path::new(file).file_name().is_some_and(|n| n == "pwned"))
        .collect()
}

fn shown(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// What `test.sh` sets `xacct` to when `XACCT` is not set, the assignment run on its own
/// by bash in the project directory.
fn default_host_of(project: &Path) -> Output {
    let script = std::fs::read_to_string(project.join("test.sh")).unwrap();
    let assignment = script
        .lines()
        .find(|line| line.starts_with("xacct="))
        .unwrap_or_else(|| panic!("no xacct= line in {script}"));
    Command::new("bash")
        .arg("-c")
        .arg(format!("{assignment}\nprintf '%s' \"$xacct\""))
        .current_dir(project)
        .env_remove("XACCT")
        .output()
        .unwrap()
}

/// In every language's `test.sh`, the host's own path is one shell word that means that
/// path: nothing in it runs.
#[test]
fn the_hosts_path_is_quoted_in_every_test_script() {
    let dir = tempfile::tempdir().unwrap();
    let xacct = hostile_xacct(dir.path());
    for lang in ["rust", "python", "js"] {
        let project = new_project(&xacct, dir.path(), &format!("q-{lang}"), lang, None);
        let checked = Command::new("bash")
            .arg("-n")
            .arg(project.join("test.sh"))
            .output()
            .unwrap();
        assert!(checked.status.success(), "{lang}: {}", shown(&checked));
        let host = default_host_of(&project);
        assert_eq!(
            pwned_below(dir.path()),
            Vec::<String>::new(),
            "{lang}: the host's path ran as shell"
        );
        assert!(host.status.success(), "{lang}: {}", shown(&host));
        assert_eq!(
            String::from_utf8_lossy(&host.stdout),
            xacct.to_string_lossy(),
            "{lang}: test.sh runs another host than the one that created it"
        );
    }
}

/// A Rust project made by a host under a hostile path, against an SDK under a path
/// hostile to TOML: its manifest names that SDK, and its own test (build included, the
/// host taken from `test.sh`'s default) passes without running anything the paths hold.
#[test]
fn a_project_under_hostile_paths_builds_and_passes_its_own_test() {
    let dir = tempfile::tempdir().unwrap();
    let xacct = hostile_xacct(dir.path());
    let sdk = hostile_sdk(dir.path());
    let project = new_project(&xacct, dir.path(), "quoted", "rust", Some(&sdk));

    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    let parsed: toml::Table = toml::from_str(&manifest)
        .unwrap_or_else(|e| panic!("the generated Cargo.toml is not TOML: {e}\n{manifest}"));
    assert_eq!(
        parsed["dependencies"]["xacct-guest"]["path"].as_str(),
        Some(sdk.canonicalize().unwrap().to_str().unwrap()),
        "{manifest}"
    );
    let config = std::fs::read_to_string(project.join("xacct.toml")).unwrap();
    xacct::config::Config::parse(&config, &project.join("xacct.toml")).unwrap();

    let tested = Command::new(project.join("test.sh"))
        .env_remove("XACCT")
        .env("CARGO_TARGET_DIR", common::target_dir().join("new-plugins"))
        .output()
        .unwrap();
    assert_eq!(pwned_below(dir.path()), Vec::<String>::new());
    assert!(tested.status.success(), "{}", shown(&tested));
    assert!(String::from_utf8_lossy(&tested.stdout).contains("quoted: ok"));
}
