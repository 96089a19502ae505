//! All-accounts mode: copy every object under a prefix from a bucket in one account to a
//! bucket in another, streaming the bytes through the plugin (objects may be larger than
//! the plugin's memory) and keeping content type and metadata.
//!
//! Input: `{"source": {"account": "dev", "bucket": "reports"}, "target": {"account":
//! "prod", "bucket": "archive"}, "prefix": "2024/"}`; accounts by id or alias; an optional
//! `"target_prefix"` replaces `prefix` in the copied keys.

// The component ABI glue wit-bindgen generates is `unsafe` FFI; the workspace denies
// `unsafe` everywhere else.
#![allow(unsafe_code)]

use serde::{Deserialize, Serialize};
use xacct_guest::{Plugin, PutOptions, Result, export_plugin, find_account};

struct Replicate;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    source: Location,
    target: Location,
    #[serde(default)]
    prefix: String,
    target_prefix: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Location {
    account: String,
    bucket: String,
}

#[derive(Serialize)]
struct Output {
    /// True in a dry run: nothing was written, `keys` is what would be.
    dry_run: bool,
    copied: u64,
    bytes: u64,
    keys: Vec<String>,
}

impl Plugin for Replicate {
    type Input = Input;
    type Output = Output;

    fn run(input: Input) -> Result<Output> {
        let source = find_account(&input.source.account)?.s3()?;
        let target = find_account(&input.target.account)?.s3()?;
        let target_prefix = input.target_prefix.as_deref().unwrap_or(&input.prefix);
        let mut output = Output {
            dry_run: xacct_guest::dry_run(),
            copied: 0,
            bytes: 0,
            keys: Vec::new(),
        };
        for object in source
            .list(&input.source.bucket)
            .prefix(&input.prefix)
            .objects()
        {
            let key = object?.key;
            let target_key = format!("{target_prefix}{}", &key[input.prefix.len()..]);
            let reader = source.get(&input.source.bucket, &key)?;
            let options = PutOptions {
                content_type: reader.meta.content_type.clone(),
                metadata: reader.meta.metadata.clone(),
            };
            let stored = target
                .put_with(&input.target.bucket, &target_key, options)?
                .copy_from(reader)?;
            output.copied += 1;
            output.bytes += stored.size;
            output.keys.push(target_key);
        }
        Ok(output)
    }
}

// What the plugin needs, for the operator to compare with the grant (xacct plugins) or
// to start one from (xacct grant suggest replicate).
xacct_guest::declare_grant!(
    r#"
format = 1
accounts = ["*"]
s3 = [{ buckets = "*", actions = ["list", "read", "write"] }]
"#
);

export_plugin!(Replicate);
