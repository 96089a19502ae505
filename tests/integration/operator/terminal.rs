//! xacct on a real terminal: a pseudo-terminal of 80 and 200 columns, its output read
//! back through a terminal emulator, as the operator would see the screen.

use crate::common;

use std::io::Read;
use std::num::NonZeroU16;

use common::{World, full_grants};
use portable_pty::{CommandBuilder, PtySize};

/// Rows enough that nothing scrolls away: the whole run stays on the screen to read.
const ROWS: u16 = 2000;

/// A local world of `n` accounts.
fn accounts(n: usize) -> World {
    let mut text = format!("[local]\nroot = \"data\"\n{}", full_grants(&["misbehave"]));
    for i in 0..n {
        text.push_str(&format!(
            "\n[[account]]\nid = \"{}\"\nalias = \"acct-{i:03}\"\n",
            100_000_000_000u64 + i as u64
        ));
    }
    let world = World::with_config(&["misbehave"], &text, None);
    std::fs::create_dir_all(world.data()).unwrap();
    world
}

/// What the terminal shows once xacct has run with `args` at `cols` columns: each row's
/// text and whether the terminal had to wrap it; and the exit code.
fn screen(
    world: &World,
    cols: u16,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Vec<(String, bool)>, u32) {
    let pty = portable_pty::native_pty_system()
        .openpty(PtySize {
            rows: ROWS,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_xacct"));
    command.args(args);
    command.cwd(world.dir.path());
    command.env_remove("XACCT_CONFIG");
    command.env_remove("RUST_LOG");
    command.env_remove("NO_COLOR");
    command.env_remove("COLUMNS");
    command.env("TERM", "xterm-256color");
    command.env(
        "XDG_CACHE_HOME",
        common::target_dir().join("xacct-test-cache-cli"),
    );
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = pty.slave.spawn_command(command).unwrap();
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    let read = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut chunk = [0; 65536];
        // The end of the output is EIO on Linux once xacct (the last holder of the
        // terminal's other side) is gone.
        while let Ok(n) = reader.read(&mut chunk) {
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&chunk[..n]);
        }
        bytes
    });
    let status = child.wait().unwrap();
    drop(pty.master);
    let bytes = read.join().unwrap();
    let mut parser = vt100::Parser::new(
        NonZeroU16::new(ROWS).unwrap(),
        NonZeroU16::new(cols).unwrap(),
        0,
    );
    parser.process(&bytes);
    let screen = parser.screen();
    let rows = screen
        .rows(0, cols)
        .enumerate()
        .map(|(i, text)| (text, screen.row_wrapped(i as u16)))
        .collect::<Vec<_>>();
    let last = rows
        .iter()
        .rposition(|(text, _)| !text.trim().is_empty())
        .map_or(0, |i| i + 1);
    (rows[..last].to_vec(), status.exit_code())
}

fn shown(rows: &[(String, bool)]) -> String {
    rows.iter()
        .map(|(text, wrapped)| format!("{}{text}\n", if *wrapped { "[wrapped] " } else { "" }))
        .collect()
}

/// A long result on every account: at 80 and at 200 columns every table row fits on
/// one line of the terminal (the result wrapped to at most 3 lines, then elided), and
/// the summary fits too.
#[test]
fn the_table_fits_the_terminal_at_80_and_200_columns() {
    let world = accounts(30);
    let text = "total ".repeat(100);
    let input = serde_json::json!({ "mode": "echo", "text": text }).to_string();
    let mut results = Vec::new();
    for cols in [80, 200] {
        let (rows, code) = screen(&world, cols, &["run", "misbehave", "--input", &input], &[]);
        let shown = shown(&rows);
        assert_eq!(code, 0, "{shown}");
        assert!(
            rows.iter().all(|(_, wrapped)| !wrapped),
            "{cols} columns:\n{shown}"
        );
        assert!(
            rows.iter()
                .all(|(text, _)| text.trim_end().chars().count() <= usize::from(cols)),
            "{shown}"
        );
        let header = rows
            .iter()
            .position(|(t, _)| t.starts_with("ACCOUNT"))
            .unwrap();
        assert!(rows[header].0.contains("RESULT"), "{shown}");
        // Each account's row, its result wrapped below it, elided on its last line.
        let first: Vec<&str> = rows[header + 1..header + 4]
            .iter()
            .map(|(t, _)| t.as_str())
            .collect();
        assert!(
            first[0].starts_with("100000000000  acct-000  ok"),
            "{shown}"
        );
        assert!(first[2].trim_end().ends_with('…'), "{shown}");
        assert!(first[1].starts_with(' '), "{shown}");
        assert!(
            rows.iter()
                .any(|(t, _)| t.starts_with("misbehave: 30 ok, 0 failed, 0 skipped")),
            "{shown}"
        );
        let shown_result: usize = rows[header + 1..header + 4]
            .iter()
            .map(|(t, _)| t.matches("total").count())
            .sum();
        results.push(shown_result);
    }
    assert!(
        results[1] > results[0] * 2,
        "a wider terminal shows more: {results:?}"
    );
}

/// 200 failures, each logged as it happens while the progress bar is drawn: the log
/// goes above the bar, and no copy of the bar is left behind; the recap closes the run.
#[test]
fn warnings_leave_no_stale_progress_bar_and_failures_are_recapped() {
    const N: usize = 200;
    let world = accounts(N);
    let (rows, code) = screen(
        &world,
        80,
        &[
            "run",
            "misbehave",
            "--concurrency",
            "2",
            "--input",
            r#"{"mode": "fail", "text": "no such bucket"}"#,
        ],
        &[],
    );
    let shown = shown(&rows);
    assert_eq!(code, 1, "{shown}");
    let warnings = rows.iter().filter(|(t, _)| t.contains(" WARN ")).count();
    assert_eq!(warnings, N, "{shown}");
    let bars = rows
        .iter()
        .filter(|(t, _)| t.contains(&format!("/{N} accounts")))
        .count();
    assert_eq!(bars, 0, "no stale progress bar:\n{shown}");
    let recap = rows
        .iter()
        .position(|(t, _)| t.starts_with("failed (200):"))
        .unwrap();
    assert!(
        rows[recap + 1]
            .0
            .starts_with("  100000000000  acct-000  plugin-error  no such bucket"),
        "{shown}"
    );
    assert!(rows.last().unwrap().0.contains("and 150 more"), "{shown}");
}

/// Colour only on a terminal and only when wanted: NO_COLOR and --color never turn it
/// off, --color always turns it on in a pipe.
#[test]
fn colour_follows_the_terminal_no_color_and_the_flag() {
    let world = accounts(2);
    let args = [
        "run",
        "misbehave",
        "--input",
        r#"{"mode": "fail", "only": "100000000001"}"#,
    ];
    let coloured = |env: &[(&str, &str)], extra: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(extra);
        let pty = portable_pty::native_pty_system()
            .openpty(PtySize {
                rows: 50,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_xacct"));
        command.args(&all);
        command.cwd(world.dir.path());
        command.env_remove("NO_COLOR");
        command.env("TERM", "xterm-256color");
        command.env(
            "XDG_CACHE_HOME",
            common::target_dir().join("xacct-test-cache-cli"),
        );
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = pty.slave.spawn_command(command).unwrap();
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().unwrap();
        let read = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = reader.read_to_end(&mut bytes);
            bytes
        });
        child.wait().unwrap();
        drop(pty.master);
        let bytes = read.join().unwrap();
        has_sgr(&bytes)
    };
    assert!(coloured(&[], &[]), "a terminal gets colour");
    assert!(!coloured(&[("NO_COLOR", "1")], &[]), "NO_COLOR");
    assert!(!coloured(&[], &["--color", "never"]), "--color never");

    let piped = std::process::Command::new(env!("CARGO_BIN_EXE_xacct"))
        .args(args)
        .args(["--color", "always"])
        .current_dir(world.dir.path())
        .env_remove("NO_COLOR")
        .env(
            "XDG_CACHE_HOME",
            common::target_dir().join("xacct-test-cache-cli"),
        )
        .output()
        .unwrap();
    assert!(has_sgr(&piped.stdout), "--color always");
    let plain = std::process::Command::new(env!("CARGO_BIN_EXE_xacct"))
        .args(args)
        .current_dir(world.dir.path())
        .env_remove("NO_COLOR")
        .env(
            "XDG_CACHE_HOME",
            common::target_dir().join("xacct-test-cache-cli"),
        )
        .output()
        .unwrap();
    assert!(!plain.stdout.contains(&0x1b), "no colour in a pipe");
    assert!(
        !plain.stderr.contains(&0x1b),
        "nor in the log when stderr is a file"
    );
}

/// Whether `bytes` hold a colour or style sequence (SGR: `ESC [ params m`), as opposed
/// to the progress bar's cursor movements.
fn has_sgr(bytes: &[u8]) -> bool {
    bytes.windows(2).enumerate().any(|(i, w)| {
        w == b"\x1b[" && {
            let params = bytes[i + 2..]
                .iter()
                .take_while(|b| b.is_ascii_digit() || **b == b';')
                .count();
            bytes.get(i + 2 + params) == Some(&b'm')
        }
    })
}
