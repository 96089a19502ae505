//! IAM as far as the shim needs it: the trust policy of every role created or changed
//! through the traffic, and what a trust policy allows.

use std::sync::Mutex;

use hyper::body::Incoming;
use hyper::{Request, Response};

use super::{Body, Knowledge, Signer, buffered, form, forward, full};

/// The statements of a policy (`Statement` may be one object or a list).
fn statements(policy: &serde_json::Value) -> Vec<serde_json::Value> {
    match &policy["Statement"] {
        serde_json::Value::Array(statements) => statements.clone(),
        statement => vec![statement.clone()],
    }
}

/// Whether a trust policy lets `action` through for the caller (its principals are not
/// checked: moto does that much for `sts:AssumeRole`).
pub(super) fn trusts(policy: &serde_json::Value, action: &str) -> bool {
    statements(policy).iter().any(|statement| {
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
pub(super) fn required_external_id(policy: &serde_json::Value) -> Option<String> {
    statements(policy).iter().find_map(|statement| {
        statement["Condition"]["StringEquals"]["sts:ExternalId"]
            .as_str()
            .map(str::to_owned)
    })
}

/// Forwards an IAM request and learns the trust policies of the roles it creates or
/// changes.
pub(super) async fn iam(
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
