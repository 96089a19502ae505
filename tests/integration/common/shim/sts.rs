//! STS as AWS answers `AssumeRole` (AssumeRole, STS API Reference), where moto checks
//! nothing. In the order STS validates, then authorizes:
//!
//! - **Session policy text**: "The JSON policy characters can be any ASCII character from
//!   the space character to the end of the valid character list (\u0020 through \u00FF).
//!   It can also include the tab (\u0009), linefeed (\u000A), and carriage return
//!   (\u000D) characters" — the parameter's pattern, so a violation is the `400
//!   ValidationError` AWS gives any pattern violation; at most 2,048 characters
//!   (`ValidationError` too); JSON that does not parse is `MalformedPolicyDocument`.
//! - **Packed size**: "An AWS conversion compresses the passed inline session policy,
//!   managed policy ARNs, and session tags into a packed binary format that has a separate
//!   limit" (`400 PackedPolicyTooLarge`, "Packed policy consumes N% of allotted space").
//!   The packing is not documented; the shim approximates it, deliberately on the strict
//!   side: the policy's compact JSON plus every tag's key and value, against 2,048 — so a
//!   policy at the plaintext limit with session tags is too large, as the issue reports
//!   from AWS. The answer's `PackedPolicySize` is that percentage.
//! - **Role chaining**: a role session assuming a role ("role chaining", "Roles terms and
//!   concepts", IAM User Guide) may ask at most 3,600 `DurationSeconds`: `400
//!   ValidationError`, "The requested DurationSeconds exceeds the 1 hour session limit for
//!   roles assumed by role chaining." The caller is a role session when its access key
//!   came from an AssumeRole the shim saw.
//! - **Source identity** ("Monitor and control actions taken with assumed roles", IAM
//!   User Guide): once set, it "persists when a role is used to assume another role" and
//!   "cannot be changed during the role session": an AssumeRole from a session that has
//!   one, asking for another, is refused (`403 AccessDenied`); asking for none inherits it
//!   (the answer's `SourceIdentity` says so); and "permissions for sts:SetSourceIdentity
//!   are required … in the role trust policy of the target role" when chaining with one.
//! - **The management account** has no `OrganizationAccountAccessRole` (AWS creates it
//!   only in accounts created through the organization: "Accessing member accounts in
//!   your organization", Organizations User Guide): assuming it is `403 AccessDenied`
//!   unless the test created it.
//! - **Trust policy conditions** ([`super::iam`]): session tags need `sts:TagSession`, a
//!   source identity `sts:SetSourceIdentity`, and a required `sts:ExternalId` must be
//!   given.
//!
//! The access keys an AssumeRole hands out are remembered with their session: the account
//! they act in, the session's ARN, its session policy and its source identity.

use std::collections::HashMap;
use std::sync::Mutex;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::iam::{required_external_id, trusts};
use super::{
    Body, Knowledge, Session, Signer, buffered, form, forward, full, xml_escaped, xml_field,
};

/// The plaintext limit of an inline session policy, and the packed limit the shim
/// approximates with it.
const POLICY_CHARACTERS: usize = 2048;
/// The longest session a role session may ask for.
const CHAINED_SECONDS: u64 = 3600;

/// Why STS refuses an AssumeRole.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    fn validation(message: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "ValidationError",
            message: message.into(),
        }
    }

    fn denied(caller: &str, action: &str, role: &str) -> Refusal {
        Refusal {
            status: StatusCode::FORBIDDEN,
            code: "AccessDenied",
            message: format!(
                "User: {caller} is not authorized to perform: {action} on resource: {role}"
            ),
        }
    }

    fn answer(&self) -> Response<Body> {
        sts_error(self.status, self.code, &self.message)
    }
}

/// An STS error answer, in STS's own XML so that the SDK parses it.
fn sts_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let message = xml_escaped(message);
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

/// What an AssumeRole STS accepted asks of the session it creates.
struct Granted {
    policy: Option<serde_json::Value>,
    source_identity: Option<String>,
    packed_percent: u64,
}

/// The approximate packed size, in percent of the limit: see the module's documentation.
fn packed_percent(policy: Option<&serde_json::Value>, fields: &HashMap<String, String>) -> u64 {
    let policy = policy.map_or(0, |p| p.to_string().chars().count());
    let tags: usize = fields
        .iter()
        .filter(|(k, _)| {
            k.starts_with("Tags.member.") && (k.ends_with(".Key") || k.ends_with(".Value"))
        })
        .map(|(_, v)| v.chars().count())
        .sum();
    ((policy + tags) * 100).div_ceil(POLICY_CHARACTERS) as u64
}

/// Checks an AssumeRole as STS does: the session it grants, or STS's refusal.
fn assume_role(
    fields: &HashMap<String, String>,
    signer: &Signer,
    knowledge: &mut Knowledge,
) -> Result<Granted, Refusal> {
    if knowledge.schedule.throttles_assume_role() {
        return Err(Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "Throttling",
            message: "Rate exceeded".into(),
        });
    }
    let role = fields.get("RoleArn").cloned().unwrap_or_default();
    let policy = match fields.get("Policy") {
        None => None,
        Some(text) => {
            if let Some(bad) = text
                .chars()
                .find(|c| !matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{FF}'))
            {
                return Err(Refusal::validation(format!(
                    "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+ (the shim found {bad:?})"
                )));
            }
            if text.chars().count() > POLICY_CHARACTERS {
                return Err(Refusal::validation(format!(
                    "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to {POLICY_CHARACTERS}"
                )));
            }
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(policy) => Some(policy),
                Err(err) => {
                    return Err(Refusal {
                        status: StatusCode::BAD_REQUEST,
                        code: "MalformedPolicyDocument",
                        message: format!("Syntax errors in policy: {err}"),
                    });
                }
            }
        }
    };
    let packed = packed_percent(policy.as_ref(), fields);
    if packed > 100 {
        let tagged = fields.keys().any(|k| k.starts_with("Tags.member."));
        let message = if tagged && packed_percent(policy.as_ref(), &HashMap::new()) <= 100 {
            format!("Packed size of session tags consumes {packed}% of allotted space.")
        } else {
            format!(
                "Packed policy consumes {packed}% of allotted space, please use smaller policy."
            )
        };
        return Err(Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "PackedPolicyTooLarge",
            message,
        });
    }
    let caller = knowledge.sessions.get(&signer.key).cloned();
    let duration: u64 = fields
        .get("DurationSeconds")
        .and_then(|d| d.parse().ok())
        .unwrap_or(CHAINED_SECONDS);
    if caller.is_some() && duration > CHAINED_SECONDS {
        return Err(Refusal::validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    let caller_arn = caller.as_ref().map_or_else(
        || format!("the caller with key {}", signer.key),
        |c| c.arn.clone(),
    );
    let inherited = caller.as_ref().and_then(|c| c.source_identity.clone());
    let asked = fields.get("SourceIdentity").cloned();
    if let (Some(inherited), Some(asked)) = (&inherited, &asked)
        && inherited != asked
    {
        return Err(Refusal::denied(
            &caller_arn,
            &format!(
                "sts:SetSourceIdentity (the session's source identity {inherited:?} cannot be changed)"
            ),
            &role,
        ));
    }
    let management_role = role.rsplit_once(":role/").is_some_and(|(prefix, name)| {
        name == "OrganizationAccountAccessRole"
            && prefix
                .rsplit(':')
                .next()
                .is_some_and(|account| knowledge.management.contains(account))
    });
    if management_role && !knowledge.roles.values().any(|arn| *arn == role) {
        return Err(Refusal::denied(&caller_arn, "sts:AssumeRole", &role));
    }
    let source_identity = asked.or(inherited);
    if let Some(trust) = knowledge.trust.get(&role) {
        let tagged = fields.keys().any(|k| k.starts_with("Tags.member."));
        if tagged && !trusts(trust, "sts:TagSession") {
            return Err(Refusal::denied(&caller_arn, "sts:TagSession", &role));
        }
        if source_identity.is_some() && !trusts(trust, "sts:SetSourceIdentity") {
            return Err(Refusal::denied(&caller_arn, "sts:SetSourceIdentity", &role));
        }
        if let Some(required) = required_external_id(trust)
            && fields.get("ExternalId") != Some(&required)
        {
            return Err(Refusal::denied(&caller_arn, "sts:AssumeRole", &role));
        }
    }
    Ok(Granted {
        policy,
        source_identity,
        packed_percent: packed,
    })
}

/// Forwards an STS request held to STS's rules, and learns the sessions AssumeRole hands
/// out.
pub(super) async fn sts(
    request: Request<Incoming>,
    signer: &Signer,
    knowledge: &Mutex<Knowledge>,
    upstream: &str,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = buffered(body).await;
    let fields = form(&body);
    let granted = if fields.get("Action").map(String::as_str) == Some("AssumeRole") {
        match assume_role(&fields, signer, &mut knowledge.lock().unwrap()) {
            Ok(granted) => Some(granted),
            Err(refusal) => return refusal.answer(),
        }
    } else {
        None
    };
    let request = Request::from_parts(parts, full(body));
    let (mut parts, body) = forward(request, upstream).await.into_parts();
    let body = buffered(body).await;
    let mut text = String::from_utf8_lossy(&body).into_owned();
    let (Some(granted), true) = (granted, parts.status.is_success()) else {
        return Response::from_parts(parts, full(body));
    };
    if let (Some(key), Some(arn)) = (xml_field(&text, "AccessKeyId"), xml_field(&text, "Arn"))
        && let Some(account) = arn.split(':').nth(4)
    {
        let session = Session {
            account: account.to_owned(),
            arn: arn.to_owned(),
            policy: granted.policy,
            source_identity: granted.source_identity.clone(),
        };
        knowledge
            .lock()
            .unwrap()
            .sessions
            .insert(key.to_owned(), session);
    }
    // moto reports neither the source identity nor a packed size of its own.
    if let Some(size) = xml_field(&text, "PackedPolicySize") {
        text = text.replacen(
            &format!("<PackedPolicySize>{size}</PackedPolicySize>"),
            &format!(
                "<PackedPolicySize>{}</PackedPolicySize>",
                granted.packed_percent
            ),
            1,
        );
    }
    if let Some(source_identity) = granted.source_identity
        && xml_field(&text, "SourceIdentity").is_none()
    {
        text = text.replacen(
            "</AssumeRoleResult>",
            &format!("<SourceIdentity>{source_identity}</SourceIdentity></AssumeRoleResult>"),
            1,
        );
    }
    parts.headers.remove(hyper::header::CONTENT_LENGTH);
    Response::from_parts(parts, full(text))
}
