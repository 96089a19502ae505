//! SSE-KMS, as S3 uses a customer managed KMS key on the caller's behalf ("Using
//! server-side encryption with AWS KMS keys (SSE-KMS)" and "Specifying server-side
//! encryption with AWS KMS (SSE-KMS)", S3 User Guide; CreateMultipartUpload, UploadPart
//! and UploadPartCopy "Permissions", S3 API Reference):
//!
//! - writing into a bucket whose default encryption is `aws:kms` (or with an explicit
//!   `x-amz-server-side-encryption: aws:kms`) needs `kms:GenerateDataKey` on its key
//!   (PutObject, CopyObject's target, CreateMultipartUpload);
//! - UploadPart and UploadPartCopy need `kms:Decrypt` on the upload's key;
//! - reading an SSE-KMS object needs `kms:Decrypt` on its key (GetObject, the source of
//!   CopyObject and UploadPartCopy).
//!
//! Each such KMS call is made by S3 for the session, so the session policy must allow it,
//! with `kms:ViaService = s3.<bucket region>.<dns suffix>` and `kms:CallerAccount` in the
//! request context ("AWS KMS condition keys", KMS Developer Guide). The key policy is not
//! modelled (a customer managed key's default key policy delegates to IAM), nor is the
//! AWS managed key `aws/s3` (no `KMSMasterKeyID`), whose key policy admits any caller of
//! the account through S3.

use hyper::HeaderMap;

use super::operation::{Operation, Target};
use super::regions::partition_of;
use super::xml_field;

/// The KMS key ARN of a KMS key id, alias or ARN S3 was given, as S3 resolves it in the
/// bucket's region and owner account; none for the AWS managed key.
pub(super) fn key_arn(id: &str, region: &str, owner: &str) -> Option<String> {
    let id = id.trim();
    if id.is_empty() || id == "alias/aws/s3" || id.ends_with(":alias/aws/s3") {
        return None;
    }
    if id.starts_with("arn:") {
        return Some(id.to_owned());
    }
    let partition = partition_of(region).0;
    Some(if id.starts_with("alias/") {
        format!("arn:{partition}:kms:{region}:{owner}:{id}")
    } else {
        format!("arn:{partition}:kms:{region}:{owner}:key/{id}")
    })
}

/// The key of a PutBucketEncryption body whose default is `aws:kms` (or DSSE-KMS).
pub(super) fn default_key(body: &str, region: &str, owner: &str) -> Option<String> {
    let algorithm = xml_field(body, "SSEAlgorithm")?;
    if !algorithm.starts_with("aws:kms") {
        return None;
    }
    key_arn(
        xml_field(body, "KMSMasterKeyID").unwrap_or(""),
        region,
        owner,
    )
}

/// The key a write uses: its own `x-amz-server-side-encryption` headers, else the bucket's
/// default.
pub(super) fn write_key(
    headers: &HeaderMap,
    bucket_default: Option<&String>,
    region: &str,
    owner: &str,
) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match header("x-amz-server-side-encryption") {
        Some(algorithm) if algorithm.starts_with("aws:kms") => key_arn(
            header("x-amz-server-side-encryption-aws-kms-key-id").unwrap_or(""),
            region,
            owner,
        ),
        Some(_) => None,
        None => bucket_default.cloned(),
    }
}

/// The KMS keys an operation makes S3 use, with the KMS action each needs.
pub(super) struct Needs<'a> {
    /// The key the operation's writes use.
    pub(super) write_key: Option<&'a str>,
    /// The key of the object read (GetObject) or copied from (the copy's source).
    pub(super) read_key: Option<&'a str>,
    /// The key of the open upload (UploadPart, UploadPartCopy).
    pub(super) upload_key: Option<&'a str>,
}

impl Needs<'_> {
    pub(super) fn actions(&self, target: &Target) -> Vec<(&'static str, String)> {
        use Operation::*;
        let mut needs = Vec::new();
        let mut need = |action, key: Option<&str>| {
            if let Some(key) = key {
                needs.push((action, key.to_owned()));
            }
        };
        match target.operation {
            PutObject | CreateUpload => need("kms:GenerateDataKey", self.write_key),
            GetObject => need("kms:Decrypt", self.read_key),
            CopyObject { .. } => {
                need("kms:Decrypt", self.read_key);
                need("kms:GenerateDataKey", self.write_key);
            }
            UploadPart { .. } => need("kms:Decrypt", self.upload_key),
            UploadPartCopy { .. } => {
                need("kms:Decrypt", self.read_key);
                need("kms:Decrypt", self.upload_key);
            }
            _ => {}
        }
        needs
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_resolve_in_the_buckets_region_and_account() {
        assert_eq!(
            super::key_arn("1234abcd-12ab", "eu-west-1", "111111111111").unwrap(),
            "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab"
        );
        assert_eq!(
            super::key_arn("alias/data", "cn-north-1", "111111111111").unwrap(),
            "arn:aws-cn:kms:cn-north-1:111111111111:alias/data"
        );
        assert_eq!(
            super::key_arn("", "us-east-1", "1"),
            None,
            "aws/s3 is not modelled"
        );
        let body = "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>arn:aws:kms:us-east-1:1:key/k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>";
        assert_eq!(
            super::default_key(body, "us-east-1", "1").unwrap(),
            "arn:aws:kms:us-east-1:1:key/k"
        );
        assert_eq!(
            super::default_key(&body.replace("aws:kms", "AES256"), "us-east-1", "1"),
            None
        );
    }
}
