//! Which S3 operation a request is, from its method, path, query and headers, and the IAM
//! actions and resources it is authorized against ("Actions, resources, and condition
//! keys for Amazon S3", Service Authorization Reference; "Required permissions for Amazon
//! S3 API operations", S3 User Guide).

use std::collections::HashMap;

use hyper::Method;

/// The S3 operations the host sends (and the few seeding sends), as the shim tells them
/// apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Operation {
    ListBuckets,
    CreateBucket,
    PutBucketEncryption,
    HeadBucket,
    ListObjects {
        prefix: Option<String>,
    },
    ListUploads,
    DeleteObjects,
    GetObject,
    HeadObject,
    PutObject,
    CopyObject {
        source: (String, String),
    },
    CreateUpload,
    UploadPart {
        upload_id: String,
        part: u32,
    },
    UploadPartCopy {
        upload_id: String,
        part: u32,
        source: (String, String),
    },
    CompleteUpload {
        upload_id: String,
    },
    AbortUpload,
    ListParts,
    DeleteObject,
    GetTagging,
    PutTagging,
    DeleteTagging,
    /// A read of one bucket setting (GET on a bucket subresource), by the IAM action it
    /// needs.
    GetBucketSetting {
        action: &'static str,
    },
    /// A write of one bucket setting (PUT on a bucket subresource, or DeleteBucketTagging),
    /// by the IAM action it needs.
    PutBucketSetting {
        action: &'static str,
    },
    /// ListObjectVersions (GET on `?versions`).
    ListVersions {
        prefix: Option<String>,
    },
    /// GetObject or HeadObject of one version (`?versionId=`).
    GetObjectVersion {
        version_id: String,
    },
    /// DeleteObject of one version (`?versionId=`).
    DeleteObjectVersion {
        version_id: String,
    },
    /// S3 Control's GetPublicAccessBlock (the account's own).
    GetAccountPublicAccessBlock,
    /// Anything else: passed through unevaluated.
    Other,
}

/// A request's target: the operation, its bucket and key (decoded).
#[derive(Debug)]
pub(super) struct Target {
    pub(super) operation: Operation,
    pub(super) bucket: String,
    pub(super) key: String,
}

/// `%XX` escapes decoded (a path or a copy source; `+` stays a plus).
pub(super) fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((high * 16 + low) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `bucket/key` of an `x-amz-copy-source` header (URL-encoded, maybe with a leading `/`
/// and a `?versionId=`).
fn copy_source(header: &str) -> (String, String) {
    let header = header.trim_start_matches('/');
    let header = header.split('?').next().unwrap_or("");
    let decoded = percent_decoded(header);
    match decoded.split_once('/') {
        Some((bucket, key)) => (bucket.to_owned(), key.to_owned()),
        None => (decoded, String::new()),
    }
}

/// The bucket subresources a plugin reads settings through, and the IAM action each
/// needs ("Required permissions for Amazon S3 API operations", S3 User Guide).
const BUCKET_SETTINGS: [(&str, &str); 11] = [
    ("location", "s3:GetBucketLocation"),
    ("versioning", "s3:GetBucketVersioning"),
    ("encryption", "s3:GetEncryptionConfiguration"),
    ("publicAccessBlock", "s3:GetBucketPublicAccessBlock"),
    ("policyStatus", "s3:GetBucketPolicyStatus"),
    ("policy", "s3:GetBucketPolicy"),
    ("ownershipControls", "s3:GetBucketOwnershipControls"),
    ("lifecycle", "s3:GetLifecycleConfiguration"),
    ("logging", "s3:GetBucketLogging"),
    ("tagging", "s3:GetBucketTagging"),
    ("acl", "s3:GetBucketAcl"),
];

/// The bucket subresources a plugin changes settings through (PutBucketEncryption is
/// told apart on its own: the shim learns a bucket's default key from it), and the IAM
/// action each needs ("Required permissions for Amazon S3 API operations", S3 User
/// Guide). DeleteBucketTagging needs `s3:PutBucketTagging` too (DeleteBucketTagging,
/// S3 API Reference).
const BUCKET_SETTING_WRITES: [(&str, &str); 3] = [
    ("publicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    ("versioning", "s3:PutBucketVersioning"),
    ("tagging", "s3:PutBucketTagging"),
];

/// S3 Control's path of the account's public access block (S3 Control API reference,
/// GetPublicAccessBlock), which an endpoint on a bare host serves beside S3.
const ACCOUNT_PUBLIC_ACCESS_BLOCK: &str = "/v20180820/configuration/publicAccessBlock";

/// Tells which operation a path-style request is.
pub(super) fn target(
    method: &Method,
    path: &str,
    query: Option<&str>,
    copy_source_header: Option<&str>,
) -> Target {
    if path == ACCOUNT_PUBLIC_ACCESS_BLOCK {
        return Target {
            operation: match method.as_str() {
                "GET" => Operation::GetAccountPublicAccessBlock,
                _ => Operation::Other,
            },
            bucket: String::new(),
            key: String::new(),
        };
    }
    let path = path.trim_start_matches('/');
    let (bucket, key) = match path.split_once('/') {
        Some((bucket, key)) => (percent_decoded(bucket), percent_decoded(key)),
        None => (percent_decoded(path), String::new()),
    };
    let query: HashMap<String, String> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let has = |name: &str| query.contains_key(name);
    let upload_id = || query.get("uploadId").cloned().unwrap_or_default();
    let version_id = || query.get("versionId").cloned().unwrap_or_default();
    let copy = copy_source_header.map(copy_source);
    let part = || {
        query
            .get("partNumber")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    use Operation::*;
    let operation = match (method.as_str(), bucket.is_empty(), key.is_empty()) {
        ("GET", true, _) => ListBuckets,
        (_, true, _) => Other,
        ("PUT", false, true) if query.is_empty() => CreateBucket,
        ("PUT", false, true) if has("encryption") => PutBucketEncryption,
        ("PUT", false, true) => BUCKET_SETTING_WRITES
            .iter()
            .find(|(subresource, _)| has(subresource))
            .map_or(Other, |(_, action)| PutBucketSetting { action }),
        ("DELETE", false, true) if has("tagging") => PutBucketSetting {
            action: "s3:PutBucketTagging",
        },
        ("HEAD", false, true) => HeadBucket,
        ("GET", false, true) if has("uploads") => ListUploads,
        ("GET", false, true)
            if query
                .keys()
                .all(|k| LISTING_PARAMETERS.contains(&k.as_str())) =>
        {
            ListObjects {
                prefix: query.get("prefix").cloned(),
            }
        }
        ("POST", false, true) if has("delete") => DeleteObjects,
        ("GET", false, true) if has("versions") => ListVersions {
            prefix: query.get("prefix").cloned(),
        },
        ("GET", false, true) => BUCKET_SETTINGS
            .iter()
            .find(|(subresource, _)| has(subresource))
            .map_or(Other, |(_, action)| GetBucketSetting { action }),
        (_, false, true) => Other,
        ("GET", _, false) if has("uploadId") => ListParts,
        ("GET", _, false) if has("tagging") => GetTagging,
        ("GET" | "HEAD", _, false) if has("versionId") => GetObjectVersion {
            version_id: version_id(),
        },
        ("GET", _, false) => GetObject,
        ("HEAD", _, false) => HeadObject,
        ("PUT", _, false) if has("partNumber") && has("uploadId") => match copy {
            Some(source) => UploadPartCopy {
                upload_id: upload_id(),
                part: part(),
                source,
            },
            None => UploadPart {
                upload_id: upload_id(),
                part: part(),
            },
        },
        ("PUT", _, false) if has("tagging") => PutTagging,
        ("PUT", _, false) => match copy {
            Some(source) => CopyObject { source },
            None => PutObject,
        },
        ("POST", _, false) if has("uploads") => CreateUpload,
        ("POST", _, false) if has("uploadId") => CompleteUpload {
            upload_id: upload_id(),
        },
        ("DELETE", _, false) if has("uploadId") => AbortUpload,
        ("DELETE", _, false) if has("tagging") => DeleteTagging,
        ("DELETE", _, false) if has("versionId") => DeleteObjectVersion {
            version_id: version_id(),
        },
        ("DELETE", _, false) => DeleteObject,
        _ => Other,
    };
    Target {
        operation,
        bucket,
        key,
    }
}

/// The query parameters of ListObjects (V1 and V2): a bucket GET with any other is a
/// subresource (`?location`, `?encryption`, `?versions`…).
const LISTING_PARAMETERS: [&str; 10] = [
    "list-type",
    "prefix",
    "delimiter",
    "max-keys",
    "continuation-token",
    "start-after",
    "encoding-type",
    "fetch-owner",
    "marker",
    "x-id",
];
/// An S3 ARN in `partition`.
pub(super) fn s3_arn(partition: &str, bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(key) => format!("arn:{partition}:s3:::{bucket}/{key}"),
        None => format!("arn:{partition}:s3:::{bucket}"),
    }
}

/// The IAM authorizations one request needs, as (action, resource ARN), each checked on
/// its own; none for operations the shim does not evaluate.
pub(super) fn authorizations(target: &Target, partition: &str) -> Vec<(&'static str, String)> {
    use Operation::*;
    let bucket = || s3_arn(partition, &target.bucket, None);
    let object = || s3_arn(partition, &target.bucket, Some(&target.key));
    match &target.operation {
        ListBuckets => vec![("s3:ListAllMyBuckets", "*".to_owned())],
        // An account-level action: no resource type, so `*`.
        GetAccountPublicAccessBlock => vec![("s3:GetAccountPublicAccessBlock", "*".to_owned())],
        GetBucketSetting { action } | PutBucketSetting { action } => vec![(*action, bucket())],
        PutBucketEncryption => vec![("s3:PutEncryptionConfiguration", bucket())],
        ListObjects { .. } | HeadBucket => vec![("s3:ListBucket", bucket())],
        ListUploads => vec![("s3:ListBucketMultipartUploads", bucket())],
        // "Actions, resources, and condition keys for Amazon S3": ListObjectVersions
        // needs s3:ListBucketVersions on the bucket (with the s3:prefix key), a version's
        // GetObject and HeadObject s3:GetObjectVersion, a version's DeleteObject
        // s3:DeleteObjectVersion, each on the object.
        ListVersions { .. } => vec![("s3:ListBucketVersions", bucket())],
        GetObjectVersion { .. } => vec![("s3:GetObjectVersion", object())],
        DeleteObjectVersion { .. } => vec![("s3:DeleteObjectVersion", object())],
        GetObject | HeadObject => vec![("s3:GetObject", object())],
        PutObject | CreateUpload | UploadPart { .. } | CompleteUpload { .. } => {
            vec![("s3:PutObject", object())]
        }
        CopyObject { source } | UploadPartCopy { source, .. } => vec![
            ("s3:PutObject", object()),
            (
                "s3:GetObject",
                s3_arn(partition, &source.0, Some(&source.1)),
            ),
        ],
        AbortUpload => vec![("s3:AbortMultipartUpload", object())],
        ListParts => vec![("s3:ListMultipartUploadParts", object())],
        DeleteObject => vec![("s3:DeleteObject", object())],
        GetTagging => vec![("s3:GetObjectTagging", object())],
        PutTagging => vec![("s3:PutObjectTagging", object())],
        DeleteTagging => vec![("s3:DeleteObjectTagging", object())],
        // DeleteObjects is authorized per key inside its body (per-key errors in a 200):
        // not modelled; creating a bucket is the seeding's, never a plugin session's.
        CreateBucket | DeleteObjects | Other => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: Method, path: &str, query: Option<&str>, copy: Option<&str>) -> Operation {
        target(&method, path, query, copy).operation
    }

    #[test]
    fn requests_are_told_apart() {
        assert_eq!(op(Method::GET, "/", None, None), Operation::ListBuckets);
        assert_eq!(
            op(Method::GET, "/", Some("max-buckets=1000"), None),
            Operation::ListBuckets
        );
        assert_eq!(op(Method::PUT, "/b", None, None), Operation::CreateBucket);
        assert_eq!(
            op(Method::GET, "/b", Some("list-type=2&prefix=a%2F"), None),
            Operation::ListObjects {
                prefix: Some("a/".into())
            }
        );
        assert_eq!(
            op(Method::GET, "/b", Some("location"), None),
            Operation::GetBucketSetting {
                action: "s3:GetBucketLocation"
            }
        );
        assert_eq!(
            op(Method::GET, "/b", Some("policyStatus"), None),
            Operation::GetBucketSetting {
                action: "s3:GetBucketPolicyStatus"
            }
        );
        assert_eq!(
            op(Method::GET, "/b", Some("website"), None),
            Operation::Other
        );
        assert_eq!(
            op(Method::PUT, "/b", Some("publicAccessBlock"), None),
            Operation::PutBucketSetting {
                action: "s3:PutBucketPublicAccessBlock"
            }
        );
        assert_eq!(
            op(Method::PUT, "/b", Some("encryption"), None),
            Operation::PutBucketEncryption
        );
        assert_eq!(
            op(Method::DELETE, "/b", Some("tagging"), None),
            Operation::PutBucketSetting {
                action: "s3:PutBucketTagging"
            }
        );
        assert_eq!(
            op(Method::GET, "/b", Some("versions&prefix=a%2F"), None),
            Operation::ListVersions {
                prefix: Some("a/".into())
            }
        );
        assert_eq!(
            op(Method::HEAD, "/b/k", Some("versionId=v1"), None),
            Operation::GetObjectVersion {
                version_id: "v1".into()
            }
        );
        assert_eq!(
            op(Method::DELETE, "/b/k", Some("versionId=v1"), None),
            Operation::DeleteObjectVersion {
                version_id: "v1".into()
            }
        );
        assert_eq!(
            op(
                Method::GET,
                "/v20180820/configuration/publicAccessBlock",
                None,
                None
            ),
            Operation::GetAccountPublicAccessBlock
        );
        assert_eq!(
            op(Method::GET, "/b/k%20x", Some("x-id=GetObject"), None),
            Operation::GetObject
        );
        assert_eq!(
            op(
                Method::PUT,
                "/b/k",
                Some("partNumber=2&uploadId=u"),
                Some("/src/a%2Bb?versionId=1")
            ),
            Operation::UploadPartCopy {
                upload_id: "u".into(),
                part: 2,
                source: ("src".into(), "a+b".into())
            }
        );
        assert_eq!(
            op(Method::PUT, "/b/k", Some("partNumber=2&uploadId=u"), None),
            Operation::UploadPart {
                upload_id: "u".into(),
                part: 2
            }
        );
        assert_eq!(
            op(Method::POST, "/b/k", Some("uploads"), None),
            Operation::CreateUpload
        );
        assert_eq!(
            op(Method::DELETE, "/b/k", Some("uploadId=u"), None),
            Operation::AbortUpload
        );
        let t = target(&Method::GET, "/b/%E3%83%87%E3%83%BC%E3%82%BF/x", None, None);
        assert_eq!(t.key, "データ/x");
    }
}
