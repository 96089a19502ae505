//! S3 as AWS answers it where moto is lenient: the expected bucket owner, and buckets
//! served from their own region only.

use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::faults::{Cut, s3_fault_for};
use super::{
    Body, Knowledge, Signer, buffered, forward, forward_failed, forward_raw, full, header,
    streamed, xml_field,
};

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

/// An S3 request, held to S3's rules, then forwarded.
pub(super) async fn s3(
    request: Request<Incoming>,
    signer: &Signer,
    knowledge: Arc<Mutex<Knowledge>>,
    upstream: &str,
) -> Response<Body> {
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
            return wrong_region(request.method(), &signer.region, region);
        }
        let owner_of = |bucket: &str| knowledge.owners.get(bucket).cloned();
        if let (Some(expected), Some(owner)) = (
            header(&request, "x-amz-expected-bucket-owner"),
            owner_of(&bucket),
        ) && expected != owner
        {
            return access_denied();
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
                return access_denied();
            }
        }
    }
    let copy_delay = knowledge.lock().unwrap().copy_delay;
    if request.headers().contains_key("x-amz-copy-source") && !copy_delay.is_zero() {
        tokio::time::sleep(copy_delay).await;
    }
    if !creates_bucket && let Some(fault) = s3_fault_for(&request, signer, &knowledge) {
        return fault;
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
        let response = forward(request, upstream).await;
        if response.status().is_success() {
            let mut knowledge = knowledge.lock().unwrap();
            if let Some(account) = knowledge.keys.get(&signer.key).cloned() {
                knowledge.owners.insert(bucket.clone(), account);
            }
            knowledge.regions.insert(bucket, region);
        }
        return response;
    }
    // GetObject: a GET on a key (the SDK adds `?x-id=GetObject`).
    let is_get = request.method() == hyper::Method::GET
        && path.trim_start_matches('/').contains('/')
        && !request
            .uri()
            .query()
            .is_some_and(|q| q.contains("uploadId") || q.contains("tagging"));
    let Some(response) = forward_raw(request.map(streamed), upstream).await else {
        return forward_failed();
    };
    let large = response
        .headers()
        .get("content-length")
        .and_then(|l| l.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|length| length > 1 << 20);
    if is_get
        && large
        && response.status().is_success()
        && knowledge.lock().unwrap().schedule.resets_large_get()
    {
        return response.map(|inner| {
            Cut {
                inner,
                left: 64 << 10,
            }
            .boxed()
        });
    }
    response.map(streamed)
}
