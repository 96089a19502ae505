//! Bucket names and object keys, checked once — where a plugin's request enters the
//! host — and trusted everywhere after: a backend takes a [`BucketName`] and an
//! [`ObjectKey`], never a bare string, so no backend checks them again and none can be
//! handed one that was not checked.

use std::fmt;

use crate::bindings::S3Error;

/// The longest key S3 takes, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// A name that follows S3's bucket naming rules (3 to 63 lowercase letters, digits, '.'
/// and '-', starting and ending with a letter or digit, no `..`), so both backends refuse
/// the same names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucketName(String);

impl BucketName {
    pub fn new(name: impl Into<String>) -> Result<BucketName, S3Error> {
        let name = name.into();
        let bytes = name.as_bytes();
        let valid = (3..=63).contains(&name.len())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.')
            && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
            && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
            && !name.contains("..");
        if valid {
            Ok(BucketName(name))
        } else if name.len() > 63 {
            // Not repeated: it may be megabytes long.
            Err(S3Error::InvalidInput(format!(
                "a bucket name of {} bytes is not valid (3-63 lowercase letters, digits, '.', '-')",
                name.len()
            )))
        } else {
            Err(S3Error::InvalidInput(format!(
                "{name:?} is not a valid bucket name (3-63 lowercase letters, digits, '.', '-')"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A key of the length S3 takes: 1 to [`MAX_KEY_BYTES`] bytes. (Any such key is an S3
/// key; a backend that stores keys as paths refuses, for itself, those that are not
/// paths.)
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn new(key: impl Into<String>) -> Result<ObjectKey, S3Error> {
        let key = key.into();
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            // Not repeated: it may be megabytes long.
            return Err(S3Error::InvalidInput(format!(
                "a key is 1 to {MAX_KEY_BYTES} bytes long; this one has {} bytes",
                key.len()
            )));
        }
        Ok(ObjectKey(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3s_rules() {
        for good in ["abc", "my-bucket.eu", "a1b", &"b".repeat(63)] {
            assert_eq!(BucketName::new(good).unwrap().as_str(), good);
        }
        for bad in [
            "ab", "Upper", "-start", "end-", "a..b", "../x", "/tmp", "a_b", "",
        ] {
            assert!(
                matches!(BucketName::new(bad), Err(S3Error::InvalidInput(_))),
                "{bad:?}"
            );
        }
        let S3Error::InvalidInput(message) = BucketName::new("x".repeat(5000)).unwrap_err() else {
            panic!()
        };
        assert!(
            message.starts_with("a bucket name of 5000 bytes"),
            "{message}"
        );
    }

    #[test]
    fn keys_are_1_to_1024_bytes_and_a_long_one_is_not_repeated() {
        assert!(ObjectKey::new("a/../b").is_ok(), "an S3 key, if not a path");
        assert!(ObjectKey::new("k".repeat(1024)).is_ok());
        assert!(ObjectKey::new("").is_err());
        let S3Error::InvalidInput(message) = ObjectKey::new("k".repeat(1025)).unwrap_err() else {
            panic!()
        };
        assert_eq!(
            message,
            "a key is 1 to 1024 bytes long; this one has 1025 bytes"
        );
    }
}
