//! The host as a Lambda function: the real `xacct-lambda` binary started as Lambda starts
//! `bootstrap` (the deployment package as `LAMBDA_TASK_ROOT`, the Runtime API's address in
//! `AWS_LAMBDA_RUNTIME_API`), served by a stand-in of the Lambda Runtime API in this test
//! process: it hands out events on `GET /2018-06-01/runtime/invocation/next` and takes the
//! function's answers on `POST /2018-06-01/runtime/invocation/{id}/response` and
//! `…/error`.

use crate::common;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{ConfigBuilder, World, Xacct, untimed};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// What the function posted back for an invocation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    Response(Value),
    Error(Value),
}

/// The stand-in Runtime API: events waiting to be handed out, answers by request id.
#[derive(Default)]
pub(crate) struct RuntimeApi {
    events: Mutex<VecDeque<(String, Value)>>,
    answers: Mutex<Vec<(String, Answer)>>,
    /// Wakes `next` calls waiting for an event, and the test waiting for answers.
    changed: tokio::sync::Notify,
}

impl RuntimeApi {
    pub(crate) async fn serve(self: Arc<Self>) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let api = self.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| api.clone().answer(request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        address
    }

    async fn answer(
        self: Arc<Self>,
        request: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let reply = |status: u16, body: Vec<u8>| {
            Response::builder()
                .status(status)
                .body(Full::new(Bytes::from(body)))
                .unwrap()
        };
        Ok(match (method.as_str(), parts.as_slice()) {
            // Long-polls as Lambda's does: the function waits here for its next event.
            ("GET", ["2018-06-01", "runtime", "invocation", "next"]) => loop {
                let changed = self.changed.notified();
                let next = self.events.lock().unwrap().pop_front();
                if let Some((id, event)) = next {
                    let deadline = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        + Duration::from_secs(300);
                    break Response::builder()
                        .header("lambda-runtime-aws-request-id", &id)
                        .header(
                            "lambda-runtime-deadline-ms",
                            deadline.as_millis().to_string(),
                        )
                        .header(
                            "lambda-runtime-invoked-function-arn",
                            "arn:aws:lambda:us-east-1:111111111111:function:xacct",
                        )
                        .header(
                            "lambda-runtime-trace-id",
                            "Root=1-00000000-000000000000000000000000",
                        )
                        .body(Full::new(Bytes::from(event.to_string())))
                        .unwrap();
                }
                changed.await;
            },
            (
                "POST",
                [
                    "2018-06-01",
                    "runtime",
                    "invocation",
                    id,
                    kind @ ("response" | "error"),
                ],
            ) => {
                let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let answer = match *kind {
                    "response" => Answer::Response(value),
                    _ => Answer::Error(value),
                };
                self.answers
                    .lock()
                    .unwrap()
                    .push(((*id).to_owned(), answer));
                self.changed.notify_waiters();
                reply(202, b"{\"status\":\"OK\"}".to_vec())
            }
            _ => reply(404, format!("no route for {method} {path}").into_bytes()),
        })
    }

    pub(crate) fn invoke(&self, id: &str, event: Value) {
        self.events
            .lock()
            .unwrap()
            .push_back((id.to_owned(), event));
        self.changed.notify_waiters();
    }

    /// The function's answer to invocation `id`, once it came.
    pub(crate) async fn answer_to(&self, id: &str) -> Answer {
        tokio::time::timeout(Duration::from_secs(120), async {
            loop {
                let changed = self.changed.notified();
                let answers = self.answers.lock().unwrap().clone();
                if let Some((_, answer)) = answers.into_iter().find(|(i, _)| i == id) {
                    return answer;
                }
                changed.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no answer to invocation {id}"))
    }
}

/// The function's home identity: static keys (moto takes any, as the home account).
pub(crate) const HOME_KEYS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "AKIAXACCTLAMBDATEST1"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
];

/// Compiles the package's plugins ahead of time, into the package (`xacct-cache/`,
/// `xacct-state/`), as a deployment package ships them.
pub(crate) fn precompile(root: &Path) {
    let precompiled = Xacct::in_dir(root)
        .args(["plugins", "--config", "xacct.toml"])
        .env("XDG_CACHE_HOME", root.join("xacct-cache"))
        .env("XDG_STATE_HOME", root.join("xacct-state"))
        .output();
    assert!(precompiled.success(), "{precompiled:?}");
}

/// Starts the real `xacct-lambda` as Lambda starts `bootstrap`: the package in
/// `LAMBDA_TASK_ROOT`, the Runtime API's address, `/tmp` in `scratch`, and `env` besides.
pub(crate) fn start_function(
    runtime_api: std::net::SocketAddr,
    root: &Path,
    scratch: &Path,
    env: &[(&str, &str)],
) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xacct-lambda"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("LAMBDA_TASK_ROOT", root)
        .env("TMPDIR", scratch)
        .env("AWS_LAMBDA_FUNCTION_NAME", "xacct")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1");
    for (name, value) in env {
        command.env(name, value);
    }
    // Both streams are the function's log stream, which Lambda collects.
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_function_runs_shards_and_merges_them_through_the_runtime_api() {
    // The deployment package: config, plugins, data (the local backend) and the plugins
    // compiled ahead of time.
    let config = ConfigBuilder::local("data")
        .full_grants(&["hello"])
        .accounts((0..6u64).map(|i| (800_000_000_000 + i, format!("l-{i}"))));
    let package = World::with_config(&["hello"], &config, None);
    for i in 0..6u64 {
        package.bucket(&(800_000_000_000 + i).to_string(), "b");
    }
    let root = package.dir.path();
    precompile(root);
    let whole = package
        .xacct()
        .args(["run", "hello", "--output", "json"])
        .output()
        .json();

    let api = Arc::new(RuntimeApi::default());
    let address = api.clone().serve().await;
    let scratch = tempfile::tempdir().unwrap();
    let mut function = start_function(address, root, scratch.path(), &[]);

    api.invoke("shard-0", json!({"plugin": "hello", "shard": "1/2"}));
    api.invoke(
        "shard-1",
        json!({"plugin": "hello", "input": {}, "shard": "2/2"}),
    );
    let mut shards = Vec::new();
    for id in ["shard-0", "shard-1"] {
        let Answer::Response(report) = api.answer_to(id).await else {
            panic!("{id} failed");
        };
        assert_eq!(report["plugin"], "hello");
        assert_eq!(report["plan_hash"], whole["plan_hash"]);
        shards.push(report);
    }
    assert_eq!(
        shards[0]["entries"].as_array().unwrap().len()
            + shards[1]["entries"].as_array().unwrap().len(),
        6
    );
    api.invoke("merge", json!({"reports": shards}));
    let Answer::Response(merged) = api.answer_to("merge").await else {
        panic!("the merge failed");
    };
    assert_eq!(untimed(merged), untimed(whole));

    // A malformed event, a missing shard: the invocation's error, and the function serves on.
    api.invoke("typo", json!({"plugin": "hello", "shards": "0/2"}));
    api.invoke("partial", json!({"reports": [shards[0]]}));
    api.invoke("again", json!({"plugin": "hello", "accounts": ["l-2"]}));
    assert!(matches!(api.answer_to("typo").await, Answer::Error(_)));
    let Answer::Error(partial) = api.answer_to("partial").await else {
        panic!("a partial merge succeeded");
    };
    assert!(partial.to_string().contains("missing"), "{partial}");
    let Answer::Response(again) = api.answer_to("again").await else {
        panic!("the function stopped serving");
    };
    assert_eq!(again["entries"][0]["alias"], "l-2");
    assert_eq!(again["entries"][0]["status"], "ok");

    // The package's compiled plugin served the invocations: copied to the scratch
    // directory (the environment's private `xacct-*` in the temporary directory), not
    // compiled again.
    let private = std::fs::read_dir(scratch.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("xacct-")
        })
        .expect("the environment's scratch directory");
    let copied: Vec<_> = std::fs::read_dir(private.join("xacct-cache"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let packaged: Vec<_> = std::fs::read_dir(root.join("xacct-cache/xacct"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(!packaged.is_empty());
    assert_eq!(
        copied.len(),
        packaged.len(),
        "nothing compiled in the function"
    );

    function.kill().unwrap();
    let output = function.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(!log.contains("compile cache"), "{log}");
}
