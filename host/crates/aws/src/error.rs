//! AWS failures, told to two audiences.
//!
//! - A **plugin** gets the WIT error variant, written by the host from the error code and
//!   HTTP status alone ([`guest_error`]): never AWS's message, which can name principals,
//!   policies or keys the plugin has no business seeing.
//! - The **operator** (the report's credential failures, `xacct check`, the log) gets
//!   everything that helps fix the estate ([`AwsError`]): the service, AWS's error code,
//!   the HTTP status, the request id and AWS's own message — with anything shaped like a
//!   credential taken out.

use std::fmt;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_s3::operation::RequestId;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use xacct_core::bindings::{AccessDenied, DeniedBy, S3Error};

/// The AWS service a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Sts,
    S3,
    Organizations,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Sts => "STS",
            Service::S3 => "S3",
            Service::Organizations => "Organizations",
        })
    }
}

/// An AWS failure as the operator reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// What xacct was doing, e.g. `AssumeRole into arn:aws:iam::…:role/x`.
    pub what: String,
    pub service: Service,
    /// AWS's error code, e.g. `AccessDenied`. (Boxed strings keep the error small: it is
    /// the error side of every session lookup.)
    pub code: Option<Box<str>>,
    pub status: Option<u16>,
    pub request_id: Option<Box<str>>,
    /// AWS's own explanation (or the transport's), credential-shaped text removed.
    pub message: Option<String>,
    /// What to change, where xacct knows.
    pub fix: Option<Box<str>>,
}

impl std::error::Error for AwsError {}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.service)?;
        match (&self.code, self.status) {
            (Some(code), Some(status)) => write!(f, " {code} (HTTP {status})")?,
            (Some(code), None) => write!(f, " {code}")?,
            (None, Some(status)) => write!(f, " HTTP {status}")?,
            (None, None) => f.write_str(" failed")?,
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        if let Some(fix) = &self.fix {
            write!(f, "; fix: {fix}")?;
        }
        Ok(())
    }
}

impl AwsError {
    /// A failure of one SDK call.
    pub fn from_sdk<E>(service: Service, what: &str, err: &SdkError<E, HttpResponse>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        if let Some(credentials) = credentials_cause(err) {
            return AwsError::from_credentials(what, credentials);
        }
        let (code, message, status) = match err {
            SdkError::ServiceError(context) => (
                context.err().code().map(Into::into),
                context.err().message().map(str::to_owned),
                Some(context.raw().status().as_u16()),
            ),
            SdkError::ResponseError(context) => (
                None,
                Some("the answer could not be read".to_owned()),
                Some(context.raw().status().as_u16()),
            ),
            SdkError::TimeoutError(_) => (None, Some("timed out".to_owned()), None),
            SdkError::DispatchFailure(failure) => (
                None,
                Some(if failure.is_io() {
                    "the service could not be reached (connection failed)".to_owned()
                } else if failure.is_timeout() {
                    "the service could not be reached (timed out)".to_owned()
                } else {
                    "the service could not be reached (check the region and the endpoint)"
                        .to_owned()
                }),
                None,
            ),
            _ => (None, Some(source_text(err)), None),
        };
        AwsError {
            what: what.to_owned(),
            service,
            code,
            status,
            request_id: err.request_id().map(Into::into),
            message: message.map(|m| redact(&m)),
            fix: None,
        }
    }

    /// A failure to obtain credentials: an STS answer if there was one, else what the
    /// credential chain said.
    pub fn from_credentials(what: &str, err: &CredentialsError) -> AwsError {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(cause) = source {
            if let Some(sts) =
                cause.downcast_ref::<aws_sdk_sts::error::SdkError<
                    aws_sdk_sts::operation::assume_role::AssumeRoleError,
                >>()
            {
                return AwsError::from_sdk(Service::Sts, what, sts);
            }
            source = cause.source();
        }
        let message = match err {
            CredentialsError::CredentialsNotLoaded(_) => {
                "the home identity has no credentials (looked in the environment, profiles, SSO, web identity, ECS and IMDS)".to_owned()
            }
            _ => source_text(err),
        };
        AwsError {
            what: what.to_owned(),
            service: Service::Sts,
            code: None,
            status: None,
            request_id: None,
            message: Some(redact(&message)),
            fix: None,
        }
    }

    /// The same failure with what to change.
    pub fn with_fix(mut self, fix: impl Into<String>) -> AwsError {
        self.fix = Some(fix.into().into_boxed_str());
        self
    }

    /// Whether AWS refused the call (as opposed to failing or being unreachable).
    pub fn is_refusal(&self) -> bool {
        matches!(self.status, Some(400..=499))
    }

    /// The same failure as a plugin may see it: kind and code only.
    pub fn for_guest(&self) -> S3Error {
        classify(self.service, self.code.as_deref(), self.status, &self.what)
    }
}

/// Every message in an error's chain, joined: the chain's own words, for the operator.
fn source_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// Replaces what looks like a credential (an access key id, a secret or a session token, a
/// signature) by `[redacted]`. AWS does not put secrets in its messages, but the
/// transport's errors can carry a request's URL or headers, and the rule is that nothing
/// credential-shaped is ever printed.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if looks_like_credential(token) {
            out.push_str("[redacted]");
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || "+/=_-".contains(c) {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

fn looks_like_credential(token: &str) -> bool {
    let key_id = token.len() == 20
        && (token.starts_with("AKIA") || token.starts_with("ASIA"))
        && token
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    // Secrets are 40 characters of base64, session tokens hundreds, signatures 64 hex
    // digits: long runs that mix cases and digits, unlike words, ids and ARNs.
    let mixed = token.bytes().any(|b| b.is_ascii_lowercase())
        && token.bytes().any(|b| b.is_ascii_uppercase())
        && token.bytes().any(|b| b.is_ascii_digit());
    let hex = token.len() >= 64 && token.bytes().all(|b| b.is_ascii_hexdigit());
    key_id || hex || (token.len() >= 32 && mixed)
}

/// The WIT error of an SDK failure, from the error code and HTTP status alone.
pub(crate) fn guest_error<E>(
    service: Service,
    err: &SdkError<E, HttpResponse>,
    what: &str,
) -> S3Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(context) => classify(
            service,
            context.err().code(),
            Some(context.raw().status().as_u16()),
            what,
        ),
        SdkError::ResponseError(context) => {
            classify(service, None, Some(context.raw().status().as_u16()), what)
        }
        SdkError::TimeoutError(_) => S3Error::Unavailable(format!("{what}: timed out")),
        _ => match credentials_cause(err) {
            Some(credentials) => AwsError::from_credentials(what, credentials).for_guest(),
            None if matches!(err, SdkError::DispatchFailure(_)) => {
                S3Error::Unavailable(format!("{what}: the service could not be reached"))
            }
            None => S3Error::Other(format!("{what}: the request could not be sent")),
        },
    }
}

/// Whether AWS refused a call because its credentials expired or were revoked: the call
/// may succeed with freshly assumed ones.
pub fn credentials_rejected<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let SdkError::ServiceError(context) = err else {
        return false;
    };
    match context.err().code() {
        Some(code) => matches!(
            code,
            "ExpiredToken"
                | "ExpiredTokenException"
                | "InvalidToken"
                | "RequestExpired"
                | "TokenRefreshRequired"
        ),
        // A HEAD's answer has no body, so S3's `ExpiredToken` on HeadObject or HeadBucket
        // is a bare `400 Bad Request` (HADOOP-18353 records it; the SDK names a bodiless
        // answer's code only for 404): such an answer may be expiry. A redirect is not
        // (it carries `x-amz-bucket-region`).
        None => {
            let raw = context.raw();
            raw.status().as_u16() == 400
                && raw.body().bytes().is_none_or(<[u8]>::is_empty)
                && raw.headers().get("x-amz-bucket-region").is_none()
        }
    }
}

/// An S3 call's WIT error.
pub(crate) fn s3_error<E>(err: &SdkError<E, HttpResponse>, what: &str) -> S3Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    guest_error(Service::S3, err, what)
}

/// A failure to obtain credentials somewhere in `err`'s causes.
fn credentials_cause<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a CredentialsError> {
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(credentials) = cause.downcast_ref() {
            return Some(credentials);
        }
        source = cause.source();
    }
    None
}

/// The WIT error for an error code and HTTP status.
pub(crate) fn classify(
    service: Service,
    code: Option<&str>,
    status: Option<u16>,
    what: &str,
) -> S3Error {
    // Codes are short identifiers; anything else is not repeated.
    let code =
        code.filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'));
    let reason = match (code, status) {
        (Some(code), Some(status)) => format!("{code}, HTTP {status}"),
        (Some(code), None) => code.to_owned(),
        (None, Some(status)) => format!("HTTP {status}"),
        (None, None) => "no answer".to_owned(),
    };
    let status = status.unwrap_or(0);
    match (code, status) {
        (Some("NoSuchKey" | "NoSuchBucket" | "NotFound" | "NoSuchUpload" | "NoSuchTagSet"), _)
        | (_, 404) => S3Error::NotFound(format!("{what}: not found ({reason})")),
        (
            Some(
                "AccessDenied"
                | "AllAccessDisabled"
                | "InvalidAccessKeyId"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "InvalidToken"
                | "AccountProblem",
            ),
            _,
        )
        | (_, 401 | 403) => S3Error::AccessDenied(AccessDenied {
            by: DeniedBy::Backend,
            message: format!("{what}: denied by AWS ({reason})"),
        }),
        (
            Some(
                "SlowDown"
                | "Throttling"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TooManyRequests",
            ),
            _,
        )
        | (_, 429 | 503) => {
            S3Error::Throttled(format!("{what}: throttled after retries ({reason})"))
        }
        (Some("PreconditionFailed"), _) | (_, 412) => {
            S3Error::Other(format!("{what}: the object changed meanwhile ({reason})"))
        }
        (Some("InvalidRange"), _) | (_, 416) => {
            S3Error::InvalidInput(format!("{what}: the range is not satisfiable ({reason})"))
        }
        (_, 400..=499) => S3Error::InvalidInput(format!("{what}: refused by {service} ({reason})")),
        (_, 500..=599) => S3Error::Unavailable(format!("{what}: {service} failed ({reason})")),
        _ => S3Error::Other(format!("{what}: unexpected answer ({reason})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(code: Option<&str>, status: u16) -> S3Error {
        classify(Service::S3, code, Some(status), "x")
    }

    #[test]
    fn errors_are_classified_by_code_then_status() {
        assert!(matches!(s3(Some("NoSuchKey"), 404), S3Error::NotFound(_)));
        assert!(matches!(s3(None, 404), S3Error::NotFound(_)));
        assert!(matches!(
            s3(None, 403),
            S3Error::AccessDenied(AccessDenied {
                by: DeniedBy::Backend,
                ..
            })
        ));
        assert!(matches!(s3(Some("SlowDown"), 503), S3Error::Throttled(_)));
        assert!(matches!(
            s3(Some("InvalidRange"), 416),
            S3Error::InvalidInput(_)
        ));
        assert!(matches!(
            s3(Some("InternalError"), 500),
            S3Error::Unavailable(_)
        ));
        let S3Error::AccessDenied(denied) = classify(
            Service::S3,
            Some("AccessDenied"),
            Some(403),
            "GetObject b/k",
        ) else {
            panic!()
        };
        assert_eq!(
            denied.message,
            "GetObject b/k: denied by AWS (AccessDenied, HTTP 403)"
        );
        // An error code that is not an identifier is not repeated.
        let S3Error::InvalidInput(message) = s3(Some("<script>secret"), 400) else {
            panic!()
        };
        assert_eq!(message, "x: refused by S3 (HTTP 400)");
        // STS's refusals are STS's.
        let S3Error::InvalidInput(message) = classify(
            Service::Sts,
            Some("ValidationError"),
            Some(400),
            "AssumeRole",
        ) else {
            panic!()
        };
        assert_eq!(
            message,
            "AssumeRole: refused by STS (ValidationError, HTTP 400)"
        );
    }

    #[test]
    fn credential_shaped_text_is_redacted_and_the_rest_kept() {
        let text = "User: arn:aws:sts::123456789012:assumed-role/x/y is not authorized to perform: sts:AssumeRole; key AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY sig 3f1c0a9b8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b5a49382716f5e4d3c";
        let redacted = redact(text);
        assert!(redacted.starts_with(
            "User: arn:aws:sts::123456789012:assumed-role/x/y is not authorized to perform: sts:AssumeRole; key [redacted] secret [redacted] sig [redacted]"
        ), "{redacted}");
    }

    #[test]
    fn the_operator_reads_service_code_status_message_and_request_id() {
        let err = AwsError {
            what: "AssumeRole into arn:aws:iam::111111111111:role/r".into(),
            service: Service::Sts,
            code: Some("AccessDenied".into()),
            status: Some(403),
            request_id: Some("abc-123".into()),
            message: Some("not authorized to perform sts:TagSession".into()),
            fix: Some("allow sts:TagSession".into()),
        };
        assert_eq!(
            err.to_string(),
            "AssumeRole into arn:aws:iam::111111111111:role/r: STS AccessDenied (HTTP 403): not authorized to perform sts:TagSession [request id abc-123]; fix: allow sts:TagSession"
        );
        assert!(matches!(err.for_guest(), S3Error::AccessDenied(_)));
    }
}
