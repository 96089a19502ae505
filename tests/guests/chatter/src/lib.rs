//! Test-only plugin that prints: the given lines to stdout or stderr in order, then
//! pauses, prints one more line, and ends on a line without a newline (never flushed by
//! the plugin itself).

// The component ABI glue wit-bindgen generates is `unsafe` FFI; the workspace denies
// `unsafe` everywhere else.
#![allow(unsafe_code)]

use serde::Deserialize;
use xacct_guest::serde_json::{Value, json};
use xacct_guest::{Plugin, Result, export_plugin};

struct Chatter;

#[derive(Deserialize)]
struct Input {
    /// `["stdout" | "stderr", text]`, printed in order, each with a newline.
    lines: Vec<(String, String)>,
    /// How long to wait before the last lines.
    pause_ms: u64,
}

impl Plugin for Chatter {
    type Input = Input;
    type Output = Value;

    fn run(input: Input) -> Result<Value> {
        for (stream, text) in &input.lines {
            match stream.as_str() {
                "stderr" => eprintln!("{text}"),
                _ => println!("{text}"),
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(input.pause_ms));
        println!("after the pause");
        print!("the last words");
        Ok(json!({ "printed": input.lines.len() + 2 }))
    }
}

export_plugin!(Chatter);
