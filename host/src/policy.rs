//! Least privilege: what each plugin may touch, from its grant in the config.
//!
//! A grant names accounts (ids, aliases, `tag:key=value`, `*`) and S3 rules (a bucket
//! glob, a key prefix, actions). Deny by default: no grant, no account; no rule, no call.
//! The same grant is enforced twice on AWS — by the host before any call
//! ([`Grant::check`]), and by IAM through the session policy the role is assumed with
//! ([`Grant::session_policy`]) — so a host bug alone cannot widen what a plugin reaches.

use std::collections::BTreeSet;
use std::fmt;

use globset::{Glob, GlobMatcher};
use serde_json::{Value, json};

use crate::bindings::S3Error;
use crate::bindings::s3::ListObjectsPage;
use crate::capability::backend::denied_by_xacct;
use crate::config::AccountConfig;

/// What a rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// ListBuckets, and ListObjectsV2 under the rule's prefix.
    List,
    /// HeadObject, GetObject (and the source of a copy).
    Read,
    /// PutObject (and the target of a copy).
    Write,
    /// DeleteObject(s).
    Delete,
    /// Get/PutObjectTagging.
    Tag,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::List,
        Action::Read,
        Action::Write,
        Action::Delete,
        Action::Tag,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::List => "list",
            Action::Read => "read",
            Action::Write => "write",
            Action::Delete => "delete",
            Action::Tag => "tag",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The IAM actions on objects this action needs (none for `list`, which is on buckets).
    fn object_iam_actions(self) -> &'static [&'static str] {
        match self {
            Action::List => &[],
            Action::Read => &["s3:GetObject"],
            Action::Write => &["s3:PutObject", "s3:AbortMultipartUpload"],
            Action::Delete => &["s3:DeleteObject"],
            Action::Tag => &[
                "s3:GetObjectTagging",
                "s3:PutObjectTagging",
                "s3:DeleteObjectTagging",
            ],
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which accounts a grant covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSelector {
    All,
    Id(String),
    Alias(String),
    Tag(String, String),
}

impl fmt::Display for AccountSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountSelector::All => f.write_str("*"),
            AccountSelector::Id(id) => f.write_str(id),
            AccountSelector::Alias(alias) => f.write_str(alias),
            AccountSelector::Tag(key, value) => write!(f, "tag:{key}={value}"),
        }
    }
}

impl AccountSelector {
    /// `*`, a 12-digit id, `tag:key=value`, or an alias.
    pub fn parse(text: &str) -> Result<AccountSelector, String> {
        if text == "*" {
            Ok(AccountSelector::All)
        } else if let Some(tag) = text.strip_prefix("tag:") {
            match tag.split_once('=') {
                Some((key, value)) if !key.is_empty() => {
                    Ok(AccountSelector::Tag(key.to_owned(), value.to_owned()))
                }
                _ => Err(format!("{text:?} is not tag:key=value")),
            }
        } else if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountSelector::Id(text.to_owned()))
        } else if text.is_empty() {
            Err("an empty account selector".into())
        } else {
            Ok(AccountSelector::Alias(text.to_owned()))
        }
    }

    pub fn matches(&self, account: &AccountConfig) -> bool {
        match self {
            AccountSelector::All => true,
            AccountSelector::Id(id) => account.id == *id,
            AccountSelector::Alias(alias) => account.alias == *alias,
            AccountSelector::Tag(key, value) => account.tags.get(key) == Some(value),
        }
    }
}

/// One S3 rule: `actions` on keys starting with `prefix` in buckets matching `buckets`.
#[derive(Debug, Clone)]
pub struct S3Rule {
    pub buckets: String,
    pub prefix: String,
    pub actions: BTreeSet<Action>,
    matcher: GlobMatcher,
}

impl S3Rule {
    /// A rule; the bucket glob may use `*` and `?` only, which mean the same to IAM, and
    /// the prefix is literal (no IAM wildcard or policy variable in it).
    pub fn new(buckets: &str, prefix: &str, actions: BTreeSet<Action>) -> Result<S3Rule, String> {
        let glob_chars =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.*?".contains(c);
        if buckets.is_empty() || !buckets.chars().all(glob_chars) {
            return Err(format!(
                "bucket glob {buckets:?} may hold only lowercase letters, digits, '-', '.', '*' and '?'"
            ));
        }
        if prefix.contains(['*', '?', '$']) {
            return Err(format!(
                "prefix {prefix:?} must be literal: no '*', '?' or '$'"
            ));
        }
        let matcher = Glob::new(buckets)
            .map_err(|e| format!("bucket glob {buckets:?}: {e}"))?
            .compile_matcher();
        Ok(S3Rule {
            buckets: buckets.to_owned(),
            prefix: prefix.to_owned(),
            actions,
            matcher,
        })
    }

    fn covers_bucket(&self, bucket: &str) -> bool {
        self.matcher.is_match(bucket)
    }

    fn bucket_arn(&self) -> String {
        format!("arn:aws:s3:::{}", self.buckets)
    }

    fn objects_arn(&self) -> String {
        format!("arn:aws:s3:::{}/{}*", self.buckets, self.prefix)
    }
}

/// A plugin's grant.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The config key that holds it, for messages.
    pub key: String,
    pub accounts: Vec<AccountSelector>,
    pub s3: Vec<S3Rule>,
}

impl Grant {
    /// The grant of a plugin without one: nothing.
    pub fn none(plugin: &str) -> Grant {
        Grant {
            key: format!("plugin.{plugin}"),
            accounts: Vec::new(),
            s3: Vec::new(),
        }
    }

    /// The grant as the operator wrote it, for `--plan`.
    pub fn describe(&self) -> Value {
        json!({
            "key": self.key,
            "accounts": self.accounts.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "s3": self.s3.iter().map(|rule| json!({
                "buckets": rule.buckets,
                "prefix": rule.prefix,
                "actions": rule.actions.iter().map(|a| a.name()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }

    pub fn covers(&self, account: &AccountConfig) -> bool {
        self.accounts.iter().any(|s| s.matches(account))
    }

    /// Refuses `what`, naming the rule that would allow it: the plugin's author reads this
    /// message, and the fix is a line of the operator's config.
    fn deny(&self, what: String, rule: Option<String>) -> S3Error {
        let fix = match rule {
            Some(rule) => format!("; fix: add {rule} to {}.s3", self.key),
            None => String::new(),
        };
        denied_by_xacct(format!(
            "{what} is not in this plugin's grant ({}){fix}",
            self.key
        ))
    }

    /// May the plugin do `action` on `key` in `bucket`?
    pub fn check(&self, action: Action, bucket: &str, key: &str) -> Result<(), S3Error> {
        // S3 keys are literal, but an endpoint or proxy might normalise a dot segment
        // into another key: such keys are never granted.
        if key
            .split('/')
            .any(|segment| segment == "." || segment == "..")
        {
            return Err(self.deny(
                format!("{action} on key {key:?} (it has a '.' or '..' segment, never granted)"),
                None,
            ));
        }
        let granted = self.s3.iter().any(|rule| {
            rule.actions.contains(&action)
                && rule.covers_bucket(bucket)
                && key.starts_with(&rule.prefix)
        });
        if granted {
            Ok(())
        } else {
            // The key's "directory": a rule for exactly one key is rarely what is meant.
            let prefix = key.rfind('/').map_or("", |end| &key[..=end]);
            Err(self.deny(
                format!("{action} on s3://{bucket}/{key}"),
                Some(rule(bucket, prefix, action)),
            ))
        }
    }

    /// May the plugin list `bucket` under `prefix`? The prefix must lie within a rule's.
    pub fn check_list(&self, bucket: &str, prefix: &str) -> Result<(), S3Error> {
        let granted = self.s3.iter().any(|rule| {
            rule.actions.contains(&Action::List)
                && rule.covers_bucket(bucket)
                && prefix.starts_with(&rule.prefix)
        });
        if granted {
            Ok(())
        } else {
            Err(self.deny(
                format!("list of s3://{bucket}/{prefix}"),
                Some(rule(bucket, prefix, Action::List)),
            ))
        }
    }

    /// May the plugin list buckets at all (some rule allows `list`)?
    pub fn check_list_buckets(&self) -> Result<(), S3Error> {
        if self
            .s3
            .iter()
            .any(|rule| rule.actions.contains(&Action::List))
        {
            Ok(())
        } else {
            Err(self.deny("list of buckets".into(), Some(rule("*", "", Action::List))))
        }
    }

    /// Whether a bucket appears in the plugin's bucket listing: only those it has a rule for.
    pub fn shows_bucket(&self, bucket: &str) -> bool {
        self.s3.iter().any(|rule| rule.covers_bucket(bucket))
    }

    /// Drops from a listing whatever lies outside the listable prefixes of `bucket`,
    /// whatever the backend returned.
    pub fn filter_page(&self, bucket: &str, page: &mut ListObjectsPage) {
        let listable: Vec<&str> = self
            .s3
            .iter()
            .filter(|rule| rule.actions.contains(&Action::List) && rule.covers_bucket(bucket))
            .map(|rule| rule.prefix.as_str())
            .collect();
        let visible = |key: &str| listable.iter().any(|prefix| key.starts_with(prefix));
        page.objects.retain(|object| visible(&object.key));
        page.common_prefixes.retain(|prefix| visible(prefix));
    }

    /// The IAM statements equivalent to this grant's S3 rules; with `resource_account`,
    /// each bucket and object statement holds only for resources that account owns.
    fn statements(&self, resource_account: Option<&str>) -> Vec<Value> {
        // Bucket names are global: without this condition a session could reach a
        // bucket of another account whose bucket policy lets it in.
        let pin = |statement: &mut Value| {
            if let Some(account) = resource_account {
                statement["Condition"]["StringEquals"] = json!({"s3:ResourceAccount": account});
            }
        };
        let mut statements = Vec::new();
        if self
            .s3
            .iter()
            .any(|rule| rule.actions.contains(&Action::List))
        {
            statements
                .push(json!({"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}));
        }
        for rule in &self.s3 {
            if rule.actions.contains(&Action::List) {
                let mut statement = json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": rule.bucket_arn()});
                if !rule.prefix.is_empty() {
                    statement["Condition"] =
                        json!({"StringLike": {"s3:prefix": [format!("{}*", rule.prefix)]}});
                }
                pin(&mut statement);
                statements.push(statement);
            }
            let object_actions: Vec<&str> = rule
                .actions
                .iter()
                .flat_map(|a| a.object_iam_actions())
                .copied()
                .collect();
            if !object_actions.is_empty() {
                let mut statement = json!({"Effect": "Allow", "Action": object_actions, "Resource": rule.objects_arn()});
                pin(&mut statement);
                statements.push(statement);
            }
        }
        statements
    }

    /// The inline session policy the plugin's role in `account` is assumed with: IAM then
    /// bounds the session to the grant, and to buckets `account` owns, whatever the role
    /// itself allows.
    pub fn session_policy(&self, account: &str) -> Value {
        policy(self.statements(Some(account)))
    }
}

/// The smallest permission policy a target role needs for every grant covering it.
pub fn permission_policy<'a>(grants: impl IntoIterator<Item = &'a Grant>) -> Value {
    let mut statements: Vec<Value> = Vec::new();
    for statement in grants.into_iter().flat_map(|grant| grant.statements(None)) {
        if !statements.contains(&statement) {
            statements.push(statement);
        }
    }
    policy(statements)
}

fn policy(statements: Vec<Value>) -> Value {
    if statements.is_empty() {
        // An empty statement list is not a valid policy; this one allows nothing.
        return json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]});
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// A grant rule allowing `action` in `bucket` under `prefix`, as the config writes it.
fn rule(bucket: &str, prefix: &str, action: Action) -> String {
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("prefix = {prefix:?}, ")
    };
    format!("{{ buckets = {bucket:?}, {prefix}actions = [\"{action}\"] }}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(rules: &[(&str, &str, &[Action])]) -> Grant {
        Grant {
            key: "plugin.test".into(),
            accounts: vec![AccountSelector::All],
            s3: rules
                .iter()
                .map(|(buckets, prefix, actions)| {
                    S3Rule::new(buckets, prefix, actions.iter().copied().collect()).unwrap()
                })
                .collect(),
        }
    }

    fn denied(result: Result<(), S3Error>) -> bool {
        matches!(result, Err(S3Error::AccessDenied(d)) if d.by == crate::bindings::DeniedBy::Xacct)
    }

    #[test]
    fn checks_follow_bucket_glob_prefix_and_action() {
        let g = grant(&[("reports-*", "2024/", &[Action::List, Action::Read])]);
        assert!(g.check(Action::Read, "reports-eu", "2024/jan.csv").is_ok());
        assert!(
            denied(g.check(Action::Read, "reports-eu", "2023/jan.csv")),
            "outside the prefix"
        );
        assert!(
            denied(g.check(Action::Read, "secrets", "2024/jan.csv")),
            "outside the glob"
        );
        assert!(
            denied(g.check(Action::Write, "reports-eu", "2024/x")),
            "action not granted"
        );
        assert!(
            denied(g.check(Action::Read, "reports-eu", "2024/../secret")),
            "dot segments"
        );
        assert!(denied(g.check(Action::Read, "reports-eu", "2024/./x")));
        assert!(g.check_list("reports-eu", "2024/").is_ok());
        assert!(g.check_list("reports-eu", "2024/q1/").is_ok());
        assert!(
            denied(g.check_list("reports-eu", "")),
            "a wider listing than the prefix"
        );
        assert!(denied(g.check_list("reports-eu", "20")));
        assert!(g.check_list_buckets().is_ok());
        assert!(g.shows_bucket("reports-x") && !g.shows_bucket("logs"));
        assert!(denied(
            grant(&[("*", "", &[Action::Read])]).check_list_buckets()
        ));
    }

    #[test]
    fn a_denial_names_the_grant_key() {
        let Err(S3Error::AccessDenied(d)) = grant(&[]).check(Action::Read, "b", "2024/k") else {
            panic!()
        };
        assert_eq!(
            d.message,
            "read on s3://b/2024/k is not in this plugin's grant (plugin.test); fix: add { buckets = \"b\", prefix = \"2024/\", actions = [\"read\"] } to plugin.test.s3"
        );
        let Err(S3Error::AccessDenied(d)) = grant(&[]).check_list_buckets() else {
            panic!()
        };
        assert!(
            d.message
                .ends_with("fix: add { buckets = \"*\", actions = [\"list\"] } to plugin.test.s3"),
            "{}",
            d.message
        );
    }

    #[test]
    fn listings_are_filtered_to_the_listable_prefixes() {
        use crate::bindings::s3::ObjectSummary;
        let g = grant(&[("b", "in/", &[Action::List])]);
        let summary = |key: &str| ObjectSummary {
            key: key.into(),
            size: 0,
            etag: String::new(),
            last_modified: None,
        };
        let mut page = ListObjectsPage {
            objects: vec![summary("in/a"), summary("out/b"), summary("in")],
            common_prefixes: vec!["in/x/".into(), "other/".into()],
            next_continuation_token: None,
        };
        g.filter_page("b", &mut page);
        assert_eq!(
            page.objects
                .iter()
                .map(|o| o.key.as_str())
                .collect::<Vec<_>>(),
            ["in/a"]
        );
        assert_eq!(page.common_prefixes, ["in/x/"]);
    }

    #[test]
    fn account_selectors_parse_and_match() {
        let account = AccountConfig {
            id: "111111111111".into(),
            alias: "dev".into(),
            region: "local".into(),
            inherits_region: true,
            tags: [("env".to_owned(), "dev".to_owned())].into(),
            role_arn: None,
            external_id: None,
            session_duration: None,
        };
        for (text, matches) in [
            ("*", true),
            ("111111111111", true),
            ("222222222222", false),
            ("dev", true),
            ("prod", false),
            ("tag:env=dev", true),
            ("tag:env=prod", false),
        ] {
            assert_eq!(
                AccountSelector::parse(text).unwrap().matches(&account),
                matches,
                "{text}"
            );
        }
        assert!(AccountSelector::parse("tag:novalue").is_err());
        assert!(AccountSelector::parse("").is_err());
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(
            S3Rule::new("reports-[a-z]", "", BTreeSet::new()).is_err(),
            "IAM has no classes"
        );
        assert!(S3Rule::new("Reports", "", BTreeSet::new()).is_err());
        assert!(S3Rule::new("b", "a*", BTreeSet::new()).is_err());
        assert!(S3Rule::new("b", "${aws:username}/", BTreeSet::new()).is_err());
    }

    #[test]
    fn the_session_policy_mirrors_the_grant() {
        let g = grant(&[
            ("reports-*", "2024/", &[Action::List, Action::Read]),
            ("drop", "", &[Action::Write, Action::Delete]),
        ]);
        let own = json!({"s3:ResourceAccount": "111111111111"});
        assert_eq!(
            g.session_policy("111111111111"),
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
            grant(&[]).session_policy("111111111111"),
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]})
        );
    }

    #[test]
    fn the_permission_policy_is_the_union_of_grants() {
        let a = grant(&[("b", "x/", &[Action::Read])]);
        let b = grant(&[("b", "x/", &[Action::Read]), ("c", "", &[Action::Tag])]);
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
