//! What a plugin prints reaches the host's log as it prints it: both streams in the order
//! written, while the invocation runs, the last line kept without its newline, and
//! `error:` / `warn:` lines at those levels.

use crate::common;

use std::process::Command;

use common::World;
use serde_json::{Value, json};

#[test]
fn printed_lines_are_logged_live_in_order_at_their_level() {
    let world = World::new(&["chatter"], "");
    let input = json!({
        "lines": [
            ["stdout", "out 1"],
            ["stderr", "warn: careful"],
            ["stdout", "out 2"],
            ["stderr", "error: broken"],
            ["stdout", "ERROR: loud"],
        ],
        "pause_ms": 600,
    });
    let run = Command::new(env!("CARGO_BIN_EXE_xacct"))
        .current_dir(world.dir.path())
        .args(["--log-format", "json", "run", "chatter", "--account", "dev"])
        .args(["--input", &input.to_string()])
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let printed: Vec<Value> = String::from_utf8_lossy(&run.stderr)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["fields"]["stream"].is_string())
        .collect();
    let seen: Vec<(&str, &str, &str)> = printed
        .iter()
        .map(|event| {
            assert_eq!(event["span"]["plugin"], "chatter");
            assert_eq!(event["span"]["account"], "111111111111");
            (
                event["fields"]["stream"].as_str().unwrap(),
                event["level"].as_str().unwrap(),
                event["fields"]["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("stdout", "INFO", "out 1"),
            ("stderr", "WARN", "warn: careful"),
            ("stdout", "INFO", "out 2"),
            ("stderr", "ERROR", "error: broken"),
            ("stdout", "ERROR", "ERROR: loud"),
            ("stdout", "INFO", "after the pause"),
            ("stdout", "INFO", "the last words"),
        ]
    );
    // Logged while it ran: the lines before the pause are that much older.
    let time = |event: &Value| {
        let text = event["timestamp"].as_str().unwrap();
        let seconds: f64 = text[17..text.len() - 1].parse().unwrap();
        seconds
            + 60.0 * text[14..16].parse::<f64>().unwrap()
            + 3600.0 * text[11..13].parse::<f64>().unwrap()
    };
    let waited = time(&printed[5]) - time(&printed[0]);
    assert!(waited >= 0.5, "logged {waited} s apart");
}
