//! Test-only plugin that misbehaves on request, in one account only, so tests can check
//! that the failure stays that account's and the others' results are intact.
//!
//! Input: `{"mode": "...", "only": "<account id>"}`; accounts other than `only` answer
//! `{"account": id}`. Modes: `spin` (infinite loop), `alloc` (allocate without bound),
//! `output` (return `size` bytes), `panic`, `fail` (return an error: `text` if given),
//! `recurse` (no base case), `hang` (call list-buckets, which the test backend never
//! answers), `print` (`text` as is to stdout and stderr if given, else a line to each),
//! `echo` (return `text` as the output), `put-then-spin` (write `size` bytes, default
//! 1 MiB, to an upload of bucket `bkt`, then loop), `write-then-spin` (put object
//! `written` in bucket `bkt`, then loop). `bucket` replaces `bkt`; `"*"` is the account's
//! first bucket.

// The component ABI glue wit-bindgen generates is `unsafe` FFI; the workspace denies
// `unsafe` everywhere else.
#![allow(unsafe_code)]

use serde::Deserialize;
use xacct_guest::serde_json::{Value, json};
use xacct_guest::{Plugin, Result, export_plugin};

struct Misbehave;

#[derive(Deserialize)]
struct Input {
    mode: String,
    only: Option<String>,
    #[serde(default)]
    size: usize,
    text: Option<String>,
    bucket: Option<String>,
}

/// The bucket the writing modes write to.
fn bucket_of(input: &Input, s3: &xacct_guest::S3) -> Result<String> {
    Ok(match input.bucket.as_deref() {
        None => "bkt".to_owned(),
        Some("*") => s3.buckets()?.first().ok_or("no bucket")?.name.clone(),
        Some(bucket) => bucket.to_owned(),
    })
}

#[inline(never)]
fn recurse(depth: u64, trail: &mut [u8; 64]) -> u64 {
    trail[(depth % 64) as usize] = depth as u8;
    if depth == std::hint::black_box(u64::MAX) {
        return 0;
    }
    recurse(depth + 1, trail) + u64::from(trail[0])
}

impl Plugin for Misbehave {
    type Input = Input;
    type Output = Value;

    fn run(input: Input) -> Result<Value> {
        let account = xacct_guest::account()?;
        if input.only.as_ref().is_some_and(|only| *only != account.id) {
            return Ok(json!({ "account": account.id }));
        }
        match input.mode.as_str() {
            "spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "output" => Ok(Value::String("x".repeat(input.size))),
            "panic" => panic!("deliberate panic in account {}", account.id),
            "fail" => Err(input.text.as_deref().unwrap_or("deliberate failure").into()),
            "recurse" => Ok(json!(recurse(0, &mut [0; 64]))),
            "hang" => Ok(json!(account.s3()?.buckets()?.len())),
            "print" => {
                match &input.text {
                    Some(text) => {
                        print!("{text}");
                        eprint!("{text}");
                        // Stdout is line-buffered, and the instance never exits to flush it.
                        std::io::Write::flush(&mut std::io::stdout())?;
                    }
                    None => {
                        println!("to stdout from {}", account.id);
                        eprintln!("to stderr from {}", account.id);
                    }
                }
                Ok(json!({ "account": account.id }))
            }
            "echo" => Ok(json!(input.text)),
            "put-then-spin" => {
                let s3 = account.s3()?;
                let mut writer = s3.put(&bucket_of(&input, &s3)?, "partial")?;
                let size = if input.size == 0 { 1 << 20 } else { input.size };
                std::io::Write::write_all(&mut writer, &vec![7; size])?;
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "write-then-spin" => {
                let s3 = account.s3()?;
                s3.put_bytes(&bucket_of(&input, &s3)?, "written", account.id.as_bytes())?;
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            other => Err(format!("unknown mode {other:?}").into()),
        }
    }
}

export_plugin!(Misbehave);
