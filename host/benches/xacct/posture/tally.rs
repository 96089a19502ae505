//! A counting HTTP proxy: every request a tool sends to AWS passes through it and is
//! counted under its AWS operation name (`s3:GetBucketAcl`, `sts:AssumeRole`,
//! `s3control:GetPublicAccessBlock`…), with how many of them AWS answered with an error.
//! Both tools of the side-by-side row go through the same tally, so their counts compare.
//!
//! It takes requests in origin form (a client whose endpoint URL is the tally) and in
//! absolute form (a client that uses it as its `HTTP_PROXY`): botocore puts the account
//! id in front of S3 Control's host (`http://ACCOUNT.127.0.0.1:port`), a name nothing
//! resolves, and a proxy is how such a request still reaches the local endpoint. Each
//! client connection gets its own upstream connection, so a tool's connection reuse is
//! what the upstream sees. Bodies are streamed, but for the small form-encoded ones of
//! STS and IAM, which are read for their `Action`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

type Body = BoxBody<Bytes, hyper::Error>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn held(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Requests of one operation.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Calls {
    pub requests: u64,
    /// Answered with a 4xx or 5xx status (S3's "not configured" answers are errors too).
    pub errors: u64,
}

/// Requests counted, by operation.
#[derive(Debug, Default, Clone)]
pub struct Traffic {
    pub operations: BTreeMap<String, Calls>,
}

impl Traffic {
    /// Every request counted.
    pub fn requests(&self) -> u64 {
        self.operations.values().map(|c| c.requests).sum()
    }

    /// Requests of `operation`.
    pub fn count(&self, operation: &str) -> u64 {
        self.operations.get(operation).map_or(0, |c| c.requests)
    }
}

/// The running proxy; stopped when dropped.
pub struct Tally {
    pub address: SocketAddr,
    traffic: Arc<Mutex<Traffic>>,
    task: tokio::task::JoinHandle<()>,
}

impl Tally {
    /// Starts the proxy on a free port of 127.0.0.1, forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Tally {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let traffic = Arc::new(Mutex::new(Traffic::default()));
        let counted = traffic.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                connections.spawn(serve(client, upstream, counted.clone()));
            }
        });
        Tally {
            address,
            traffic,
            task,
        }
    }

    /// What was counted since the last call (or the start), the counters then reset.
    pub fn take(&self) -> Traffic {
        std::mem::take(&mut *self.traffic.lock().unwrap())
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one client connection, its requests forwarded over one upstream connection
/// (opened at the first request, opened again if the upstream closed it).
async fn serve(client: tokio::net::TcpStream, upstream: SocketAddr, traffic: Arc<Mutex<Traffic>>) {
    let sender: Arc<tokio::sync::Mutex<Option<SendRequest<Body>>>> = Arc::default();
    let service = hyper::service::service_fn(move |request| {
        let (sender, traffic) = (sender.clone(), traffic.clone());
        async move {
            let answer = match classify(request).await {
                Ok((operation, request)) => {
                    let answer = forward(&sender, upstream, request).await;
                    let mut counted = traffic.lock().unwrap();
                    let calls = counted.operations.entry(operation).or_default();
                    calls.requests += 1;
                    if answer.as_ref().map_or(true, |r| r.status().as_u16() >= 400) {
                        calls.errors += 1;
                    }
                    answer
                }
                Err(error) => Err(error),
            };
            Ok::<_, std::convert::Infallible>(answer.map(|r| r.map(BodyExt::boxed)).unwrap_or_else(
                |error| {
                    Response::builder()
                        .status(StatusCode::BAD_GATEWAY)
                        .body(held(format!("tally: {error}")))
                        .unwrap()
                },
            ))
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(client), service)
        .await;
}

async fn forward(
    sender: &tokio::sync::Mutex<Option<SendRequest<Body>>>,
    upstream: SocketAddr,
    request: Request<Body>,
) -> Result<Response<Incoming>, BoxError> {
    let mut sender = sender.lock().await;
    if sender.as_ref().is_none_or(|s| s.is_closed()) {
        let stream = tokio::net::TcpStream::connect(upstream).await?;
        let (opened, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        *sender = Some(opened);
    }
    let sender = sender.as_mut().expect("connected above");
    sender.ready().await?;
    Ok(sender.send_request(request).await?)
}

/// The request's AWS operation, and the request as it goes upstream: in origin form, its
/// `Host` header (which the signature covers) unchanged.
async fn classify(request: Request<Incoming>) -> Result<(String, Request<Body>), BoxError> {
    let (mut parts, body) = request.into_parts();
    if let Some(path) = parts.uri.path_and_query() {
        parts.uri = path.as_str().parse()?;
    }
    let service = signing_service(&parts.headers).unwrap_or_else(|| "unsigned".to_owned());
    let form_encoded = parts
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form_encoded {
        let body = body.collect().await?.to_bytes();
        let action = form_urlencoded::parse(&body)
            .find(|(name, _)| name == "Action")
            .map_or_else(
                || "(no Action)".to_owned(),
                |(_, action)| action.into_owned(),
            );
        let request = Request::from_parts(parts, held(body));
        return Ok((format!("{service}:{action}"), request));
    }
    let operation = if let Some(target) = parts.headers.get("x-amz-target") {
        // JSON protocol: `Service_Version.Operation`.
        let target = target.to_str().unwrap_or_default();
        let name = target.rsplit('.').next().unwrap_or(target);
        format!("{service}:{name}")
    } else if service == "s3" {
        s3_operation(
            &parts.method,
            parts.uri.path(),
            parts.uri.query().unwrap_or(""),
        )
    } else {
        format!("{service}:{} {}", parts.method, parts.uri.path())
    };
    Ok((operation, Request::from_parts(parts, body.boxed())))
}

/// The service a SigV4 `Authorization` header was signed for
/// (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`).
fn signing_service(headers: &hyper::HeaderMap) -> Option<String> {
    let authorization = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let credential = authorization.split("Credential=").nth(1)?;
    Some(credential.split('/').nth(3)?.to_owned())
}

/// S3's bucket subresources (the query parameter that selects the operation) and the
/// name of their GET, PUT and DELETE operations after the verb.
const BUCKET_SUBRESOURCES: &[(&str, &str)] = &[
    ("acl", "BucketAcl"),
    ("encryption", "BucketEncryption"),
    ("lifecycle", "BucketLifecycleConfiguration"),
    ("location", "BucketLocation"),
    ("logging", "BucketLogging"),
    ("notification", "BucketNotificationConfiguration"),
    ("ownershipControls", "BucketOwnershipControls"),
    ("policy", "BucketPolicy"),
    ("policyStatus", "BucketPolicyStatus"),
    ("publicAccessBlock", "PublicAccessBlock"),
    ("replication", "BucketReplication"),
    ("tagging", "BucketTagging"),
    ("versioning", "BucketVersioning"),
    ("website", "BucketWebsite"),
];

/// The S3 (or S3 Control: same signing name, `/v20180820/` paths) operation of a
/// request. Bucket-level configuration calls and the listings get their API names;
/// anything else is named by its method and shape, which is enough to count it.
fn s3_operation(method: &hyper::Method, path: &str, query: &str) -> String {
    let verb = match *method {
        hyper::Method::GET => "Get",
        hyper::Method::PUT => "Put",
        hyper::Method::DELETE => "Delete",
        _ => "",
    };
    if let Some(control) = path.strip_prefix("/v20180820/") {
        return match control {
            "configuration/publicAccessBlock" if !verb.is_empty() => {
                format!("s3control:{verb}PublicAccessBlock")
            }
            _ => format!("s3control:{method} {control}"),
        };
    }
    let parameters: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split('=').next().unwrap_or(p))
        .collect();
    // The Rust SDK names the operation itself (`x-id=GetObject`).
    if let Some(named) = query.split('&').find_map(|p| p.strip_prefix("x-id=")) {
        return format!("s3:{named}");
    }
    let segments = path
        .trim_start_matches('/')
        .splitn(2, '/')
        .collect::<Vec<_>>();
    match segments.as_slice() {
        [""] if *method == hyper::Method::GET => "s3:ListBuckets".to_owned(),
        // The Rust SDK addresses a bucket path-style as `/bucket/`, botocore as `/bucket`.
        [_bucket] | [_bucket, ""] => {
            let subresource = BUCKET_SUBRESOURCES
                .iter()
                .find(|(name, _)| parameters.contains(name));
            match subresource {
                Some((_, name)) if !verb.is_empty() => format!("s3:{verb}{name}"),
                _ if *method == hyper::Method::GET && parameters.contains(&"list-type") => {
                    "s3:ListObjectsV2".to_owned()
                }
                _ if *method == hyper::Method::GET && parameters.contains(&"versions") => {
                    "s3:ListObjectVersions".to_owned()
                }
                _ => format!("s3:{method} bucket?{}", parameters.join("&")),
            }
        }
        _ => format!("s3:{method} object?{}", parameters.join("&")),
    }
}
