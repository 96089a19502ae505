//! Test-only plugin that probes its sandbox: environment, arguments, files, sockets.
//! It reports what it could see; the host must have given it nothing.

// The component ABI glue wit-bindgen generates is `unsafe` FFI; the workspace denies
// `unsafe` everywhere else.
#![allow(unsafe_code)]

use serde::Deserialize;
use xacct_guest::serde_json::{Value, json};
use xacct_guest::{Plugin, Result, export_plugin};

struct Probe;

#[derive(Deserialize)]
struct Input {
    /// A port on 127.0.0.1 where the test listens.
    port: u16,
}

fn outcome<T: std::fmt::Debug>(result: std::io::Result<T>) -> Value {
    match result {
        Ok(value) => json!({ "ok": format!("{value:?}") }),
        Err(err) => json!({ "err": err.to_string() }),
    }
}

impl Plugin for Probe {
    type Input = Input;
    type Output = Value;

    fn run(input: Input) -> Result<Value> {
        let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
        let args: Vec<String> = std::env::args().collect();
        let files: Vec<Value> = ["/", ".", "/etc/passwd", "/proc/self/environ", "Cargo.toml"]
            .iter()
            .map(|path| {
                let listing = std::fs::read_dir(path).map(|d| d.count());
                let reading = std::fs::read(path).map(|b| b.len());
                json!({ "path": path, "read_dir": outcome(listing), "read": outcome(reading) })
            })
            .collect();
        let write = outcome(std::fs::write("escape.txt", b"x"));
        let cwd = outcome(std::env::current_dir());
        let tcp = outcome(std::net::TcpStream::connect(("127.0.0.1", input.port)));
        let udp = outcome(std::net::UdpSocket::bind("127.0.0.1:0"));
        let dns =
            outcome(std::net::ToSocketAddrs::to_socket_addrs("localhost:80").map(|a| a.count()));
        Ok(json!({
            "env": env, "args": args, "files": files, "write": write, "cwd": cwd,
            "tcp": tcp, "udp": udp, "dns": dns,
        }))
    }
}

export_plugin!(Probe);
