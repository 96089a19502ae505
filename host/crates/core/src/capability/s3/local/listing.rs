//! Listing: ListObjectsV2 over a bucket's directory tree — keys in byte order, a prefix,
//! a delimiter's common prefixes, pages and continuation tokens — walking from the
//! directory the prefix names, neither listing nor descending into a link.

use std::io::{self, ErrorKind};

use cap_std::fs::{Dir, Metadata, MetadataExt};

use super::confine::{Miss, deepest, descend, io_error, key_segments};
use super::object::{etag, millis};
use crate::bindings::S3Error;
use crate::bindings::s3::{ListObjectsPage, ObjectSummary};
use crate::capability::s3::backend::{ListRequest, empty_page};

/// Lists every object below `start` (whose keys start with `key_prefix`); links,
/// symbolic or hard, are neither listed nor descended into, and nor is a name that
/// changes kind while the walk passes. One directory is listed at a time, opened again
/// from `start` by its names ([`descend`]): a call holds a bounded number of handles
/// however deep the tree.
fn walk(start: &Dir, key_prefix: &str, out: &mut Vec<(String, Metadata)>) -> io::Result<()> {
    // The directories still to list, each as its names below `start`.
    let mut pending: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(names) = pending.pop() {
        let path: Vec<&str> = names.iter().map(String::as_str).collect();
        let dir = match descend(start, &path, false) {
            Ok(dir) => dir,
            Err(Miss::Io(err)) => return Err(err),
            // Gone, or a link by now: skipped, as a link is.
            Err(_) => continue,
        };
        let dir_prefix: String = path.iter().map(|name| format!("{name}/")).collect();
        for entry in deepest(start, &dir).entries()? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // not UTF-8: cannot be a key
            };
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                let mut below = names.clone();
                below.push(name);
                pending.push(below);
            } else if file_type.is_file() {
                match entry.metadata() {
                    Ok(meta) if meta.is_file() && meta.nlink() == 1 => {
                        out.push((format!("{key_prefix}{dir_prefix}{name}"), meta))
                    }
                    Ok(_) => {}
                    Err(err) if err.kind() == ErrorKind::NotFound => {}
                    Err(err) => return Err(err),
                }
            }
        }
    }
    Ok(())
}

/// Where a listing resumes: after a key, or after every key under a common prefix.
enum Resume {
    AfterKey(String),
    AfterPrefix(String),
}

impl Resume {
    fn token(&self) -> String {
        match self {
            Resume::AfterKey(key) => format!("k{}", hex::encode(key)),
            Resume::AfterPrefix(prefix) => format!("p{}", hex::encode(prefix)),
        }
    }

    fn parse(token: &str) -> Result<Resume, S3Error> {
        let invalid = || {
            S3Error::InvalidInput("the continuation token is not one this backend issued".into())
        };
        let (kind, hex_part) = token.split_at_checked(1).ok_or_else(invalid)?;
        let value = String::from_utf8(hex::decode(hex_part).map_err(|_| invalid())?)
            .map_err(|_| invalid())?;
        match kind {
            "k" => Ok(Resume::AfterKey(value)),
            "p" => Ok(Resume::AfterPrefix(value)),
            _ => Err(invalid()),
        }
    }

    fn skips(&self, key: &str) -> bool {
        match self {
            Resume::AfterKey(after) => key <= after.as_str(),
            Resume::AfterPrefix(prefix) => {
                key <= prefix.as_str() || key.starts_with(prefix.as_str())
            }
        }
    }
}

/// Every object of the bucket open as `bucket_dir` whose key starts with `prefix`, in
/// key order, with its metadata.
pub(super) fn objects_under(
    bucket_dir: &Dir,
    prefix: &str,
) -> Result<Vec<(String, Metadata)>, S3Error> {
    let what = "listing the bucket";
    // Only the directory the prefix names can hold matching keys: start the walk there.
    let (dirs, start_key) = match prefix.rfind('/') {
        Some(slash) => match key_segments(&prefix[..slash]) {
            Ok(names) => match descend(bucket_dir, &names, false) {
                Ok(dirs) => (dirs, &prefix[..=slash]),
                Err(Miss::Io(err)) => return Err(io_error(err, what)),
                // Nothing there, or a link, which the walk from the bucket would skip too.
                Err(_) => return Ok(Vec::new()),
            },
            Err(_) => (None, ""),
        },
        None => (None, ""),
    };
    let mut entries = Vec::new();
    walk(deepest(bucket_dir, &dirs), start_key, &mut entries).map_err(|err| io_error(err, what))?;
    entries.retain(|(key, _)| key.starts_with(prefix));
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

/// The common prefix `key` (which starts with `prefix`) is rolled up into with
/// `delimiter`, if any: up to and including the delimiter's first occurrence after the
/// prefix.
pub(super) fn rolled_up(key: &str, prefix: &str, delimiter: Option<&str>) -> Option<String> {
    delimiter.and_then(|d| {
        let rest = &key[prefix.len()..];
        rest.find(d)
            .map(|at| key[..prefix.len() + at + d.len()].to_owned())
    })
}

/// One page of the listing `request` asks for, of the bucket open as `bucket_dir`.
pub(super) fn list_blocking(
    bucket_dir: &Dir,
    request: &ListRequest,
) -> Result<ListObjectsPage, S3Error> {
    let prefix = request.prefix.as_deref().unwrap_or("");
    let delimiter = request.delimiter();
    let Some(max_keys) = request.page_size() else {
        return Ok(empty_page());
    };
    let max_keys = max_keys as usize;
    let resume = match (&request.continuation_token, &request.start_after) {
        (Some(token), _) => Some(Resume::parse(token)?),
        (None, Some(after)) => Some(Resume::AfterKey(after.clone())),
        (None, None) => None,
    };
    let mut entries = objects_under(bucket_dir, prefix)?;
    entries.retain(|(key, _)| !resume.as_ref().is_some_and(|r| r.skips(key)));
    let mut page = empty_page();

    let mut last: Option<Resume> = None;
    let mut count = 0;
    for (key, meta) in entries {
        let rolled_up = rolled_up(&key, prefix, delimiter);
        if let (Some(common), Some(Resume::AfterPrefix(previous))) = (&rolled_up, &last)
            && common == previous
        {
            continue;
        }
        if count == max_keys {
            page.next_continuation_token = last.as_ref().map(Resume::token);
            break;
        }
        count += 1;
        match rolled_up {
            Some(common) => {
                page.common_prefixes.push(common.clone());
                last = Some(Resume::AfterPrefix(common));
            }
            None => {
                page.objects.push(ObjectSummary {
                    size: meta.len(),
                    etag: etag(&meta),
                    last_modified: millis(meta.modified()),
                    key: key.clone(),
                });
                last = Some(Resume::AfterKey(key));
            }
        }
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_tokens_round_trip_and_garbage_is_refused() {
        for resume in [
            Resume::AfterKey("a/b".into()),
            Resume::AfterPrefix("c/".into()),
        ] {
            let parsed = Resume::parse(&resume.token()).unwrap();
            assert_eq!(parsed.token(), resume.token());
        }
        for token in ["", "x00", "kzz", "pff"] {
            assert!(
                matches!(Resume::parse(token), Err(S3Error::InvalidInput(_))),
                "{token:?}"
            );
        }
    }
}
