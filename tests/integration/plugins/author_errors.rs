//! Errors a plugin's author reads carry the fix: a call outside the grant names the
//! action, the bucket and prefix, and the rule to add under the grant's key, and reaches
//! the report in words, not as a Rust `Debug` dump.

use crate::common;

use common::{World, failed};
use serde_json::json;
use xacct::plan::Mode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_outside_the_grant_names_the_rule_to_add() {
    let grant = "[plugin.hello]\naccounts = [\"*\"]\ns3 = [{ buckets = \"reports-*\", actions = [\"read\"] }]\n";
    let world = World::local(&["hello"], grant);
    let report = world.run("hello", json!({}), Mode::PerAccount).await;
    let (kind, message) = failed(&report.entries[0]);
    assert_eq!(kind, "plugin-error");
    assert_eq!(
        message,
        "access denied by the xacct grant: list of buckets is not in this plugin's grant \
         (plugin.hello); fix: add { buckets = \"*\", actions = [\"list\"] } to plugin.hello.s3"
    );
}
