//! IAM as far as the shim needs it: the roles created through the traffic (their ARNs,
//! path included) and their trust policies, and what a trust policy allows.
//!
//! IAM refuses a trust policy whose `Principal` names a role that does not exist ("If
//! your Principal element in a role trust policy contains an ARN that points to a
//! specific IAM role, then that ARN transforms to the role unique principal ID when you
//! save the policy", "IAM JSON policy elements: Principal", IAM User Guide): `400
//! MalformedPolicyDocument`, "Invalid principal in policy". An assumed-role ARN drops the
//! role's path, so a principal rebuilt from it names no role when the role has one (an
//! IAM Identity Center role lives under `/aws-reserved/sso.amazonaws.com/`). moto accepts
//! any principal; the shim checks role principals in the accounts whose roles it has seen
//! created.

use std::sync::Mutex;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::regions::partition_of;
use super::{Body, Knowledge, Signer, buffered, form, forward, full};

/// The statements of a policy (`Statement` may be one object or a list).
fn statements(policy: &serde_json::Value) -> Vec<serde_json::Value> {
    match &policy["Statement"] {
        serde_json::Value::Array(statements) => statements.clone(),
        statement => vec![statement.clone()],
    }
}

/// A policy element's strings (one or a list).
fn strings(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::String(one) => vec![one.clone()],
        serde_json::Value::Array(many) => many
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether a trust policy lets `action` through for the caller (its principals are not
/// checked: moto does that much for `sts:AssumeRole`).
pub(super) fn trusts(policy: &serde_json::Value, action: &str) -> bool {
    statements(policy).iter().any(|statement| {
        statement["Effect"] == "Allow"
            && strings(&statement["Action"])
                .iter()
                .any(|a| a == action || a == "sts:*")
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

/// The first role principal of a trust policy that names no role the shim knows, in an
/// account whose roles it knows.
fn unknown_role_principal(policy: &serde_json::Value, knowledge: &Knowledge) -> Option<String> {
    statements(policy)
        .iter()
        .flat_map(|statement| strings(&statement["Principal"]["AWS"]))
        .find(|principal| {
            let Some((prefix, _)) = principal.split_once(":role/") else {
                return false;
            };
            let account = prefix.rsplit(':').next().unwrap_or("");
            principal.starts_with("arn:")
                && knowledge.roles.keys().any(|(known, _)| known == account)
                && !knowledge.roles.values().any(|arn| arn == principal)
        })
}

/// IAM's refusal of a policy document.
fn malformed(message: &str) -> Response<Body> {
    let xml = format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>MalformedPolicyDocument</Code><Message>{message}</Message></Error><RequestId>SHIM-IAM</RequestId></ErrorResponse>"
    );
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .header("content-type", "text/xml")
        .body(full(xml))
        .unwrap()
}

/// Forwards an IAM request and learns the roles it creates and their trust policies.
pub(super) async fn iam(
    request: Request<Incoming>,
    signer: &Signer,
    knowledge: &Mutex<Knowledge>,
    upstream: &str,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = buffered(body).await;
    let fields = form(&body);
    let action = fields.get("Action").map(String::as_str);
    let document = match action {
        Some("CreateRole") => fields.get("AssumeRolePolicyDocument"),
        Some("UpdateAssumeRolePolicy") => fields.get("PolicyDocument"),
        _ => None,
    };
    let policy: Option<serde_json::Value> = document.and_then(|d| serde_json::from_str(d).ok());
    if let Some(policy) = &policy
        && let Some(principal) = unknown_role_principal(policy, &knowledge.lock().unwrap())
    {
        return malformed(&format!(
            "Invalid principal in policy: \"AWS\":\"{principal}\""
        ));
    }
    let response = forward(Request::from_parts(parts, full(body)), upstream).await;
    let (Some(name), true) = (fields.get("RoleName"), response.status().is_success()) else {
        return response;
    };
    let mut knowledge = knowledge.lock().unwrap();
    let Some(account) = knowledge
        .sessions
        .get(&signer.key)
        .map(|s| s.account.clone())
    else {
        return response;
    };
    let id = (account.clone(), name.clone());
    if action == Some("CreateRole") {
        let path = fields.get("Path").map_or("/", String::as_str);
        let partition = partition_of(&signer.region).0;
        let arn = format!("arn:{partition}:iam::{account}:role{path}{name}");
        knowledge.roles.insert(id.clone(), arn);
    }
    if let (Some(policy), Some(arn)) = (policy, knowledge.roles.get(&id).cloned()) {
        knowledge.trust.insert(arn, policy);
    }
    response
}
