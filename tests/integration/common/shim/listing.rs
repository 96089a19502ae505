//! ListBuckets as S3 answers it ("ListBuckets", S3 API Reference; "General purpose bucket
//! quotas, limitations, and restrictions", S3 User Guide):
//!
//! - `BucketRegion` is in the answer only when the request is paginated ("If the request
//!   contains at least one valid parameter, it is included in the response": `max-buckets`,
//!   `continuation-token`, `prefix`, `bucket-region`), pages of `max-buckets` (default
//!   10,000) with a `ContinuationToken` while more remain. moto ignores the token and
//!   returns no region, so the shim builds paginated answers itself, after moto has
//!   authorized the call (moto's answer gives each bucket's creation date).
//! - "All unpaginated ListBuckets requests will be rejected for AWS accounts with a
//!   general purpose bucket quota greater than 10,000": a test flags such accounts. The
//!   documentation does not give the refusal's code; the shim answers `400
//!   InvalidRequest`.

use std::collections::HashMap;

use super::{Knowledge, xml_field};

/// The query parameters that make a ListBuckets paginated.
const PAGINATION: [&str; 4] = [
    "max-buckets",
    "continuation-token",
    "prefix",
    "bucket-region",
];

/// A ListBuckets request's pagination, if it is paginated.
pub(super) struct Page {
    max_buckets: usize,
    after: Option<String>,
    prefix: Option<String>,
    region: Option<String>,
}

impl Page {
    pub(super) fn of(query: Option<&str>) -> Option<Page> {
        let query: HashMap<String, String> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        if !PAGINATION.iter().any(|p| query.contains_key(*p)) {
            return None;
        }
        Some(Page {
            max_buckets: query
                .get("max-buckets")
                .and_then(|n| n.parse().ok())
                .unwrap_or(10_000),
            after: query
                .get("continuation-token")
                .and_then(|token| token_bucket(token)),
            prefix: query.get("prefix").cloned(),
            region: query.get("bucket-region").cloned(),
        })
    }
}

/// The continuation token the shim hands out: the last bucket listed, hex-encoded (opaque
/// to the client, as S3's are).
fn token_of(bucket: &str) -> String {
    bucket.bytes().map(|b| format!("{b:02x}")).collect()
}

fn token_bucket(token: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// The paginated answer for `account`, from what the shim knows of its buckets and moto's
/// own (unpaginated-looking) answer, which holds the owner and the creation dates.
pub(super) fn paginated_answer(
    page: &Page,
    account: &str,
    knowledge: &Knowledge,
    moto_answer: &str,
) -> String {
    let mut buckets: Vec<(&String, &String)> = knowledge
        .owners
        .iter()
        .filter(|(_, owner)| *owner == account)
        .filter_map(|(bucket, _)| Some((bucket, knowledge.regions.get(bucket)?)))
        .filter(|(bucket, region)| {
            page.prefix
                .as_ref()
                .is_none_or(|p| bucket.starts_with(p.as_str()))
                && page.region.as_ref().is_none_or(|r| r == *region)
                && page
                    .after
                    .as_ref()
                    .is_none_or(|after| bucket.as_str() > after.as_str())
        })
        .collect();
    buckets.sort();
    let more = buckets.len() > page.max_buckets;
    buckets.truncate(page.max_buckets);
    let created = creation_dates(moto_answer);
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
    );
    if let Some(owner) = xml_field(moto_answer, "Owner") {
        xml.push_str(&format!("<Owner>{owner}</Owner>"));
    }
    xml.push_str("<Buckets>");
    for (bucket, region) in &buckets {
        let date = created
            .get(bucket.as_str())
            .copied()
            .unwrap_or("2006-02-03T16:45:09.000Z");
        let region = if knowledge.no_bucket_regions {
            String::new()
        } else {
            format!("<BucketRegion>{region}</BucketRegion>")
        };
        xml.push_str(&format!(
            "<Bucket><Name>{bucket}</Name><CreationDate>{date}</CreationDate>{region}</Bucket>"
        ));
    }
    xml.push_str("</Buckets>");
    if more && let Some((last, _)) = buckets.last() {
        xml.push_str(&format!(
            "<ContinuationToken>{}</ContinuationToken>",
            token_of(last)
        ));
    }
    if let Some(prefix) = &page.prefix {
        xml.push_str(&format!("<Prefix>{prefix}</Prefix>"));
    }
    xml.push_str("</ListAllMyBucketsResult>");
    xml
}

/// Bucket → creation date, from a ListBuckets answer.
fn creation_dates(answer: &str) -> HashMap<&str, &str> {
    answer
        .split("<Bucket>")
        .skip(1)
        .filter_map(|bucket| {
            Some((
                xml_field(bucket, "Name")?,
                xml_field(bucket, "CreationDate")?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_round_trip_and_pagination_is_recognised() {
        assert_eq!(
            super::token_bucket(&super::token_of("dev-euw1")).as_deref(),
            Some("dev-euw1")
        );
        assert!(super::Page::of(None).is_none());
        assert!(super::Page::of(Some("x-id=ListBuckets")).is_none());
        let page = super::Page::of(Some("max-buckets=2")).unwrap();
        assert_eq!(page.max_buckets, 2);
    }
}
