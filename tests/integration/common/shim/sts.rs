//! STS as AWS answers it: AssumeRole refused where the role's trust policy does not allow
//! what the request asks for, and the access keys it hands out remembered (which account
//! they act in), so that the S3 and IAM rules know who signs each request.

use std::sync::Mutex;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::iam::{required_external_id, trusts};
use super::{Body, Knowledge, buffered, form, forward, full, xml_field};

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

/// Forwards an STS request and learns which account the keys an AssumeRole hands out act
/// in.
pub(super) async fn sts(
    request: Request<Incoming>,
    knowledge: &Mutex<Knowledge>,
    upstream: &str,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = buffered(body).await;
    let fields = form(&body);
    if fields.get("Action").map(String::as_str) == Some("AssumeRole") {
        if knowledge.lock().unwrap().schedule.throttles_assume_role() {
            return sts_error(StatusCode::BAD_REQUEST, "Throttling", "Rate exceeded");
        }
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
