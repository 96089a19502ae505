//! The host's own check that an account owns a bucket before its session sends anything
//! to it. Every request also carries the expected bucket owner ([`crate::pin`]), which S3
//! enforces ("Verifying bucket ownership with bucket owner condition", S3 User Guide); an
//! S3-compatible endpoint configured through `endpoint_url` may ignore that header, and
//! moto does. ListBuckets "returns a list of all buckets owned by the authenticated sender
//! of the request" ("ListBuckets", S3 API Reference): a bucket outside that listing is
//! another account's (or nobody's), whatever the endpoint. Neither botocore nor
//! aws-sdk-rust checks ownership on the client; both only send the header.
//!
//! The listing is fetched once per account per run (not per session: sessions outlive a
//! run in a long-lived process, and the account may create buckets meanwhile), the first
//! time one of the run's calls addresses a bucket there; a concurrent first access waits
//! for that one listing. A plugin's own complete listing fills it too. A listing that
//! fails is not kept: the call fails with its error, and the next access lists again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use xacct_core::bindings::s3::Bucket;
use xacct_core::bindings::{AccessDenied, DeniedBy, S3Error};

use super::fields::millis;
use super::send::on_bucket;
use crate::session::Session;

/// Buckets per ListBuckets page (S3's maximum is 10,000): a page stays a small answer.
const LIST_BUCKETS_PAGE: i32 = 1000;

/// Every bucket the session's account owns, by name, learning each one's region.
async fn list_owned(session: &Session) -> Result<Vec<Bucket>, S3Error> {
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
    Ok(buckets)
}

/// The buckets each account of one run owns, each account listed once.
#[derive(Default)]
pub(super) struct OwnedBuckets {
    by_account: Mutex<HashMap<String, Arc<OnceCell<HashSet<String>>>>>,
}

impl OwnedBuckets {
    fn of(&self, account_id: &str) -> Arc<OnceCell<HashSet<String>>> {
        let mut by_account = self.by_account.lock().unwrap_or_else(|e| e.into_inner());
        by_account.entry(account_id.to_owned()).or_default().clone()
    }

    /// The plugin's ListBuckets: every bucket the session's account owns, which serves
    /// the ownership check too when it comes first.
    pub(super) async fn list(&self, session: &Session) -> Result<Vec<Bucket>, S3Error> {
        let buckets = list_owned(session).await?;
        // Already listed (or being listed) for the check: that listing stands.
        let _ = self.of(&session.account_id).set(names(&buckets));
        Ok(buckets)
    }

    /// `Ok` when the session's account owns every one of `buckets`; otherwise
    /// `access-denied` naming the first it does not own, and nothing is sent to any.
    pub(super) async fn check(&self, session: &Session, buckets: &[&str]) -> Result<(), S3Error> {
        let cell = self.of(&session.account_id);
        let owned = cell
            .get_or_try_init(|| async { list_owned(session).await.map(|listed| names(&listed)) })
            .await?;
        match buckets.iter().find(|bucket| !owned.contains(**bucket)) {
            None => Ok(()),
            Some(bucket) => Err(S3Error::AccessDenied(AccessDenied {
                by: DeniedBy::Xacct,
                message: format!(
                    "bucket {bucket:?} is not in account {}'s own bucket listing (another \
                     account owns it, or it does not exist): xacct sends it nothing",
                    session.account_id
                ),
            })),
        }
    }
}

fn names(buckets: &[Bucket]) -> HashSet<String> {
    buckets.iter().map(|b| b.name.clone()).collect()
}
