//! The fields of S3's answers as the WIT records hold them: times in milliseconds, sizes
//! unsigned (an absent or negative one is 0).

use aws_smithy_types::date_time::DateTime;

pub(super) fn millis(time: Option<&DateTime>) -> Option<i64> {
    time.and_then(|t| t.to_millis().ok())
}

pub(super) fn size(bytes: Option<i64>) -> u64 {
    bytes.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}
