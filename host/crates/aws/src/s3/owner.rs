//! The host's own check that an account owns a bucket before its session sends anything
//! to it. Every request also carries the expected bucket owner ([`crate::pin`]), which S3
//! enforces ("Verifying bucket ownership with bucket owner condition", S3 User Guide); an
//! S3-compatible endpoint configured through `endpoint_url` may ignore that header, and
//! moto does. ListBuckets "returns a list of all buckets owned by the authenticated sender
//! of the request" ("ListBuckets", S3 API Reference): a bucket outside that listing is
//! another account's (or nobody's), whatever the endpoint. Neither botocore nor
//! aws-sdk-rust checks ownership on the client; both only send the header.
//!
//! The listing is fetched once per session, the first time one of its calls addresses a
//! bucket; a concurrent first access waits for that one listing. A plugin's own complete
//! listing fills it too. A listing that fails is not kept: the call fails with its error,
//! and the next access lists again.

use std::collections::HashSet;

use xacct_core::bindings::s3::Bucket;
use xacct_core::bindings::{AccessDenied, DeniedBy, S3Error};

use super::fields::millis;
use super::send::on_bucket;
use crate::session::Session;

/// Buckets per ListBuckets page (S3's maximum is 10,000): a page stays a small answer.
const LIST_BUCKETS_PAGE: i32 = 1000;

/// Every bucket the session's account owns, by name, learning each one's region.
pub(super) async fn list_owned(session: &Session) -> Result<Vec<Bucket>, S3Error> {
    let what = "ListBuckets";
    // Always paginated: AWS rejects unpaginated ListBuckets for accounts with a bucket
    // quota over 10,000 ("General purpose bucket quotas, limitations, and
    // restrictions", S3 User Guide), and only a paginated answer carries each bucket's
    // region ("BucketRegion", Bucket, S3 API Reference), which saves a redirect later.
    let mut buckets: Vec<Bucket> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let output = on_bucket(session, None, what, |s3| {
            s3.list_buckets()
                .max_buckets(LIST_BUCKETS_PAGE)
                .set_continuation_token(token.clone())
                .send()
        })
        .await?;
        buckets.extend(output.buckets().iter().filter_map(|b| {
            let name = b.name()?;
            if let Some(region) = b.bucket_region() {
                session.learn_bucket_region(name, region);
            }
            Some(Bucket {
                name: name.to_owned(),
                creation_date: millis(b.creation_date()),
            })
        }));
        match output.continuation_token() {
            // A token S3 repeats would list forever.
            Some(next) if !next.is_empty() && token.as_deref() != Some(next) => {
                token = Some(next.to_owned());
            }
            _ => break,
        }
    }
    buckets.sort_by(|a, b| a.name.cmp(&b.name));
    // Whoever listed first, the plugin or the check, saves the other the call.
    let _ = session.owned_buckets().set(names(&buckets));
    Ok(buckets)
}

/// `Ok` when the session's account owns every one of `buckets`; otherwise `access-denied`
/// naming the first it does not own, and nothing is sent to any of them.
pub(super) async fn check_owned(session: &Session, buckets: &[&str]) -> Result<(), S3Error> {
    let owned = session
        .owned_buckets()
        .get_or_try_init(|| async { list_owned(session).await.map(|listed| names(&listed)) })
        .await?;
    match buckets.iter().find(|bucket| !owned.contains(**bucket)) {
        None => Ok(()),
        Some(bucket) => Err(S3Error::AccessDenied(AccessDenied {
            by: DeniedBy::Xacct,
            message: format!(
                "bucket {bucket:?} is not in account {}'s own bucket listing: xacct sends \
                 nothing to a bucket another account owns",
                session.account_id
            ),
        })),
    }
}

fn names(buckets: &[Bucket]) -> HashSet<String> {
    buckets.iter().map(|b| b.name.clone()).collect()
}
