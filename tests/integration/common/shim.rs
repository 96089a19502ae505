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
//! - **Bucket regions** (S3's region redirects): a request on a bucket signed for another
//!   region than the bucket's is answered as S3 answers it — `301` with
//!   `x-amz-bucket-region` for a HEAD, `301 PermanentRedirect` for a GET, `400
//!   AuthorizationHeaderMalformed` (naming the region) for anything else, each with the
//!   `x-amz-bucket-region` header. moto serves any bucket from any region.
//! - **Trust policy conditions** (STS): an `AssumeRole` with session tags is refused
//!   (`403 AccessDenied`, in STS's own XML) unless the role's trust policy allows
//!   `sts:TagSession`; with a `SourceIdentity`, unless it allows `sts:SetSourceIdentity`;
//!   and when the trust policy requires an `sts:ExternalId`, unless that one is given.
//!   moto evaluates no trust policy.
//!
//! A test may also slow down copies (`delay_copies`), to have a call still in flight when
//! an invocation's time limit strikes.
//!
//! It learns what it needs from the traffic itself, as AWS knows it: the access key ids
//! that `AssumeRole` answers hand out (and into which account), which account's key
//! created each bucket and in which region (`LocationConstraint`), and each role's trust
//! policy (`CreateRole`, `UpdateAssumeRolePolicy`). Everything else passes through
//! unchanged, bodies streamed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
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

/// Faults to inject, on deterministic schedules (every Nth request of a kind; 0: never).
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Every Nth AssumeRole answered with STS's `Throttling` (HTTP 400, in STS's XML).
    pub sts_throttle_every: u32,
    /// Every Nth S3 request answered with `503 SlowDown`.
    pub s3_slowdown_every: u32,
    /// Every Nth GetObject of more than 1 MiB has its connection closed after 64 KiB of
    /// body.
    pub reset_large_get_every: u32,
    /// Each account's Nth S3 request (once per account) answered `400 ExpiredToken`.
    pub expire_each_account_at: u32,
    /// AbortMultipartUpload refused (403), as for a role without
    /// `s3:AbortMultipartUpload`.
    pub refuse_abort: bool,
    /// Every GetObject with `If-Match` (a resumed read) answered `412 PreconditionFailed`,
    /// as when the object was replaced since the read began.
    pub changed_since_read: bool,
}

/// How many faults of each kind were injected, and how many requests each schedule saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Injected {
    pub sts_throttles: u32,
    pub slowdowns: u32,
    pub resets: u32,
    pub expirations: u32,
    pub refused_aborts: u32,
    pub preconditions: u32,
}

#[derive(Debug, Default)]
struct Schedule {
    faults: Faults,
    assume_roles: u32,
    s3_requests: u32,
    large_gets: u32,
    per_account: HashMap<String, u32>,
    expired: std::collections::HashSet<String>,
    injected: Injected,
}

/// Counts one request on an every-Nth schedule: true when this one is the Nth.
fn nth(count: &mut u32, every: u32) -> bool {
    *count += 1;
    every > 0 && (*count).is_multiple_of(every)
}

/// A response body cut off after `left` bytes, the connection then broken.
struct Cut {
    inner: Incoming,
    left: usize,
}

impl hyper::body::Body for Cut {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        use std::task::Poll;
        if self.left == 0 {
            return Poll::Ready(Some(Err("shim: connection reset mid-body".into())));
        }
        match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    data.truncate(self.left);
                    self.left -= data.len();
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// An S3 error answer.
fn s3_fault(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>SHIM-FAULT</RequestId></Error>"
    );
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .body(full(xml))
        .unwrap()
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
    schedule: Schedule,
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
    /// From now on these faults are injected (schedules start counting afresh).
    pub fn inject(&self, faults: Faults) {
        let mut knowledge = self.knowledge.lock().unwrap();
        let injected = knowledge.schedule.injected;
        knowledge.schedule = Schedule {
            faults,
            injected,
            ..Schedule::default()
        };
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

/// S3's answer to a request addressed to the wrong region.
fn wrong_region(method: &hyper::Method, sent: &str, region: &str) -> Response<Body> {
    let (status, xml) = if method == hyper::Method::HEAD {
        (StatusCode::MOVED_PERMANENTLY, String::new())
    } else if method == hyper::Method::GET {
        (
            StatusCode::MOVED_PERMANENTLY,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message><RequestId>SHIM</RequestId></Error>".to_owned(),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region '{sent}' is wrong; expecting '{region}'</Message><Region>{region}</Region><RequestId>SHIM</RequestId></Error>"
            ),
        )
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .header("x-amz-bucket-region", region)
        .body(full(xml))
        .unwrap()
}

/// STS's refusal, in its own XML so that the SDK parses it.
fn sts_denied(action: &str, role: &str) -> Response<Body> {
    sts_error(
        StatusCode::FORBIDDEN,
        "AccessDenied",
        &format!("User is not authorized to perform: {action} on resource: {role}"),
    )
}

/// An STS error answer, in STS's own XML.
fn sts_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let xml = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>SHIM-STS</RequestId></ErrorResponse>"
    );
    Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .header("x-amzn-requestid", "SHIM-STS")
        .body(full(xml))
        .unwrap()
}

/// Whether a trust policy lets `action` through for the caller (its principals are not
/// checked: moto does that much for `sts:AssumeRole`).
fn trusts(policy: &serde_json::Value, action: &str) -> bool {
    let statements = match &policy["Statement"] {
        serde_json::Value::Array(statements) => statements.clone(),
        statement => vec![statement.clone()],
    };
    statements.iter().any(|statement| {
        let actions = match &statement["Action"] {
            serde_json::Value::String(one) => vec![one.clone()],
            serde_json::Value::Array(many) => many
                .iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        statement["Effect"] == "Allow" && actions.iter().any(|a| a == action || a == "sts:*")
    })
}

/// The external id a trust policy requires, if any.
fn required_external_id(policy: &serde_json::Value) -> Option<String> {
    let statements = match &policy["Statement"] {
        serde_json::Value::Array(statements) => statements.clone(),
        statement => vec![statement.clone()],
    };
    statements.iter().find_map(|statement| {
        statement["Condition"]["StringEquals"]["sts:ExternalId"]
            .as_str()
            .map(str::to_owned)
    })
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
        .body(full(xml))
        .unwrap()
}

async fn handle(
    request: Request<Incoming>,
    knowledge: Arc<Mutex<Knowledge>>,
    upstream: String,
) -> Result<Response<Body>, Infallible> {
    let signer = signer(&request);
    let service = signer.as_ref().map(|signer| signer.service.as_str());
    if service == Some("sts") {
        return Ok(sts(request, &knowledge, &upstream).await);
    }
    if service == Some("iam") {
        let signer = signer.expect("signed");
        return Ok(iam(request, &signer, &knowledge, &upstream).await);
    }
    if service != Some("s3") {
        return Ok(forward(request.map(streamed), &upstream).await);
    }
    let signer = signer.expect("signed");
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
        if !creates_bucket
            && let Some(region) = knowledge.regions.get(&bucket)
            && *region != signer.region
        {
            return Ok(wrong_region(request.method(), &signer.region, region));
        }
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
            let source_bucket = source
                .trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or("");
            if owner_of(source_bucket).is_some_and(|owner| owner != expected) {
                return Ok(access_denied());
            }
        }
    }
    let copy_delay = knowledge.lock().unwrap().copy_delay;
    if request.headers().contains_key("x-amz-copy-source") && !copy_delay.is_zero() {
        tokio::time::sleep(copy_delay).await;
    }
    if !creates_bucket && let Some(fault) = s3_fault_for(&request, &signer, &knowledge) {
        return Ok(fault);
    }
    if creates_bucket {
        // The body names the bucket's region; none means us-east-1.
        let (parts, body) = request.into_parts();
        let body = buffered(body).await;
        let text = String::from_utf8_lossy(&body);
        let region = xml_field(&text, "LocationConstraint")
            .unwrap_or("us-east-1")
            .to_owned();
        let request = Request::from_parts(parts, full(body));
        let response = forward(request, &upstream).await;
        if response.status().is_success() {
            let mut knowledge = knowledge.lock().unwrap();
            if let Some(account) = knowledge.keys.get(&signer.key).cloned() {
                knowledge.owners.insert(bucket.clone(), account);
            }
            knowledge.regions.insert(bucket, region);
        }
        return Ok(response);
    }
    // GetObject: a GET on a key (the SDK adds `?x-id=GetObject`).
    let is_get = request.method() == hyper::Method::GET
        && path.trim_start_matches('/').contains('/')
        && !request
            .uri()
            .query()
            .is_some_and(|q| q.contains("uploadId") || q.contains("tagging"));
    let Some(response) = forward_raw(request.map(streamed), &upstream).await else {
        return Ok(forward_failed());
    };
    let large = response
        .headers()
        .get("content-length")
        .and_then(|l| l.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|length| length > 1 << 20);
    if is_get && large && response.status().is_success() {
        let mut knowledge = knowledge.lock().unwrap();
        let schedule = &mut knowledge.schedule;
        if nth(
            &mut schedule.large_gets,
            schedule.faults.reset_large_get_every,
        ) {
            schedule.injected.resets += 1;
            drop(knowledge);
            return Ok(response.map(|inner| {
                Cut {
                    inner,
                    left: 64 << 10,
                }
                .boxed()
            }));
        }
    }
    Ok(response.map(streamed))
}

/// The fault an S3 request meets on the current schedule, if any.
fn s3_fault_for(
    request: &Request<Incoming>,
    signer: &Signer,
    knowledge: &Mutex<Knowledge>,
) -> Option<Response<Body>> {
    let mut knowledge = knowledge.lock().unwrap();
    let account = knowledge.keys.get(&signer.key).cloned();
    let schedule = &mut knowledge.schedule;
    let faults = schedule.faults;
    let query = request.uri().query().unwrap_or("");
    if faults.refuse_abort
        && request.method() == hyper::Method::DELETE
        && query.contains("uploadId=")
    {
        schedule.injected.refused_aborts += 1;
        return Some(s3_fault(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Access Denied",
        ));
    }
    if faults.changed_since_read && request.headers().contains_key("if-match") {
        schedule.injected.preconditions += 1;
        return Some(s3_fault(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        ));
    }
    if let Some(account) = account
        && faults.expire_each_account_at > 0
        && !schedule.expired.contains(&account)
    {
        let seen = schedule.per_account.entry(account.clone()).or_default();
        *seen += 1;
        if *seen == faults.expire_each_account_at {
            schedule.expired.insert(account);
            schedule.injected.expirations += 1;
            return Some(s3_fault(
                StatusCode::BAD_REQUEST,
                "ExpiredToken",
                "The provided token has expired.",
            ));
        }
    }
    if nth(&mut schedule.s3_requests, faults.s3_slowdown_every) {
        schedule.injected.slowdowns += 1;
        return Some(s3_fault(
            StatusCode::SERVICE_UNAVAILABLE,
            "SlowDown",
            "Please reduce your request rate.",
        ));
    }
    None
}

/// Forwards an STS request and learns which account the keys an AssumeRole hands out act
/// in.
async fn sts(
    request: Request<Incoming>,
    knowledge: &Mutex<Knowledge>,
    upstream: &str,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = buffered(body).await;
    let fields = form(&body);
    if fields.get("Action").map(String::as_str) == Some("AssumeRole") {
        let mut known = knowledge.lock().unwrap();
        let schedule = &mut known.schedule;
        if nth(
            &mut schedule.assume_roles,
            schedule.faults.sts_throttle_every,
        ) {
            schedule.injected.sts_throttles += 1;
            drop(known);
            return sts_error(StatusCode::BAD_REQUEST, "Throttling", "Rate exceeded");
        }
        drop(known);
        let role = fields.get("RoleArn").cloned().unwrap_or_default();
        let policy = knowledge.lock().unwrap().trust.get(&role).cloned();
        if let Some(policy) = policy {
            let tagged = fields.keys().any(|k| k.starts_with("Tags.member."));
            if tagged && !trusts(&policy, "sts:TagSession") {
                return sts_denied("sts:TagSession", &role);
            }
            if fields.contains_key("SourceIdentity") && !trusts(&policy, "sts:SetSourceIdentity") {
                return sts_denied("sts:SetSourceIdentity", &role);
            }
            if let Some(required) = required_external_id(&policy)
                && fields.get("ExternalId") != Some(&required)
            {
                return sts_denied("sts:AssumeRole", &role);
            }
        }
    }
    let request = Request::from_parts(parts, full(body));
    let (parts, body) = forward(request, upstream).await.into_parts();
    let body = buffered(body).await;
    let text = String::from_utf8_lossy(&body);
    if let (Some(key), Some(arn)) = (xml_field(&text, "AccessKeyId"), xml_field(&text, "Arn"))
        && let Some(account) = arn.split(':').nth(4)
    {
        knowledge
            .lock()
            .unwrap()
            .keys
            .insert(key.to_owned(), account.to_owned());
    }
    Response::from_parts(parts, full(body))
}

/// Forwards an IAM request and learns the trust policies of the roles it creates or
/// changes.
async fn iam(
    request: Request<Incoming>,
    signer: &Signer,
    knowledge: &Mutex<Knowledge>,
    upstream: &str,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = buffered(body).await;
    let fields = form(&body);
    let request = Request::from_parts(parts, full(body));
    let response = forward(request, upstream).await;
    let document = match fields.get("Action").map(String::as_str) {
        Some("CreateRole") => fields.get("AssumeRolePolicyDocument"),
        Some("UpdateAssumeRolePolicy") => fields.get("PolicyDocument"),
        _ => None,
    };
    if response.status().is_success()
        && let (Some(document), Some(name)) = (document, fields.get("RoleName"))
        && let Ok(policy) = serde_json::from_str(document)
    {
        let mut knowledge = knowledge.lock().unwrap();
        if let Some(account) = knowledge.keys.get(&signer.key).cloned() {
            knowledge
                .trust
                .insert(format!("arn:aws:iam::{account}:role/{name}"), policy);
        }
    }
    response
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
