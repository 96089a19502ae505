//! The `xacct` binary as the tests and the benchmarks run it, from one builder: its
//! arguments, directory and environment, run to its end ([`Xacct::output`]), spawned to
//! be signalled ([`Xacct::spawn`]), or on a pseudo-terminal ([`Xacct::on_terminal`]).
//!
//! Each run starts from an environment cleared of the caller's settings that would change
//! what xacct does: no config path, log filter, colour choice, terminal width or shard;
//! no AWS credentials, profile, region, endpoint or shared files, and no instance
//! metadata. What a test wants of them, it sets again.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};

use super::moto::Home;
use super::target_dir;

/// Variables the caller's environment may hold and a run must not inherit.
const CLEARED: [&str; 14] = [
    "XACCT_CONFIG",
    "XACCT_SHARD_COUNT",
    "RUST_LOG",
    "COLUMNS",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_BATCH_JOB_ARRAY_INDEX",
    "AWS_BATCH_JOB_ARRAY_SIZE",
    "JOB_COMPLETION_INDEX",
];

/// A run of `xacct` being described.
pub struct Xacct {
    dir: PathBuf,
    args: Vec<OsString>,
    /// Variables set (`Some`) or removed (`None`) on top of the caller's environment, in
    /// order: a later entry wins.
    env: Vec<(OsString, Option<OsString>)>,
}

impl Xacct {
    /// `xacct` run in `dir`, where it finds `xacct.toml` unless told otherwise. Compiled
    /// plugins are cached for all the tests' runs under the target directory; the output
    /// is uncoloured, so that any escape in it is one xacct failed to neutralise.
    pub fn in_dir(dir: &Path) -> Xacct {
        let mut env: Vec<(OsString, Option<OsString>)> =
            CLEARED.iter().map(|name| (name.into(), None)).collect();
        let no_file = |name: &str| Some(dir.join(name).into_os_string());
        env.extend([
            ("AWS_CONFIG_FILE".into(), no_file("no-aws-config")),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                no_file("no-aws-credentials"),
            ),
            ("AWS_EC2_METADATA_DISABLED".into(), Some("true".into())),
            ("NO_COLOR".into(), Some("1".into())),
            (
                "XDG_CACHE_HOME".into(),
                Some(target_dir().join("xacct-test-cache-cli").into_os_string()),
            ),
        ]);
        Xacct {
            dir: dir.to_owned(),
            args: Vec::new(),
            env,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Xacct {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args(self, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Xacct {
        args.into_iter().fold(self, Xacct::arg)
    }

    pub fn env(mut self, name: &str, value: impl AsRef<OsStr>) -> Xacct {
        self.env
            .push((name.into(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn envs<'a>(self, vars: impl IntoIterator<Item = &'a (&'a str, &'a str)>) -> Xacct {
        vars.into_iter()
            .fold(self, |run, (name, value)| run.env(name, value))
    }

    pub fn env_remove(mut self, name: &str) -> Xacct {
        self.env.push((name.into(), None));
        self
    }

    /// The home identity's access key in the environment, as the SDK's default chain
    /// finds it.
    pub fn home(self, home: &Home) -> Xacct {
        self.env("AWS_ACCESS_KEY_ID", &home.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &home.secret_access_key)
    }

    /// The process, not started: stdin is empty (xacct reads none, and a run must never
    /// wait on the test's terminal), stdout and stderr are piped.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_xacct"));
        command
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in &self.env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command
    }

    /// Runs xacct to its end.
    pub fn output(&self) -> Outcome {
        self.command().output().unwrap().into()
    }

    /// Starts xacct; [`Outcome::of`] waits for it.
    pub fn spawn(&self) -> Child {
        self.command().spawn().unwrap()
    }

    /// Runs xacct to its end on a pseudo-terminal of `cols` × `rows` (an `xterm-256color`),
    /// returning what it wrote to the terminal and its exit code.
    pub fn on_terminal(&self, cols: u16, rows: u16) -> (Vec<u8>, u32) {
        let pty = portable_pty::native_pty_system()
            .openpty(portable_pty::PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut command = portable_pty::CommandBuilder::new(env!("CARGO_BIN_EXE_xacct"));
        command.args(&self.args);
        command.cwd(&self.dir);
        for (name, value) in &self.env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            }
        }
        command.env("TERM", "xterm-256color");
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
        (read.join().unwrap(), status.exit_code())
    }
}

/// Sends the signal `name` (`INT`, `TERM`, …) to a spawned xacct, as `kill -NAME` does.
pub fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name}");
}

/// What a run of xacct left: its status and what it wrote (UTF-8, always).
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Waits for a spawned xacct to end.
    pub fn of(child: Child) -> Outcome {
        child.wait_with_output().unwrap().into()
    }

    /// The exit code (`None` if a signal ended it).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Stdout as one JSON document (a report, `--output json`).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", self.stdout, self.stderr))
    }
}

impl From<Output> for Outcome {
    fn from(output: Output) -> Outcome {
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("xacct writes UTF-8");
        Outcome {
            status: output.status,
            stdout: text(output.stdout),
            stderr: text(output.stderr),
        }
    }
}
