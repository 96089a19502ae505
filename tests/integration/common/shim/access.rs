//! What a session may do in S3, as its session policy bounds it ([`super::policy`]): the S3
//! actions of each request, and the KMS calls S3 makes for it on SSE-KMS data
//! ([`super::kms`]). A request its session policy does not allow is refused `403
//! AccessDenied` before it reaches moto, with the message AWS gives for a session policy
//! ("Access denied error messages", IAM User Guide). Sessions assumed without a policy,
//! and callers that are not sessions the shim saw, are left to moto's IAM; so are buckets
//! the shim has not seen created: S3 tells a bucket that does not exist (`404
//! NoSuchBucket`) before it authorizes anything on it, and moto answers that.

use std::collections::HashMap;

use hyper::{HeaderMap, Method, Response, StatusCode};

use super::kms::{self, Needs};
use super::operation::{Operation, Target, authorizations, s3_arn};
use super::policy::{Decision, Question, evaluate};
use super::regions::partition_of;
use super::{Body, Knowledge, Session, Signer, s3_error};

/// The bucket of an S3 ARN (`arn:p:s3:::bucket[/key]`).
fn bucket_of(arn: &str) -> &str {
    arn.split(":::")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("")
}

/// The session's answer to one action on one resource, as S3 tells it.
fn decide(
    method: &Method,
    session: &Session,
    action: &str,
    resource: &str,
    context: &HashMap<&'static str, String>,
) -> Option<Response<Body>> {
    let policy = session.policy.as_ref()?;
    let decision = evaluate(
        policy,
        &Question {
            action,
            resource,
            context,
        },
    );
    let why = match decision {
        Decision::Allowed => return None,
        Decision::ImplicitDeny => format!("because no session policy allows the {action} action"),
        Decision::ExplicitDeny => "with an explicit deny in a session policy".to_owned(),
        Decision::Unsupported(what) => {
            return Some(s3_error(
                method,
                StatusCode::NOT_IMPLEMENTED,
                "NotImplemented",
                &format!("shim: cannot evaluate the session policy ({what})"),
            ));
        }
    };
    Some(s3_error(
        method,
        StatusCode::FORBIDDEN,
        "AccessDenied",
        &format!(
            "User: {} is not authorized to perform: {action} on resource: \"{resource}\" {why}",
            session.arn
        ),
    ))
}

/// The refusal of a request its session policy does not allow, if it is refused.
pub(super) fn refusal(
    method: &Method,
    headers: &HeaderMap,
    target: &Target,
    signer: &Signer,
    knowledge: &Knowledge,
) -> Option<Response<Body>> {
    let session = knowledge.sessions.get(&signer.key)?;
    session.policy.as_ref()?;
    let (partition, _) = partition_of(&signer.region);
    for (action, resource) in authorizations(target, partition) {
        if resource != "*" && !knowledge.regions.contains_key(bucket_of(&resource)) {
            continue;
        }
        let mut context = HashMap::new();
        if let Some(owner) = knowledge.owners.get(bucket_of(&resource)) {
            context.insert("s3:resourceaccount", owner.clone());
        }
        match (&target.operation, action) {
            (
                Operation::ListObjects {
                    prefix: Some(prefix),
                },
                "s3:ListBucket",
            )
            | (
                Operation::ListVersions {
                    prefix: Some(prefix),
                },
                "s3:ListBucketVersions",
            ) => {
                context.insert("s3:prefix", prefix.clone());
            }
            _ => {}
        }
        if let Some(refused) = decide(method, session, action, &resource, &context) {
            return Some(refused);
        }
    }
    let write_key = write_key(headers, target, knowledge);
    let source = match &target.operation {
        Operation::CopyObject { source } | Operation::UploadPartCopy { source, .. } => {
            Some(source.clone())
        }
        Operation::GetObject => Some((target.bucket.clone(), target.key.clone())),
        _ => None,
    };
    let read_key = source
        .as_ref()
        .and_then(|(bucket, key)| knowledge.objects.get(bucket, key).kms_key);
    let upload_key = match &target.operation {
        Operation::UploadPart { upload_id, .. } | Operation::UploadPartCopy { upload_id, .. } => {
            knowledge.objects.upload_key(upload_id)
        }
        _ => None,
    };
    let needs = Needs {
        write_key: write_key.as_deref(),
        read_key: read_key.as_deref(),
        upload_key: upload_key.as_deref(),
    };
    for (action, key) in needs.actions(target) {
        // S3 calls KMS in the key's region, which is its bucket's.
        let region = key.split(':').nth(3).unwrap_or(&signer.region);
        let (_, suffix) = partition_of(region);
        let context = HashMap::from([
            ("kms:viaservice", format!("s3.{region}.{suffix}")),
            ("kms:calleraccount", session.account.clone()),
        ]);
        if let Some(refused) = decide(method, session, action, &key, &context) {
            return Some(refused);
        }
    }
    None
}

/// The KMS key a write of this request uses, if it writes SSE-KMS data.
pub(super) fn write_key(
    headers: &HeaderMap,
    target: &Target,
    knowledge: &Knowledge,
) -> Option<String> {
    let writes = matches!(
        target.operation,
        Operation::PutObject | Operation::CopyObject { .. } | Operation::CreateUpload
    );
    if !writes {
        return None;
    }
    let region = knowledge.regions.get(&target.bucket)?;
    let owner = knowledge.owners.get(&target.bucket)?;
    kms::write_key(
        headers,
        knowledge.encryption.get(&target.bucket),
        region,
        owner,
    )
}

/// "If the object you request doesn't exist, the error that Amazon S3 returns depends on
/// whether you also have the s3:ListBucket permission … 404 Not Found … 403 Access
/// Denied" (GetObject and HeadObject "Permissions", S3 API Reference): whether a 404 for
/// this GetObject or HeadObject is a 403 for this session. The documentation does not say
/// how a `ListBucket` statement conditioned on `s3:prefix` counts; the shim asks the
/// question with the key as the prefix (a session that may list where the key would be
/// learns nothing new from a 404), so only a session with no `ListBucket` that covers the
/// key gets the 403 — the case the documentation settles.
pub(super) fn hides_missing_key(target: &Target, signer: &Signer, knowledge: &Knowledge) -> bool {
    if !matches!(
        target.operation,
        Operation::GetObject | Operation::HeadObject
    ) || !knowledge.regions.contains_key(&target.bucket)
    {
        return false;
    }
    let Some(session) = knowledge.sessions.get(&signer.key) else {
        return false;
    };
    let Some(policy) = session.policy.as_ref() else {
        return false;
    };
    let (partition, _) = partition_of(&signer.region);
    let mut context = HashMap::from([("s3:prefix", target.key.clone())]);
    if let Some(owner) = knowledge.owners.get(&target.bucket) {
        context.insert("s3:resourceaccount", owner.clone());
    }
    let resource = s3_arn(partition, &target.bucket, None);
    evaluate(
        policy,
        &Question {
            action: "s3:ListBucket",
            resource: &resource,
            context: &context,
        },
    ) != Decision::Allowed
}
