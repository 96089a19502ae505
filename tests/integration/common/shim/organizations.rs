//! AWS Organizations, as far as the shim needs it: which account is an organization's
//! management account (the one that created it: it has no `OrganizationAccountAccessRole`,
//! see [`super::sts`]), `ListTagsForResource` throttled on the test's schedule
//! (Organizations' request rates are low: "Quotas for AWS Organizations", Organizations
//! User Guide), answered `TooManyRequestsException` in the JSON protocol, and an outage
//! (`500 ServiceException`) for a test's first requests. It counts the listings of the
//! organization's accounts and the most tag listings in flight at once.

use std::sync::Mutex;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::{Body, Knowledge, Signer, buffered, forward, full, header};

/// Organizations' throttling answer.
fn too_many_requests() -> Response<Body> {
    let body = "{\"__type\":\"TooManyRequestsException\",\"Message\":\"You have sent too many requests in too short a period of time. The quota helps protect against denial-of-service attacks. Try again later.\",\"Type\":\"client\"}";
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amzn-requestid", "SHIM-ORGANIZATIONS")
        .body(full(body))
        .unwrap()
}

/// Organizations' answer during an outage.
fn service_exception() -> Response<Body> {
    let body = "{\"__type\":\"ServiceException\",\"Message\":\"AWS Organizations can't complete your request because of an internal service error. Try again later.\"}";
    Response::builder()
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amzn-requestid", "SHIM-ORGANIZATIONS")
        .body(full(body))
        .unwrap()
}

/// Forwards an Organizations request, failed or throttled on schedule, and learns who
/// manages the organization.
pub(super) async fn organizations(
    request: Request<Incoming>,
    signer: &Signer,
    knowledge: &Mutex<Knowledge>,
    upstream: &str,
) -> Response<Body> {
    let operation = header(&request, "x-amz-target")
        .and_then(|target| target.rsplit('.').next())
        .unwrap_or("")
        .to_owned();
    if knowledge.lock().unwrap().schedule.fails_organizations() {
        return service_exception();
    }
    let (parts, body) = request.into_parts();
    let body = buffered(body).await;
    if operation == "ListTagsForResource" {
        let resource = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|b| b["ResourceId"].as_str().map(str::to_owned))
            .unwrap_or_default();
        if knowledge
            .lock()
            .unwrap()
            .schedule
            .throttles_tags_of(&resource)
        {
            return too_many_requests();
        }
    }
    // Where a listing of the organization's accounts starts: the host walks it from its
    // roots.
    if operation == "ListRoots" {
        knowledge.lock().unwrap().schedule.injected.account_listings += 1;
    }
    let response = if operation == "ListTagsForResource" {
        let delay = knowledge.lock().unwrap().schedule.tags_listing();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let response = forward(Request::from_parts(parts, full(body)), upstream).await;
        knowledge.lock().unwrap().schedule.tags_listed();
        response
    } else {
        forward(Request::from_parts(parts, full(body)), upstream).await
    };
    if operation == "CreateOrganization" && response.status().is_success() {
        let mut knowledge = knowledge.lock().unwrap();
        if let Some(account) = knowledge
            .sessions
            .get(&signer.key)
            .map(|s| s.account.clone())
        {
            knowledge.management.insert(account);
        }
    }
    response
}
