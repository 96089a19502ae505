//! The session policy each account's role is assumed with: the plugin's grant as IAM
//! statements, pinned to buckets the account owns, so that IAM enforces the grant a
//! second time, whatever the role allows — and the permission policy a role needs for
//! every grant that may run in it. The statements come from the S3 capability's action
//! table: an operation added there is in every policy. Every ARN names the home
//! identity's partition ([`Partition`]).
//!
//! SSE-KMS: S3 calls KMS for the session when it reads or writes an object encrypted with
//! a customer managed key, so the session policy must allow those KMS actions too ("Using
//! server-side encryption with AWS KMS keys (SSE-KMS)", S3 User Guide; CreateMultipartUpload,
//! UploadPart and UploadPartCopy "Permissions", S3 API Reference): `read` needs
//! `kms:Decrypt` (GetObject, a copy's source), `write` needs `kms:GenerateDataKey`
//! (PutObject, CopyObject's target, CreateMultipartUpload) and `kms:Decrypt` (UploadPart,
//! UploadPartCopy); `versions` reads versions (GetObject with a `versionId`) and needs
//! `kms:Decrypt` as `read` does. They are allowed only through S3: `kms:ViaService` ("AWS KMS condition
//! keys", KMS Developer Guide) is `s3.REGION.SUFFIX`, matched with `StringLike` over every
//! region of the partition, because a session is opened before the regions of the buckets
//! it will reach are known, and the service, not the region, is what keeps the key out of
//! the plugin's direct reach. A rule's `kms_keys` narrows the keys from any to those.

use serde_json::{Value, json};
use xacct_core::capability::grant::Grant;
use xacct_core::capability::s3::actions::{Action, LIST_OBJECTS, OPERATIONS, On};
use xacct_core::capability::s3::rules::S3Rule;

use crate::partition::Partition;

/// The IAM statements equivalent to `grant`'s S3 rules, from the action table: one per
/// account- or listing-level IAM action, one per rule for its object-level ones. With
/// `resource_account`, each bucket and object statement holds only for resources that
/// account owns. Then the KMS statements S3 needs for the rules' reads and writes.
fn statements(grant: &Grant, resource_account: Option<&str>, partition: &Partition) -> Vec<Value> {
    // Bucket names are global: without this condition a session could reach a
    // bucket of another account whose bucket policy lets it in.
    let pin = |statement: &mut Value| {
        if let Some(account) = resource_account {
            statement["Condition"]["StringEquals"] = json!({"s3:ResourceAccount": account});
        }
    };
    let rules = &grant.s3.rules;
    let mut statements = Vec::new();
    for action in iam_actions(rules, On::Account) {
        statements.push(json!({"Effect": "Allow", "Action": action, "Resource": "*"}));
    }
    for rule in rules {
        let bucket_actions = iam_actions(std::slice::from_ref(rule), On::Bucket);
        if !bucket_actions.is_empty() {
            let mut statement = json!({"Effect": "Allow", "Action": bucket_actions, "Resource": bucket_arn(rule, partition)});
            pin(&mut statement);
            statements.push(statement);
        }
        let mut listing = iam_actions(std::slice::from_ref(rule), On::Listing);
        // "If the object you request doesn't exist, the error that Amazon S3 returns
        // depends on whether you also have the s3:ListBucket permission" (GetObject and
        // HeadObject "Permissions", S3 API Reference: 403 without it). A read is allowed
        // the listing of its prefix so that a missing key is `not-found`, as the local
        // backend says; the host's grant check still refuses any listing the grant lacks.
        if rule.actions.contains(&Action::Read) {
            for action in LIST_OBJECTS.iam {
                if !listing.contains(action) {
                    listing.push(action);
                }
            }
        }
        for action in listing {
            let mut statement = json!({"Effect": "Allow", "Action": action, "Resource": bucket_arn(rule, partition)});
            if !rule.prefix.is_empty() {
                statement["Condition"] =
                    json!({"StringLike": {"s3:prefix": [format!("{}*", rule.prefix)]}});
            }
            pin(&mut statement);
            statements.push(statement);
        }
        let object_actions = iam_actions(std::slice::from_ref(rule), On::Object);
        if !object_actions.is_empty() {
            let mut statement = json!({"Effect": "Allow", "Action": object_actions, "Resource": objects_arn(rule, partition)});
            pin(&mut statement);
            statements.push(statement);
        }
    }
    statements.extend(kms_statements(rules, partition));
    statements
}

/// The KMS actions S3 calls for `action` on an SSE-KMS object.
fn kms_actions(action: Action) -> &'static [&'static str] {
    match action {
        // A version of an SSE-KMS object is decrypted as the object is.
        Action::Read | Action::Versions => &["kms:Decrypt"],
        Action::Write => &["kms:GenerateDataKey", "kms:Decrypt"],
        _ => &[],
    }
}

/// One statement per distinct `kms_keys` of the rules that read or write (one in all for
/// rules that name none): the policy's 2,048 characters are shared with the S3 statements.
fn kms_statements(rules: &[S3Rule], partition: &Partition) -> Vec<Value> {
    let mut groups: Vec<(&[String], Vec<&'static str>)> = Vec::new();
    for rule in rules {
        let actions = rule.actions.iter().flat_map(|action| kms_actions(*action));
        let at = match groups
            .iter()
            .position(|(keys, _)| *keys == rule.kms_keys.as_slice())
        {
            Some(at) => at,
            None => {
                groups.push((&rule.kms_keys, Vec::new()));
                groups.len() - 1
            }
        };
        for action in actions {
            if !groups[at].1.contains(action) {
                groups[at].1.push(action);
            }
        }
    }
    groups
        .into_iter()
        .filter(|(_, actions)| !actions.is_empty())
        .map(|(keys, mut actions)| {
            actions.sort_unstable();
            let resource = match keys {
                [] => json!("*"),
                keys => json!(keys),
            };
            json!({
                "Effect": "Allow",
                "Action": actions,
                "Resource": resource,
                "Condition": {"StringLike": {"kms:ViaService": partition.s3_service("*")}},
            })
        })
        .collect()
}

/// The IAM actions the operations `rules` allow need on `on` (a write of a setting only
/// where the rule names the setting), each once, in the action table's order.
fn iam_actions(rules: &[S3Rule], on: On) -> Vec<&'static str> {
    let mut iam = Vec::new();
    let allowed = OPERATIONS
        .iter()
        .filter(|op| op.on == on && rules.iter().any(|rule| rule.allows_operation(op)));
    for operation in allowed {
        for name in operation.iam {
            if !iam.contains(name) {
                iam.push(*name);
            }
        }
    }
    iam
}

fn bucket_arn(rule: &S3Rule, partition: &Partition) -> String {
    format!("arn:{}:s3:::{}", partition.id, rule.buckets)
}

fn objects_arn(rule: &S3Rule, partition: &Partition) -> String {
    format!(
        "arn:{}:s3:::{}/{}*",
        partition.id, rule.buckets, rule.prefix
    )
}

/// The inline session policy the plugin's role in `account` is assumed with: IAM then
/// bounds the session to the grant, and to buckets `account` owns, whatever the role
/// itself allows.
pub fn session_policy(grant: &Grant, account: &str, partition: &Partition) -> Value {
    policy(statements(grant, Some(account), partition))
}

/// The smallest permission policy a target role needs for every grant covering it.
pub fn permission_policy<'a>(
    grants: impl IntoIterator<Item = &'a Grant>,
    partition: &Partition,
) -> Value {
    let mut all: Vec<Value> = Vec::new();
    for statement in grants
        .into_iter()
        .flat_map(|grant| statements(grant, None, partition))
    {
        if !all.contains(&statement) {
            all.push(statement);
        }
    }
    policy(all)
}

/// A policy's text as STS takes it. AssumeRole's `Policy` accepts only "\u0020 through
/// \u00FF", tab, linefeed and carriage return (STS API Reference), and a grant's prefix may
/// be in any script: characters past U+00FF are written as JSON `\uXXXX` escapes (UTF-16,
/// as JSON escapes are), which IAM reads back as the same text. Outside strings, the JSON
/// serde writes is ASCII, so the escapes land in strings only.
pub fn policy_text(policy: &Value) -> String {
    let mut text = String::new();
    for c in policy.to_string().chars() {
        if u32::from(c) <= 0xFF {
            text.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                text.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    text
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
    use crate::partition::AWS;
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
        let via_s3 = json!({"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}});
        assert_eq!(
            session_policy(&g, "111111111111", AWS),
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::reports-*",
                 "Condition": {"StringLike": {"s3:prefix": ["2024/*"]}, "StringEquals": own}},
                {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::reports-*/2024/*",
                 "Condition": {"StringEquals": own}},
                {"Effect": "Allow", "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"],
                 "Resource": "arn:aws:s3:::drop/*", "Condition": {"StringEquals": own}},
                {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
                 "Condition": via_s3},
            ]})
        );
        assert_eq!(
            session_policy(&Grant::none("test"), "111111111111", AWS),
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]})
        );
    }

    #[test]
    fn config_read_is_every_bucket_setting_read_on_the_bucket_and_the_accounts_block_on_star() {
        let g = grant(&[("logs-*", "", &["list", "config-read"])]);
        let own = json!({"s3:ResourceAccount": "111111111111"});
        assert_eq!(
            session_policy(&g, "111111111111", crate::partition::AWS)["Statement"],
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
    fn config_write_allows_only_the_puts_of_the_settings_its_rule_names() {
        let text = "[plugin.test]\naccounts = [\"*\"]\ns3 = [\
            { buckets = \"logs-*\", actions = [\"config-write\"], settings = [\"versioning\", \"public-access-block\"] }, \
            { buckets = \"data\", actions = [\"config-write\"], settings = [\"tags\"] }]\n";
        let config = CoreConfig::parse(text, Path::new("xacct.toml")).unwrap();
        let g = config.grant_for("test").unwrap();
        let own = json!({"s3:ResourceAccount": "111111111111"});
        assert_eq!(
            session_policy(g, "111111111111", crate::partition::AWS)["Statement"],
            json!([
                // Each put with the read of the old value the audit log records.
                {"Effect": "Allow", "Action": [
                    "s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock",
                    "s3:PutBucketVersioning", "s3:GetBucketVersioning",
                 ], "Resource": "arn:aws:s3:::logs-*", "Condition": {"StringEquals": own}},
                {"Effect": "Allow", "Action": ["s3:PutBucketTagging", "s3:GetBucketTagging"],
                 "Resource": "arn:aws:s3:::data", "Condition": {"StringEquals": own}},
            ])
        );
    }

    #[test]
    fn versions_are_listed_under_the_prefix_read_and_deleted_on_the_objects_with_kms_to_read() {
        let g = grant(&[("archive", "logs/", &["versions", "delete-versions"])]);
        let own = json!({"s3:ResourceAccount": "111111111111"});
        let via_s3 = json!({"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}});
        assert_eq!(
            session_policy(&g, "111111111111", AWS)["Statement"],
            json!([
                {"Effect": "Allow", "Action": "s3:ListBucketVersions", "Resource": "arn:aws:s3:::archive",
                 "Condition": {"StringLike": {"s3:prefix": ["logs/*"]}, "StringEquals": own}},
                {"Effect": "Allow", "Action": ["s3:GetObjectVersion", "s3:DeleteObjectVersion"],
                 "Resource": "arn:aws:s3:::archive/logs/*", "Condition": {"StringEquals": own}},
                // Reading a version of an SSE-KMS object decrypts it, as a read does.
                {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "*", "Condition": via_s3},
            ])
        );
    }

    #[test]
    fn text_past_latin1_is_escaped_and_reads_back_the_same() {
        let g = grant(&[("data", "データ/😀é", &["read"])]);
        let policy = session_policy(&g, "111111111111", crate::partition::AWS);
        let text = policy_text(&policy);
        assert!(
            text.chars()
                .all(|c| matches!(u32::from(c), 0x09 | 0x0A | 0x0D | 0x20..=0xFF)),
            "{text}"
        );
        assert!(
            text.contains("\\u30c7\\u30fc\\u30bf/\\ud83d\\ude00é"),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), policy);
    }

    #[test]
    fn the_permission_policy_is_the_union_of_grants() {
        let a = grant(&[("b", "x/", &["read"])]);
        let b = grant(&[("b", "x/", &["read"]), ("c", "", &["tag"])]);
        let policy = permission_policy([&a, &b], AWS);
        let via_s3 = json!({"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}});
        assert_eq!(
            policy["Statement"],
            json!([
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
                 "Condition": {"StringLike": {"s3:prefix": ["x/*"]}}},
                {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/x/*"},
                {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "*", "Condition": via_s3},
                {"Effect": "Allow", "Action": ["s3:GetObjectTagging", "s3:PutObjectTagging", "s3:DeleteObjectTagging"],
                 "Resource": "arn:aws:s3:::c/*"},
            ])
        );
    }

    #[test]
    fn kms_statements_follow_the_partition_and_the_rules_keys() {
        let key = "arn:aws-cn:kms:cn-north-1:111111111111:key/k";
        let text = format!(
            "[plugin.test]\naccounts = [\"*\"]\ns3 = [{{ buckets = \"a\", actions = [\"read\"], kms_keys = [{key:?}] }}, \
             {{ buckets = \"b\", actions = [\"write\", \"list\"] }}]\n"
        );
        let config = CoreConfig::parse(&text, Path::new("xacct.toml")).unwrap();
        let g = config.grant_for("test").unwrap();
        let china = Partition::of_region("cn-north-1").unwrap();
        let statements = session_policy(g, "111111111111", china)["Statement"].clone();
        let via_s3 = json!({"StringLike": {"kms:ViaService": "s3.*.amazonaws.com.cn"}});
        let kms: Vec<&Value> = statements
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| {
                s["Condition"]
                    .get("StringLike")
                    .is_some_and(|c| c.get("kms:ViaService").is_some())
            })
            .collect();
        assert_eq!(
            kms,
            [
                &json!({"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [key], "Condition": via_s3}),
                &json!({"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*", "Condition": via_s3}),
            ]
        );
        assert!(
            statements.to_string().contains("arn:aws-cn:s3:::b/*"),
            "{statements}"
        );
    }
}
