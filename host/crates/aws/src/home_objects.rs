//! The host's own objects in the home account, read and written with the home identity:
//! a Step Functions run's plan and the shards' results its Distributed Map's
//! `ResultWriter` exports ("ResultWriter (Map)", Step Functions Developer Guide: the
//! bucket is in the state machine's account). Plugins never reach them.
//!
//! What is read is untrusted (anyone who may write to the bucket wrote it): every read
//! is bounded, refused past its limit unread when S3 announces the size and cut off
//! when the body runs past it; every request names the home account as the bucket's
//! expected owner, so a bucket name taken by another account is never read or written.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use crate::error::{AwsError, Service};
use crate::session::Sessions;

/// Why an object could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("s3://{bucket}/{key}: {error}")]
    Aws {
        bucket: String,
        key: String,
        error: AwsError,
    },
    #[error("s3://{bucket}/{key}: GetObject: the body broke off: {error}")]
    Body {
        bucket: String,
        key: String,
        error: String,
    },
    #[error(
        "s3://{bucket}/{key} is larger than {limit} bytes, the most xacct reads of it; it was not read"
    )]
    TooLarge {
        bucket: String,
        key: String,
        limit: u64,
    },
}

/// The home account's objects.
pub struct HomeObjects {
    client: Client,
    /// The home account's id: every bucket read or written must be its.
    owner: String,
}

impl HomeObjects {
    pub fn new(sessions: &Sessions) -> HomeObjects {
        HomeObjects {
            client: sessions.home_s3(),
            owner: account_of(sessions.home_arn()).to_owned(),
        }
    }

    /// The object's bytes, if it holds at most `limit` of them.
    pub async fn get(&self, bucket: &str, key: &str, limit: u64) -> Result<Vec<u8>, ObjectError> {
        let failed = |error: AwsError| ObjectError::Aws {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            error,
        };
        let too_large = || ObjectError::TooLarge {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            limit,
        };
        let got = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .expected_bucket_owner(&self.owner)
            .send()
            .await
            .map_err(|err| failed(AwsError::from_sdk(Service::S3, "GetObject", &err)))?;
        if got
            .content_length()
            .is_some_and(|length| length as u64 > limit)
        {
            return Err(too_large());
        }
        let mut body = got.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = body.try_next().await.map_err(|err| ObjectError::Body {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            error: crate::error::redact(&err.to_string()),
        })? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// Writes `bytes` as the object `key`.
    pub async fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), ObjectError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .expected_bucket_owner(&self.owner)
            .content_type("application/json")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|err| ObjectError::Aws {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                error: AwsError::from_sdk(Service::S3, "PutObject", &err),
            })?;
        Ok(())
    }
}

/// The account id of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:…`).
fn account_of(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}
