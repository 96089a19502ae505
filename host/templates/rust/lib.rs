//! {{name}}: for the account it runs in, each bucket with its number of objects.

use xacct_guest::serde_json::{Value, json};
use xacct_guest::{Plugin, Result, export_plugin};

struct Handler;

impl Plugin for Handler {
    type Input = Value;
    type Output = Value;

    fn run(_input: Value) -> Result<Value> {
        let account = xacct_guest::account()?;
        let s3 = account.s3()?;
        let mut buckets = Vec::new();
        for bucket in s3.buckets()? {
            let mut objects = 0;
            for object in s3.list(&bucket.name).objects() {
                object?;
                objects += 1;
            }
            // Printed lines go to the host's log; `warn:` and `error:` set their level.
            println!("{}: {objects} objects", bucket.name);
            buckets.push(json!({ "name": bucket.name, "objects": objects }));
        }
        Ok(json!({ "account": account.id, "alias": account.alias, "buckets": buckets }))
    }
}

export_plugin!(Handler);
