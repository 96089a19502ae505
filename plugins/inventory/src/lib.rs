//! Per account: each bucket's object count and total bytes, paging through listings of
//! any size.

// The component ABI glue wit-bindgen generates is `unsafe` FFI; the workspace denies
// `unsafe` everywhere else.
#![allow(unsafe_code)]

use serde::{Deserialize, Serialize};
use xacct_guest::{Plugin, Result, export_plugin};

struct Inventory;

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Input {
    /// Count only keys under this prefix.
    prefix: Option<String>,
}

#[derive(Serialize)]
struct Output {
    account: String,
    alias: String,
    buckets: Vec<BucketTotals>,
    objects: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct BucketTotals {
    name: String,
    objects: u64,
    bytes: u64,
}

impl Plugin for Inventory {
    type Input = Input;
    type Output = Output;

    fn run(input: Input) -> Result<Output> {
        let account = xacct_guest::account()?;
        let s3 = account.s3()?;
        let mut buckets = Vec::new();
        for bucket in s3.buckets()? {
            let mut totals = BucketTotals {
                name: bucket.name,
                objects: 0,
                bytes: 0,
            };
            for object in s3
                .list(&totals.name)
                .prefix(input.prefix.as_deref().unwrap_or(""))
                .objects()
            {
                totals.objects += 1;
                totals.bytes += object?.size;
            }
            buckets.push(totals);
        }
        Ok(Output {
            objects: buckets.iter().map(|b| b.objects).sum(),
            bytes: buckets.iter().map(|b| b.bytes).sum(),
            account: account.id,
            alias: account.alias,
            buckets,
        })
    }
}

// What the plugin needs, for the operator to compare with the grant (xacct plugins) or
// to start one from (xacct grant suggest inventory).
xacct_guest::declare_grant!(
    r#"
format = 1
accounts = ["*"]
s3 = [{ buckets = "*", actions = ["list"] }]
"#
);

export_plugin!(Inventory);
