//! A stand-in of the Lambda Runtime API in the test process, for the tests that run the
//! real `xacct-lambda` binary as Lambda starts `bootstrap` (the deployment package as
//! `LAMBDA_TASK_ROOT`, the Runtime API's address in `AWS_LAMBDA_RUNTIME_API`): it hands
//! out events on `GET /2018-06-01/runtime/invocation/next` and takes the function's
//! answers on `POST /2018-06-01/runtime/invocation/{id}/response` and `…/error`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// What the function posted back for an invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Response(Value),
    Error(Value),
}

/// The stand-in Runtime API: events waiting to be handed out, answers by request id.
#[derive(Default)]
pub struct RuntimeApi {
    events: Mutex<VecDeque<(String, Value)>>,
    answers: Mutex<Vec<(String, Answer)>>,
    /// Wakes `next` calls waiting for an event, and the test waiting for answers.
    changed: tokio::sync::Notify,
}

impl RuntimeApi {
    pub async fn serve(self: Arc<Self>) -> std::net::SocketAddr {
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

    pub fn invoke(&self, id: &str, event: Value) {
        self.events
            .lock()
            .unwrap()
            .push_back((id.to_owned(), event));
        self.changed.notify_waiters();
    }

    /// The function's answer to invocation `id`, once it came.
    pub async fn answer_to(&self, id: &str) -> Answer {
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

/// `xacct-lambda` started as Lambda starts `bootstrap`: the package at `root`, `tmp` as
/// its temporary directory, the Runtime API at `api`; stdout and stderr piped (Lambda's
/// log stream).
pub fn start_function(root: &Path, tmp: &Path, api: std::net::SocketAddr) -> Child {
    Command::new(env!("CARGO_BIN_EXE_xacct-lambda"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("LAMBDA_TASK_ROOT", root)
        .env("TMPDIR", tmp)
        .env("AWS_LAMBDA_FUNCTION_NAME", "xacct")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}
