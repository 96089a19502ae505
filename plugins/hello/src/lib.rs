//! The classic cross-account Lambda handler, as an xacct plugin: for the account in
//! scope, list its buckets and greet it by alias.

// The component ABI glue wit-bindgen generates is `unsafe` FFI; the workspace denies
// `unsafe` everywhere else.
#![allow(unsafe_code)]

use xacct_guest::serde_json::{Value, json};
use xacct_guest::{Plugin, Result, export_plugin};

struct Hello;

impl Plugin for Hello {
    type Input = Value;
    type Output = Value;

    fn run(_input: Value) -> Result<Value> {
        let account = xacct_guest::account()?;
        let buckets: Vec<String> = account
            .s3()?
            .buckets()?
            .into_iter()
            .map(|b| b.name)
            .collect();
        Ok(json!({
            "greeting": format!("Hello from {} ({})!", account.alias, account.id),
            "account": account.id,
            "buckets": buckets,
        }))
    }
}

// What the plugin needs, for the operator to compare with the grant (xacct plugins) or
// to start one from (xacct grant suggest hello).
xacct_guest::declare_grant!(
    r#"
format = 1
accounts = ["*"]
s3 = [{ buckets = "*", actions = ["list"] }]
"#
);

export_plugin!(Hello);
