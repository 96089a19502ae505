//! An S3/STS-semantics shim in front of moto: where moto is more lenient than AWS, the
//! shim answers as AWS documents, so the host is tested against AWS's behaviour rather
//! than trusted to send the right thing.
//!
//! What it enforces, one module per service:
//! - [`s3`] — **Bucket owner** (S3 `ExpectedBucketOwner`): a request whose
//!   `x-amz-expected-bucket-owner` names another account than the bucket's owner, or whose
//!   `x-amz-source-expected-bucket-owner` names another account than the copy source's
//!   owner, is refused with `403 AccessDenied` and never reaches moto (moto ignores both
//!   headers). **Bucket regions** (S3's region redirects): a request on a bucket signed
//!   for another region than the bucket's is answered as S3 answers it — `301` with
//!   `x-amz-bucket-region` for a HEAD, `301 PermanentRedirect` for a GET, `400
//!   AuthorizationHeaderMalformed` (naming the region) for anything else, each with the
//!   `x-amz-bucket-region` header. moto serves any bucket from any region.
//! - [`sts`] — **Trust policy conditions**: an `AssumeRole` with session tags is refused
//!   (`403 AccessDenied`, in STS's own XML) unless the role's trust policy allows
//!   `sts:TagSession`; with a `SourceIdentity`, unless it allows `sts:SetSourceIdentity`;
//!   and when the trust policy requires an `sts:ExternalId`, unless that one is given.
//!   moto evaluates no trust policy.
//! - [`faults`] — AWS's faults on deterministic schedules ([`Faults`]).
//!
//! A test may also slow down copies (`delay_copies`), to have a call still in flight when
//! an invocation's time limit strikes.
//!
//! It learns what it needs from the traffic itself, as AWS knows it: the access key ids
//! that `AssumeRole` answers hand out (and into which account), which account's key
//! created each bucket and in which region (`LocationConstraint`), and each role's trust
//! policy (`CreateRole`, `UpdateAssumeRolePolicy`, in [`iam`]). Everything else passes
//! through unchanged, bodies streamed.

mod faults;
mod iam;
mod s3;
mod sts;

pub use faults::{Faults, Injected};

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = BoxBody<Bytes, BoxError>;

/// A body held in memory.
fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// The whole of a body (small ones only: requests and answers the shim reads).
async fn buffered<B: hyper::body::Body>(body: B) -> Bytes {
    body.collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

/// A body streamed through.
fn streamed(body: Incoming) -> Body {
    body.map_err(BoxError::from).boxed()
}

/// What the shim has learned of the accounts behind the traffic.
#[derive(Default)]
struct Knowledge {
    /// Access key id → the account it acts in.
    keys: HashMap<String, String>,
    /// Bucket → the account that created it.
    owners: HashMap<String, String>,
    /// Bucket → its region.
    regions: HashMap<String, String>,
    /// Role ARN → its trust policy.
    trust: HashMap<String, serde_json::Value>,
    /// How long a CopyObject waits before it reaches moto.
    copy_delay: std::time::Duration,
    schedule: faults::Schedule,
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

    /// From now on these faults are injected (schedules start counting afresh).
    pub fn inject(&self, faults: Faults) {
        let mut knowledge = self.knowledge.lock().unwrap();
        knowledge.schedule = knowledge.schedule.restart(faults);
    }

    /// The faults injected so far.
    pub fn injected(&self) -> Injected {
        self.knowledge.lock().unwrap().schedule.injected
    }

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

/// Who signed a request and for what: a SigV4 `Authorization` header's
/// `Credential=AKID/DATE/REGION/SERVICE/aws4_request`.
struct Signer {
    key: String,
    region: String,
    service: String,
}

fn signer(request: &Request<Incoming>) -> Option<Signer> {
    let header = request.headers().get("authorization")?.to_str().ok()?;
    let credential = header.split("Credential=").nth(1)?.split(',').next()?;
    let mut scope = credential.split('/');
    let key = scope.next()?.to_owned();
    let _date = scope.next()?;
    let region = scope.next()?.to_owned();
    let service = scope.next()?.to_owned();
    Some(Signer {
        key,
        region,
        service,
    })
}

/// The decoded fields of a form-encoded (Query protocol) body.
fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
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

/// Routes a request by the service its signature names.
async fn handle(
    request: Request<Incoming>,
    knowledge: Arc<Mutex<Knowledge>>,
    upstream: String,
) -> Result<Response<Body>, Infallible> {
    let Some(signer) = signer(&request) else {
        return Ok(forward(request.map(streamed), &upstream).await);
    };
    Ok(match signer.service.as_str() {
        "sts" => sts::sts(request, &knowledge, &upstream).await,
        "iam" => iam::iam(request, &signer, &knowledge, &upstream).await,
        "s3" => s3::s3(request, &signer, knowledge, &upstream).await,
        _ => forward(request.map(streamed), &upstream).await,
    })
}

/// Sends a request on to moto as it came (same Host header, so signatures still match)
/// and streams the answer back.
async fn forward(request: Request<Body>, upstream: &str) -> Response<Body> {
    match forward_raw(request, upstream).await {
        Some(response) => response.map(streamed),
        None => forward_failed(),
    }
}

fn forward_failed() -> Response<Body> {
    Response::builder()
        .status(StatusCode::BAD_GATEWAY)
        .body(full(Bytes::from_static(b"shim: moto unreachable")))
        .unwrap()
}

/// moto's answer as it comes, or none if moto could not be reached.
async fn forward_raw(request: Request<Body>, upstream: &str) -> Option<Response<Incoming>> {
    let stream = TcpStream::connect(upstream).await.ok()?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(connection);
    sender.send_request(request).await.ok()
}
