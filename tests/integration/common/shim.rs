//! An S3/STS-semantics shim in front of moto: where moto is more lenient than AWS, the
//! shim answers as AWS documents, so the host is tested against AWS's behaviour rather
//! than trusted to send the right thing.
//!
//! What it enforces:
//! - **Bucket owner** (S3 `ExpectedBucketOwner`): a request whose
//!   `x-amz-expected-bucket-owner` names another account than the bucket's owner, or whose
//!   `x-amz-source-expected-bucket-owner` names another account than the copy source's
//!   owner, is refused with `403 AccessDenied` and never reaches moto (moto ignores both
//!   headers).
//!
//! A test may also slow down copies (`delay_copies`), to have a call still in flight when
//! an invocation's time limit strikes.
//!
//! It learns what it needs from the traffic itself, as S3 knows it: the access key ids
//! that `AssumeRole` answers hand out (and into which account), and which account's key
//! created each bucket. Everything else passes through unchanged, bodies streamed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

type Body = Either<Incoming, Full<Bytes>>;

/// What the shim has learned of the accounts behind the traffic.
#[derive(Default)]
struct Knowledge {
    /// Access key id → the account it acts in.
    keys: HashMap<String, String>,
    /// Bucket → the account that created it.
    owners: HashMap<String, String>,
    /// How long a CopyObject waits before it reaches moto.
    copy_delay: std::time::Duration,
}

/// The running shim; stopped when dropped.
pub struct Shim {
    pub endpoint: String,
    knowledge: Arc<Mutex<Knowledge>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Shim {
    /// Starts the shim on a free port of 127.0.0.1, forwarding to `upstream`
    /// (`host:port`).
    pub fn start(upstream: &str) -> Shim {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", std_listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let upstream = upstream.to_owned();
        let knowledge = Arc::new(Mutex::new(Knowledge::default()));
        let shared = knowledge.clone();
        // Its own runtime on its own thread: the tests' runtimes come and go, and some
        // block their thread on synchronous calls.
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                let serve = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let (knowledge, upstream) = (knowledge.clone(), upstream.clone());
                        tokio::spawn(async move {
                            let service = service_fn(move |request| {
                                handle(request, knowledge.clone(), upstream.clone())
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                };
                tokio::select! {
                    () = serve => {}
                    _ = stopped => {}
                }
            });
            runtime.shutdown_background();
        });
        Shim {
            endpoint,
            knowledge: shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Shim {
    /// From now on every CopyObject waits `delay` before it reaches moto.
    pub fn delay_copies(&self, delay: std::time::Duration) {
        self.knowledge.lock().unwrap().copy_delay = delay;
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The access key id and service of a SigV4 `Authorization` header
/// (`... Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`).
fn signer(request: &Request<Incoming>) -> Option<(String, String)> {
    let header = request.headers().get("authorization")?.to_str().ok()?;
    let credential = header.split("Credential=").nth(1)?.split(',').next()?;
    let mut scope = credential.split('/');
    let key = scope.next()?.to_owned();
    let service = scope.nth(2)?.to_owned();
    Some((key, service))
}

fn header<'a>(request: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    request.headers().get(name)?.to_str().ok()
}

/// The text between `<tag>` and `</tag>`.
fn xml_field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..end])
}

/// S3's answer to a request whose expected bucket owner is not the owner.
fn access_denied() -> Response<Body> {
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
               <Message>Access Denied</Message><RequestId>SHIM</RequestId></Error>";
    Response::builder()
        .status(StatusCode::FORBIDDEN)
        .header("content-type", "application/xml")
        .body(Either::Right(Full::new(Bytes::from(xml))))
        .unwrap()
}

async fn handle(
    request: Request<Incoming>,
    knowledge: Arc<Mutex<Knowledge>>,
    upstream: String,
) -> Result<Response<Body>, Infallible> {
    let signer = signer(&request);
    let service = signer.as_ref().map(|(_, service)| service.as_str());
    if service == Some("sts") {
        return Ok(sts(request, &knowledge, &upstream).await);
    }
    if service != Some("s3") {
        return Ok(forward(request.map(Either::Left), &upstream).await);
    }
    let path = request.uri().path().to_owned();
    let bucket = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let bucket = bucket.to_owned();
    // CreateBucket: `PUT /bucket` with no key and no subresource.
    let creates_bucket = request.method() == hyper::Method::PUT
        && !bucket.is_empty()
        && path.trim_start_matches('/').trim_end_matches('/') == bucket
        && request.uri().query().is_none();
    {
        let knowledge = knowledge.lock().unwrap();
        let owner_of = |bucket: &str| knowledge.owners.get(bucket).cloned();
        if let (Some(expected), Some(owner)) = (
            header(&request, "x-amz-expected-bucket-owner"),
            owner_of(&bucket),
        ) && expected != owner
        {
            return Ok(access_denied());
        }
        if let (Some(expected), Some(source)) = (
            header(&request, "x-amz-source-expected-bucket-owner"),
            header(&request, "x-amz-copy-source"),
        ) {
            let source_bucket = source.trim_start_matches('/').split('/').next().unwrap_or("");
            if owner_of(source_bucket).is_some_and(|owner| owner != expected) {
                return Ok(access_denied());
            }
        }
    }
    let copy_delay = knowledge.lock().unwrap().copy_delay;
    if request.headers().contains_key("x-amz-copy-source") && !copy_delay.is_zero() {
        tokio::time::sleep(copy_delay).await;
    }
    let creator = signer.map(|(key, _)| key);
    let response = forward(request.map(Either::Left), &upstream).await;
    if creates_bucket && response.status().is_success() {
        let mut knowledge = knowledge.lock().unwrap();
        if let Some(account) = creator.and_then(|key| knowledge.keys.get(&key).cloned()) {
            knowledge.owners.insert(bucket, account);
        }
    }
    Ok(response)
}

/// Forwards an STS request and learns which account the keys an AssumeRole hands out act
/// in.
async fn sts(
    request: Request<Incoming>,
    knowledge: &Mutex<Knowledge>,
    upstream: &str,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let request = Request::from_parts(parts, Either::Right(Full::new(body)));
    let (parts, body) = forward(request, upstream).await.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    if let (Some(key), Some(arn)) = (
        xml_field(&text, "AccessKeyId"),
        xml_field(&text, "Arn"),
    ) && let Some(account) = arn.split(':').nth(4)
    {
        knowledge
            .lock()
            .unwrap()
            .keys
            .insert(key.to_owned(), account.to_owned());
    }
    Response::from_parts(parts, Either::Right(Full::new(body)))
}

/// Sends a request on to moto as it came (same Host header, so signatures still match)
/// and streams the answer back.
async fn forward(request: Request<Body>, upstream: &str) -> Response<Body> {
    let failed = || {
        Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Either::Right(Full::new(Bytes::from_static(b"shim: moto unreachable"))))
            .unwrap()
    };
    let Ok(stream) = TcpStream::connect(upstream).await else {
        return failed();
    };
    let Ok((mut sender, connection)) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return failed();
    };
    tokio::spawn(connection);
    match sender.send_request(request).await {
        Ok(response) => response.map(Either::Left),
        Err(_) => failed(),
    }
}
