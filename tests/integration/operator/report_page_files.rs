//! The files of the run as a page: a report is read only from a regular file of bounded
//! size (a FIFO, /dev/zero or a huge sparse file is refused at once), a page is written
//! only to a regular file and never over the report or the audit log, `run --html` is
//! checked before anything runs and never costs the JSON report (nor does `--out-dir`),
//! and an account whose plugin printed nothing says so.

use crate::common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::cli::Outcome;
use common::{ConfigBuilder, World};
use serde_json::json;

fn id(i: u64) -> String {
    (720_000_000_000 + i).to_string()
}

/// Two local accounts.
fn world() -> World {
    let mut config = ConfigBuilder::local("data").full_grants(&["misbehave"]);
    for i in 0..2 {
        config = config.account(id(i), format!("p-{i}"));
    }
    let world = World::with_config(&["misbehave"], &config, None);
    for i in 0..2 {
        world.bucket(&id(i), "b");
    }
    world
}

/// Only account 1's plugin prints.
fn input() -> String {
    json!({"mode": "print", "only": id(1)}).to_string()
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

/// Waits at most a minute for xacct (which must not wait on a FIFO or read a device
/// without end): a hang is a failure, not a stuck test.
fn within_a_minute(mut child: Child, what: &str) -> Outcome {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{what}: still running after a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Outcome::of(child)
}

/// A run's JSON report in `r.json`.
fn a_report(world: &World) -> String {
    let run = world
        .xacct()
        .args(["run", "misbehave", "--output", "json", "--input", &input()])
        .output();
    assert!(run.success(), "{run:?}");
    std::fs::write(world.dir.path().join("r.json"), &run.stdout).unwrap();
    run.stdout
}

#[test]
fn report_html_never_writes_over_its_report_whatever_o_calls_it() {
    let world = world();
    let dir = world.dir.path();
    let report = a_report(&world);
    symlink("r.json", dir.join("link.html")).unwrap();
    std::fs::hard_link(dir.join("r.json"), dir.join("hard.html")).unwrap();
    let absolute = dir.join("r.json").display().to_string();
    for out in ["./r.json", &absolute, "link.html", "hard.html", "r.json"] {
        let output = world
            .xacct()
            .args(["report", "html", "r.json", "-o", out])
            .output();
        assert_eq!(output.code(), Some(2), "-o {out}: {output:?}");
        assert!(
            output.stderr.contains("it is the report r.json"),
            "-o {out}: {}",
            output.stderr
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("r.json")).unwrap(),
            report,
            "-o {out}: the report is intact"
        );
    }
    // Nor over a FIFO, waiting for a reader; nor into a device.
    mkfifo(&dir.join("fifo.html"));
    for out in ["fifo.html", "/dev/null"] {
        let child = world
            .xacct()
            .args(["report", "html", "r.json", "-o", out])
            .spawn();
        let output = within_a_minute(child, out);
        assert_eq!(output.code(), Some(2), "-o {out}: {output:?}");
        assert!(
            output.stderr.contains("not a regular file"),
            "-o {out}: {}",
            output.stderr
        );
    }
    let output = world
        .xacct()
        .args(["report", "html", "r.json", "-o", "page.html"])
        .output();
    assert!(output.success(), "{output:?}");
}

#[test]
fn a_report_is_read_only_from_a_regular_file_of_bounded_size() {
    let world = world();
    let dir = world.dir.path();
    mkfifo(&dir.join("fifo.json"));
    // Sparse: 600 MiB long, nothing stored; reading it would take 600 MiB.
    let huge = std::fs::File::create(dir.join("huge.json")).unwrap();
    huge.set_len(600 << 20).unwrap();
    let cases = [
        ("fifo.json", "not a regular file"),
        ("/dev/zero", "not a regular file"),
        ("huge.json", "over 512 MiB"),
    ];
    for (file, says) in cases {
        for command in [
            vec!["report", "html", file, "-o", "page.html"],
            vec!["report", "merge", file],
            vec!["run", "misbehave", "--rerun-failed", file],
        ] {
            let child = world.xacct().args(&command).spawn();
            let output = within_a_minute(child, &command.join(" "));
            assert_eq!(output.code(), Some(2), "{command:?}: {output:?}");
            assert!(
                output.stderr.contains(says) && output.stderr.contains(file),
                "{command:?}: {}",
                output.stderr
            );
        }
    }
    assert!(!dir.join("page.html").exists());
}

#[test]
fn run_html_is_checked_before_the_run_starts() {
    let world = world();
    let dir = world.dir.path();
    std::fs::create_dir_all(dir.join("out/misbehave")).unwrap();
    symlink("audit.jsonl", dir.join("audit-link.html")).unwrap();
    mkfifo(&dir.join("fifo.html"));
    let cases: [(&[&str], &str); 5] = [
        (&["--html", "/proc/nope/x.html"], "cannot write it"),
        (&["--html", "fifo.html"], "not a regular file"),
        (
            &["--audit", "audit.jsonl", "--html", "audit.jsonl"],
            "--audit file",
        ),
        (
            &["--audit", "audit.jsonl", "--html", "audit-link.html"],
            "--audit file",
        ),
        (
            &["--html", "out/misbehave/page.html"],
            "where the run writes",
        ),
    ];
    for (flags, says) in cases {
        let out_dir = if says == "where the run writes" {
            "out"
        } else {
            "run-out"
        };
        let child = world
            .xacct()
            .args(["run", "misbehave", "--output", "json", "--input", &input()])
            .args(["--out-dir", out_dir])
            .args(flags)
            .spawn();
        let output = within_a_minute(child, &flags.join(" "));
        assert_eq!(output.code(), Some(2), "{flags:?}: {output:?}");
        assert!(
            output.stderr.contains("--html") && output.stderr.contains(says),
            "{flags:?}: {}",
            output.stderr
        );
        // Nothing ran: the run's --out-dir is written once the run is over.
        assert!(!dir.join("run-out").exists(), "{flags:?}: the run ran");
        let written = std::fs::read_dir(dir.join("out/misbehave"))
            .unwrap()
            .count();
        assert_eq!(written, 0, "{flags:?}: the run ran");
        let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap_or_default();
        assert!(audit.is_empty(), "{flags:?}: {audit}");
    }
}

/// A page that cannot be written once the run is over (here: over the file size limit
/// the shell sets, as a full disk would) loses no report: the report is out first.
#[test]
fn a_page_that_cannot_be_written_after_the_run_costs_no_report() {
    let world = world();
    let xacct = world
        .xacct()
        .args(["run", "misbehave", "--output", "json", "--input", &input()])
        .args(["--html", "run.html"]);
    let command = xacct.command();
    // 20 KiB (dash counts 512-byte blocks): less than the smallest page. SIGXFSZ
    // ignored, a write over the limit fails with EFBIG instead.
    let mut limited = Command::new("sh");
    limited
        .args(["-c", "trap '' XFSZ; ulimit -f 40; exec \"$0\" \"$@\""])
        .arg(command.get_program())
        .args(command.get_args())
        .current_dir(command.get_current_dir().unwrap());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => limited.env(name, value),
            None => limited.env_remove(name),
        };
    }
    let output: Outcome = limited.output().unwrap().into();
    assert_eq!(output.code(), Some(2), "{output:?}");
    let report = output.json();
    // (The invocations meet the limit too, wasmtime's memories being files, and fail:
    // the report says so, whole.)
    assert_eq!(report["entries"].as_array().unwrap().len(), 2, "{report}");
    assert!(
        output.stderr.contains("--html run.html: cannot write it"),
        "{}",
        output.stderr
    );
}

#[test]
fn an_account_whose_plugin_printed_nothing_says_so() {
    let world = world();
    let dir = world.dir.path();
    let run = world
        .xacct()
        .args(["run", "misbehave", "--output", "json", "--input", &input()])
        .args(["--out-dir", "out", "--html", "run.html"])
        .output();
    assert!(run.success(), "{run:?}");
    std::fs::write(dir.join("r.json"), &run.stdout).unwrap();
    let made = world
        .xacct()
        .args(["report", "html", "r.json", "--out-dir", "out"])
        .output();
    assert!(made.success(), "{made:?}");
    for page in ["run.html", "r.html"] {
        let page = std::fs::read_to_string(dir.join(page)).unwrap();
        // Account 0 printed nothing, account 1 a line to each stream.
        assert_eq!(
            page.matches(r#""log":"(the plugin printed nothing)""#)
                .count(),
            1,
            "{page}"
        );
        assert!(page.contains(&format!("to stdout from {}", id(1))));
        assert!(!page.contains(r#""log":"== stdout\n== stderr\n""#));
    }
}

/// `--out-dir` as `--html`: made before the run starts (a DIR that cannot be made fails
/// the run before anything runs), written after the report is out (a file that cannot be
/// written then costs no report).
#[test]
fn out_dir_is_made_before_the_run_and_written_after_the_report() {
    let world = world();
    let dir = world.dir.path();
    std::fs::write(dir.join("file"), "").unwrap();
    let run = |out_dir: &str| {
        world
            .xacct()
            .args(["run", "misbehave", "--output", "json", "--input", &input()])
            .args(["--out-dir", out_dir, "--html", "new.html"])
            .output()
    };
    let output = run("file/out");
    assert_eq!(output.code(), Some(2), "{output:?}");
    assert!(
        output.stderr.contains("--out-dir file/out") && !output.stderr.contains("to stdout from"),
        "nothing ran: {}",
        output.stderr
    );
    assert!(
        !dir.join("new.html").exists(),
        "a page opened for a run that did not run is not left empty"
    );
    // Account 0's directory is a file: its files cannot be written once the run is over.
    std::fs::create_dir_all(dir.join("out/misbehave")).unwrap();
    std::fs::write(dir.join("out/misbehave").join(id(0)), "").unwrap();
    let output = run("out");
    assert_eq!(output.code(), Some(2), "{output:?}");
    assert_eq!(output.json()["entries"].as_array().unwrap().len(), 2);
    assert!(output.stderr.contains("--out-dir out"), "{}", output.stderr);
}

/// `report html -o -` writes the page to stdout (no file named `-`); the page's
/// `--rerun-failed` command names the report by its absolute path, so that it runs from
/// any directory, whatever path `report html` was given.
#[test]
fn report_html_writes_to_stdout_with_o_dash_and_names_the_report_absolute() {
    let world = world();
    let dir = world.dir.path();
    let run = world
        .xacct()
        .args([
            "run",
            "misbehave",
            "--output",
            "json",
            "--input",
            &json!({"mode": "fail"}).to_string(),
        ])
        .output();
    assert_eq!(run.code(), Some(1), "{run:?}");
    std::fs::write(dir.join("r.json"), &run.stdout).unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    let in_sub = |args: &[&str]| common::Xacct::in_dir(&dir.join("sub")).args(args).output();
    // The page of `../r.json`, as a file, names the report absolute.
    let written = in_sub(&["report", "html", "../r.json", "-o", "page.html"]);
    assert!(written.success(), "{written:?}");
    let file = std::fs::read_to_string(dir.join("sub/page.html")).unwrap();
    let absolute = dir.canonicalize().unwrap().join("r.json");
    let absolute = absolute.to_str().unwrap();
    assert!(
        file.contains(&format!("--rerun-failed {absolute}")),
        "the page names {absolute}"
    );
    assert!(!file.contains("--rerun-failed ../r.json"));
    // `-o -`: the same page on stdout, and no file.
    let page = in_sub(&["report", "html", "../r.json", "-o", "-"]);
    assert!(page.success(), "{page:?}");
    assert!(
        page.stdout.starts_with("<!doctype html>"),
        "{}",
        &page.stdout[..100.min(page.stdout.len())]
    );
    assert!(!dir.join("sub/-").exists() && !dir.join("r.html").exists());
    assert!(page.stdout.contains(&format!("--rerun-failed {absolute}")));
}
