//! Containment of what a plugin says: its error, its output and what it prints reach the
//! operator's terminal and the host's text log inert (no control character, one event
//! per line), the JSON report and the kept files hold them exactly, and the files the
//! host writes are the operator's alone.

use crate::common::World;
use crate::operator::runs::xacct;

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{Value, json};

/// OSC 52 (write the clipboard), clear the screen, retitle the window, a C1 CSI and a fake
/// verdict, a CR to overwrite what came before it, and an LF forging a log line and a
/// table row for another plugin and account.
const HOSTILE: &str = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x1b[H\x1b]0;pwned\x07\u{9b}32mALL OK\rFAKE\n\
    1999-01-01T00:00:00.000000Z  INFO invocation{plugin=hello account=333333333333}: ok\n\
    333333333333  prod     ok      1   {}";

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("the CLI writes UTF-8")
}

/// No character a terminal acts on (C0, DEL, C1) but the line ends.
fn assert_inert(text: &str) {
    let raw: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(raw.is_empty(), "raw controls {raw:?} in:\n{text}");
}

/// Every line of the text log is one event of this run: its own timestamp and level.
fn assert_one_event_per_line(log: &str) {
    for line in log.lines() {
        let mut words = line.split_whitespace();
        let (time, level) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        assert!(
            time.ends_with('Z') && !time.starts_with("1999"),
            "not an event of this run: {line:?}"
        );
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
            "{line:?}"
        );
    }
}

/// Permission bits in octal, as `ls` and `chmod` spell them.
fn mode(path: &Path) -> String {
    format!(
        "{:o}",
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    )
}

#[test]
fn a_hostile_error_and_output_are_inert_in_the_table_and_log_and_exact_in_json() {
    let world = World::new(&["misbehave"], "");
    let fail = json!({ "mode": "fail", "only": "222222222222", "text": HOSTILE }).to_string();
    let table = xacct(&world, &["run", "misbehave", "--input", &fail]);
    assert_eq!(table.status.code(), Some(1));
    let (stdout, stderr) = (text(&table.stdout), text(&table.stderr));
    assert_inert(&stdout);
    assert_inert(&stderr);
    // The header, a row per account, the summary, the recap of the failure: no forged
    // row.
    assert_eq!(stdout.lines().count(), 7, "{stdout}");
    assert!(
        stdout.contains(r"plugin-error: \u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2J"),
        "{stdout}"
    );
    assert_one_event_per_line(&stderr);
    let failures: Vec<&str> = stderr.lines().filter(|l| l.contains(" WARN ")).collect();
    assert_eq!(failures.len(), 1, "{stderr}");
    assert!(
        failures[0].contains("account=222222222222")
            && failures[0].contains(r"ALL OK\rFAKE\n1999-01-01T00:00:00.000000Z  INFO"),
        "the failure is one event, whole: {stderr}"
    );

    for output in ["json", "jsonl"] {
        let run = xacct(
            &world,
            &["run", "misbehave", "--output", output, "--input", &fail],
        );
        let stdout = text(&run.stdout);
        let entries: Vec<Value> = match output {
            "json" => serde_json::from_str::<Value>(&stdout).unwrap()["entries"]
                .as_array()
                .unwrap()
                .clone(),
            _ => stdout
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
        };
        let failed = entries.iter().find(|e| e["status"] == "error").unwrap();
        assert_eq!(failed["error"]["message"], HOSTILE, "--output {output}");
    }

    let echo = json!({ "mode": "echo", "text": HOSTILE }).to_string();
    let table = text(&xacct(&world, &["run", "misbehave", "--input", &echo]).stdout);
    assert_inert(&table);
    assert_eq!(table.lines().count(), 5, "{table}");
    // JSON escapes C0 itself; C1 is left to the table.
    assert!(table.contains(r#""\u001b]52;c;"#) && table.contains(r"\u{9b}32mALL OK"));
    let json = xacct(
        &world,
        &["run", "misbehave", "--output", "json", "--input", &echo],
    );
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["entries"][2]["output"], HOSTILE);
}

#[test]
fn printed_text_is_logged_one_line_per_event_and_kept_exactly_in_private_files() {
    let world = World::new(&["misbehave"], "");
    let root = world.dir.path();
    // The operator's own directory (left as it is) and an audit log an earlier run left
    // readable by all (tightened).
    std::fs::create_dir(root.join("shared")).unwrap();
    std::fs::set_permissions(root.join("shared"), Permissions::from_mode(0o755)).unwrap();
    std::fs::write(root.join("audit.jsonl"), "").unwrap();
    std::fs::set_permissions(root.join("audit.jsonl"), Permissions::from_mode(0o644)).unwrap();

    let print = json!({ "mode": "print", "text": HOSTILE }).to_string();
    let run = xacct(
        &world,
        &[
            "run",
            "misbehave",
            "--input",
            &print,
            "--audit",
            "audit.jsonl",
            "--out-dir",
            "shared/out",
        ],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let log = text(&run.stderr);
    assert_inert(&log);
    assert_one_event_per_line(&log);
    // Each printed line is its own event, under its own plugin and account.
    let printed: Vec<&str> = log.lines().filter(|l| l.contains("stream=")).collect();
    assert_eq!(printed.len(), 3 * 2 * 3, "{log}");
    assert!(
        printed
            .iter()
            .all(|l| l.contains("invocation{plugin=misbehave account=")),
        "{log}"
    );
    assert!(log.contains(r"\u{9b}32mALL OK\rFAKE"), "{log}");

    let out = root.join("shared/out");
    let kept = out.join("misbehave/111111111111");
    assert_eq!(
        std::fs::read_to_string(kept.join("plugin.log")).unwrap(),
        format!("== stdout\n{HOSTILE}== stderr\n{HOSTILE}")
    );
    assert_eq!(mode(&root.join("shared")), "755");
    for dir in [&out, &out.join("misbehave"), &kept] {
        assert_eq!(mode(dir), "700", "{}", dir.display());
    }
    for file in [
        kept.join("result.json"),
        kept.join("plugin.log"),
        root.join("audit.jsonl"),
    ] {
        assert_eq!(mode(&file), "600", "{}", file.display());
    }
}
