//! The session policy each account's role is assumed with: the plugin's grant as IAM
//! statements, pinned to buckets the account owns, so that IAM enforces the grant a
//! second time, whatever the role allows — and the permission policy a role needs for
//! every grant that may run in it. The statements come from the S3 capability's action
//! table: an operation added there is in every policy.

use serde_json::{Value, json};
use xacct_core::capability::grant::Grant;
use xacct_core::capability::s3::actions::{Action, On};
use xacct_core::capability::s3::rules::S3Rule;

/// The IAM statements equivalent to `grant`'s S3 rules, from the action table: one per
/// account- or listing-level IAM action, one per rule for its object-level ones. With
/// `resource_account`, each bucket and object statement holds only for resources that
/// account owns.
fn statements(grant: &Grant, resource_account: Option<&str>) -> Vec<Value> {
    // Bucket names are global: without this condition a session could reach a
    // bucket of another account whose bucket policy lets it in.
    let pin = |statement: &mut Value| {
        if let Some(account) = resource_account {
            statement["Condition"]["StringEquals"] = json!({"s3:ResourceAccount": account});
        }
    };
    let rules = &grant.s3.rules;
    let mut statements = Vec::new();
    for action in iam_actions(rules.iter().flat_map(|rule| &rule.actions), On::Account) {
        statements.push(json!({"Effect": "Allow", "Action": action, "Resource": "*"}));
    }
    for rule in rules {
        let bucket_actions = iam_actions(&rule.actions, On::Bucket);
        if !bucket_actions.is_empty() {
            let mut statement =
                json!({"Effect": "Allow", "Action": bucket_actions, "Resource": bucket_arn(rule)});
            pin(&mut statement);
            statements.push(statement);
        }
        for action in iam_actions(&rule.actions, On::Listing) {
            let mut statement =
                json!({"Effect": "Allow", "Action": action, "Resource": bucket_arn(rule)});
            if !rule.prefix.is_empty() {
                statement["Condition"] =
                    json!({"StringLike": {"s3:prefix": [format!("{}*", rule.prefix)]}});
            }
            pin(&mut statement);
            statements.push(statement);
        }
        let object_actions = iam_actions(&rule.actions, On::Object);
        if !object_actions.is_empty() {
            let mut statement =
                json!({"Effect": "Allow", "Action": object_actions, "Resource": objects_arn(rule)});
            pin(&mut statement);
            statements.push(statement);
        }
    }
    statements
}

/// The IAM actions the operations of `actions` need on `on`, each once, in the action
/// table's order.
fn iam_actions<'a>(actions: impl IntoIterator<Item = &'a Action>, on: On) -> Vec<&'static str> {
    let mut granted: Vec<Action> = actions.into_iter().copied().collect();
    granted.sort_unstable();
    granted.dedup();
    let mut iam = Vec::new();
    for action in granted {
        for operation in action.operations().filter(|op| op.on == on) {
            for name in operation.iam {
                if !iam.contains(name) {
                    iam.push(*name);
                }
            }
        }
    }
    iam
}

fn bucket_arn(rule: &S3Rule) -> String {
    format!("arn:aws:s3:::{}", rule.buckets)
}

fn objects_arn(rule: &S3Rule) -> String {
    format!("arn:aws:s3:::{}/{}*", rule.buckets, rule.prefix)
}

/// The inline session policy the plugin's role in `account` is assumed with: IAM then
/// bounds the session to the grant, and to buckets `account` owns, whatever the role
/// itself allows.
pub fn session_policy(grant: &Grant, account: &str) -> Value {
    policy(statements(grant, Some(account)))
}

/// The smallest permission policy a target role needs for every grant covering it.
pub fn permission_policy<'a>(grants: impl IntoIterator<Item = &'a Grant>) -> Value {
    let mut all: Vec<Value> = Vec::new();
    for statement in grants.into_iter().flat_map(|grant| statements(grant, None)) {
        if !all.contains(&statement) {
            all.push(statement);
        }
    }
    policy(all)
}

fn policy(statements: Vec<Value>) -> Value {
    if statements.is_empty() {
        // An empty statement list is not a valid policy; this one allows nothing.
        return json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]});
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use xacct_core::config::Config as CoreConfig;

    /// A grant of `rules` (bucket glob, prefix, actions), as a config writes it.
    fn grant(rules: &[(&str, &str, &[&str])]) -> Grant {
        let rules: Vec<String> = rules
            .iter()
            .map(|(buckets, prefix, actions)| {
                let actions: Vec<String> = actions.iter().map(|a| format!("{a:?}")).collect();
                format!(
                    "{{ buckets = {buckets:?}, prefix = {prefix:?}, actions = [{}] }}",
                    actions.join(", ")
                )
            })
            .collect();
        let text = format!(
            "[plugin.test]\naccounts = [\"*\"]\ns3 = [{}]\n",
            rules.join(", ")
        );
        let config = CoreConfig::parse(&text, Path::new("xacct.toml")).unwrap();
        config.grant_for("test").unwrap().clone()
    }

    #[test]
    fn the_session_policy_mirrors_the_grant() {
        let g = grant(&[
            ("reports-*", "2024/", &["list", "read"]),
            ("drop", "", &["write", "delete"]),
        ]);
        let own = json!({"s3:ResourceAccount": "111111111111"});
        assert_eq!(
            session_policy(&g, "111111111111"),
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::reports-*",
                 "Condition": {"StringLike": {"s3:prefix": ["2024/*"]}, "StringEquals": own}},
                {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::reports-*/2024/*",
                 "Condition": {"StringEquals": own}},
                {"Effect": "Allow", "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"],
                 "Resource": "arn:aws:s3:::drop/*", "Condition": {"StringEquals": own}},
            ]})
        );
        assert_eq!(
            session_policy(&Grant::none("test"), "111111111111"),
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]})
        );
    }

    #[test]
    fn config_read_is_every_bucket_setting_read_on_the_bucket_and_the_accounts_block_on_star() {
        let g = grant(&[("logs-*", "", &["list", "config-read"])]);
        let own = json!({"s3:ResourceAccount": "111111111111"});
        assert_eq!(
            session_policy(&g, "111111111111")["Statement"],
            json!([
                {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
                // Account-level, no resource type ("Actions, resources, and condition keys
                // for Amazon S3"): on `*`, and the request names the session's account.
                {"Effect": "Allow", "Action": "s3:GetAccountPublicAccessBlock", "Resource": "*"},
                {"Effect": "Allow", "Action": [
                    "s3:GetBucketLocation", "s3:GetBucketVersioning",
                    "s3:GetEncryptionConfiguration", "s3:GetBucketPublicAccessBlock",
                    "s3:GetBucketPolicyStatus", "s3:GetBucketPolicy",
                    "s3:GetBucketOwnershipControls", "s3:GetLifecycleConfiguration",
                    "s3:GetBucketLogging", "s3:GetBucketTagging", "s3:GetBucketAcl",
                 ], "Resource": "arn:aws:s3:::logs-*", "Condition": {"StringEquals": own}},
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::logs-*",
                 "Condition": {"StringEquals": own}},
            ])
        );
    }

    #[test]
    fn the_permission_policy_is_the_union_of_grants() {
        let a = grant(&[("b", "x/", &["read"])]);
        let b = grant(&[("b", "x/", &["read"]), ("c", "", &["tag"])]);
        let policy = permission_policy([&a, &b]);
        assert_eq!(
            policy["Statement"],
            json!([
                {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/x/*"},
                {"Effect": "Allow", "Action": ["s3:GetObjectTagging", "s3:PutObjectTagging", "s3:DeleteObjectTagging"],
                 "Resource": "arn:aws:s3:::c/*"},
            ])
        );
    }
}
