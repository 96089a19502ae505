//! An S3/STS-semantics shim in front of moto: where moto is more lenient than AWS, the
//! shim answers as AWS documents, so the host is tested against AWS's behaviour rather
//! than trusted to send the right thing.
//!
//! Each rule is AWS's as its documentation states it (the page is named where the rule is
//! written), read beside what botocore and aws-sdk-rust do with the same answers:
//! - [`regions`] — a bucket is served from its own region: `301`, `400
//!   AuthorizationHeaderMalformed`, and across opt-in regions `400
//!   IllegalLocationConstraintException` with or without `x-amz-bucket-region` and
//!   `<Region>` ([`OptInRedirect`]); the partition of a region.
//! - [`s3`] — the expected bucket owner; CopyObject's 5 GB limit (lowerable:
//!   [`Shim::limit_copies`]); a missing key is `403` to a session that may not list the
//!   bucket; [`listing`] — ListBuckets gives `BucketRegion` only when paginated, and
//!   refuses unpaginated calls in accounts with a quota over 10,000
//!   ([`Shim::flag_large_bucket_quota`]).
//! - [`access`] — the inline session policy of each AssumeRole bounds its session, for S3
//!   ([`policy`], [`operation`]) and for the KMS calls S3 makes on SSE-KMS data
//!   ([`kms`], with [`objects`] remembering each object's key and size).
//! - [`sts`] — AssumeRole: session-policy characters, length and packed size; role
//!   chaining's one-hour limit; an inherited source identity kept; trust-policy
//!   conditions (`sts:TagSession`, `sts:SetSourceIdentity`, `sts:ExternalId`); no
//!   `OrganizationAccountAccessRole` in the management account ([`organizations`]).
//! - [`iam`] — the roles created (path included) and their trust policies; a trust policy
//!   naming a role that does not exist is refused.
//! - [`faults`] — AWS's faults on deterministic schedules ([`Faults`]), HEAD answered as
//!   S3 answers a HEAD (no body).
//!
//! A test may also slow down copies (`delay_copies`), to have a call still in flight when
//! an invocation's time limit strikes.
//!
//! It learns what it needs from the traffic itself, as AWS knows it: the sessions
//! `AssumeRole` hands out (account, ARN, session policy, source identity, by access key
//! id), which account's key created each bucket and in which region
//! (`LocationConstraint`), each bucket's default encryption, each object's size and KMS
//! key, each role's ARN and trust policy, and who created the organization. Everything
//! else passes through unchanged, bodies streamed.

mod access;
mod faults;
mod iam;
mod kms;
mod listing;
mod objects;
mod operation;
mod organizations;
mod policy;
mod regions;
mod s3;
mod sts;

pub use faults::{Faults, Injected};
pub use regions::OptInRedirect;

use std::collections::{HashMap, HashSet};
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

/// A role session an AssumeRole handed out.
#[derive(Debug, Clone)]
struct Session {
    /// The account it acts in.
    account: String,
    /// `arn:…:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    arn: String,
    /// Its inline session policy.
    policy: Option<serde_json::Value>,
    /// Its source identity, set or inherited.
    source_identity: Option<String>,
}

/// What the shim has learned of the accounts behind the traffic, and the test's settings.
#[derive(Default)]
struct Knowledge {
    /// Access key id → its session.
    sessions: HashMap<String, Session>,
    /// Bucket → the account that created it.
    owners: HashMap<String, String>,
    /// Bucket → its region.
    regions: HashMap<String, String>,
    /// Bucket → the KMS key of its default encryption (SSE-KMS with a customer key).
    encryption: HashMap<String, String>,
    objects: objects::Objects,
    /// (account, role name) → role ARN, path included.
    roles: HashMap<(String, String), String>,
    /// Role ARN → its trust policy.
    trust: HashMap<String, serde_json::Value>,
    /// Accounts that created an organization.
    management: HashSet<String>,
    /// Accounts whose general purpose bucket quota is over 10,000.
    large_quota: HashSet<String>,
    opt_in_redirect: OptInRedirect,
    /// ListBuckets names no `BucketRegion`, as an S3-compatible endpoint may not.
    no_bucket_regions: bool,
    /// CopyObject's limit, when a test lowers it.
    copy_limit: Option<u64>,
    /// Requests answered with a redirect to the bucket's region.
    redirects: u32,
    /// Account → ListBuckets pages answered to its sessions.
    bucket_listings: HashMap<String, u32>,
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

    /// From now on CopyObject refuses sources larger than `bytes` (instead of 5 GB), so
    /// that a test copies megabytes rather than gigabytes across the limit.
    pub fn limit_copies(&self, bytes: u64) {
        self.knowledge.lock().unwrap().copy_limit = Some(bytes);
    }

    /// `account` has a general purpose bucket quota over 10,000: its unpaginated
    /// ListBuckets are refused.
    pub fn flag_large_bucket_quota(&self, account: &str) {
        self.knowledge
            .lock()
            .unwrap()
            .large_quota
            .insert(account.to_owned());
    }

    /// How buckets in opt-in regions answer requests sent to another region.
    pub fn answer_opt_in_redirects(&self, how: OptInRedirect) {
        self.knowledge.lock().unwrap().opt_in_redirect = how;
    }

    /// From now on ListBuckets names no bucket's region (S3 names it in paginated answers:
    /// "ListBuckets", S3 API Reference; an S3-compatible endpoint may not): a session then
    /// learns a bucket's region from the redirect of its first request there, even after
    /// the host's ownership listing.
    pub fn name_no_bucket_regions(&self) {
        self.knowledge.lock().unwrap().no_bucket_regions = true;
    }

    /// How many ListBuckets pages `account`'s sessions were answered.
    pub fn bucket_listings(&self, account: &str) -> u32 {
        let knowledge = self.knowledge.lock().unwrap();
        knowledge.bucket_listings.get(account).copied().unwrap_or(0)
    }

    /// How many requests were answered with a redirect to their bucket's region.
    pub fn redirects(&self) -> u32 {
        self.knowledge.lock().unwrap().redirects
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

/// Text as XML character data.
fn xml_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An S3 error answer; a HEAD's has no body (S3 answers every HEAD so).
fn s3_error(
    method: &hyper::Method,
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response<Body> {
    let response = Response::builder()
        .status(status)
        .header("x-amz-request-id", "SHIM")
        .header("x-amz-id-2", "SHIM");
    if method == hyper::Method::HEAD {
        return response.body(full("")).unwrap();
    }
    let message = xml_escaped(message);
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>SHIM</RequestId></Error>"
    );
    response
        .header("content-type", "application/xml")
        .body(full(xml))
        .unwrap()
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
        "sts" => sts::sts(request, &signer, &knowledge, &upstream).await,
        "organizations" => {
            organizations::organizations(request, &signer, &knowledge, &upstream).await
        }
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
