//! The S3 part of a plugin's grant: rules of a bucket glob, a key prefix and actions
//! (`s3 = [{ buckets = "reports-*", prefix = "2024/", actions = ["list", "read"] }]`),
//! read from the config and checked before any call reaches a backend. Deny by default:
//! no rule, no call. On AWS, `kms_keys = ["arn:aws:kms:REGION:ACCOUNT:key/ID"]` narrows
//! the KMS keys the rule's reads and writes may use through S3 (SSE-KMS) from any to
//! those.
//!
//! Bucket configuration is granted on whole buckets: `config-read` allows every read of
//! a bucket's settings, and of the account's own public access block; `config-write`
//! the writes of the settings the same rule names (`settings = ["public-access-block",
//! "encryption", "versioning", "tags"]`). Default encryption may name a KMS key of
//! another account only if that rule lists the key in `kms_keys`.

use std::collections::BTreeSet;
use std::ops::Range;

use globset::{Glob, GlobMatcher};
use serde::Deserialize;
use toml::Spanned;
use xacct_provenance::S3RuleSpec;

use super::actions::{Action, Operation, WRITABLE_SETTINGS, parse_writable_setting, setting_name};
use crate::bindings::S3Error;
use crate::bindings::s3::{BucketSetting, ListObjectsPage, ListVersionsPage};
use crate::config::file::{ConfigError, Document};

/// One S3 rule: `actions` on keys starting with `prefix` in buckets matching `buckets`.
#[derive(Debug, Clone)]
pub struct S3Rule {
    pub buckets: String,
    pub prefix: String,
    pub actions: BTreeSet<Action>,
    /// The KMS key ARNs the rule's objects may be encrypted with; empty: any key.
    pub kms_keys: Vec<String>,
    /// The bucket settings `config-write` may change.
    pub settings: Vec<BucketSetting>,
    matcher: GlobMatcher,
}

impl S3Rule {
    /// A rule, valid as [`S3RuleSpec::new`] says (a bucket glob of `*` and `?` only, which
    /// mean the same to IAM; a literal prefix; none for whole-bucket actions).
    pub fn new(buckets: &str, prefix: &str, actions: BTreeSet<Action>) -> Result<S3Rule, String> {
        let S3RuleSpec {
            buckets,
            prefix,
            actions,
            ..
        } = S3RuleSpec::new(buckets, prefix, actions)?;
        let matcher = Glob::new(&buckets)
            .map_err(|e| format!("bucket glob {buckets:?}: {e}"))?
            .compile_matcher();
        Ok(S3Rule {
            buckets,
            prefix,
            actions,
            kms_keys: Vec::new(),
            settings: Vec::new(),
            matcher,
        })
    }

    fn covers_bucket(&self, bucket: &str) -> bool {
        self.matcher.is_match(bucket)
    }

    fn allows(&self, action: Action) -> bool {
        self.actions.contains(&action)
    }

    /// Whether the rule allows `operation`: its action, and for a write of a setting,
    /// that setting among the rule's `settings`.
    pub fn allows_operation(&self, operation: &Operation) -> bool {
        self.allows(operation.action)
            && (operation.action != Action::ConfigWrite
                || operation
                    .setting
                    .is_some_and(|setting| self.settings.contains(&setting)))
    }
}

/// What a plugin may do in S3: its rules, and the config key that grants them (for the
/// messages that say how to widen them).
#[derive(Debug, Clone)]
pub struct S3Grant {
    /// `plugin.NAME`.
    pub key: String,
    pub rules: Vec<S3Rule>,
}

impl S3Grant {
    /// Refuses `what`, naming the rule that would allow it: the plugin's author reads this
    /// message, and the fix is a line of the operator's config.
    fn deny(&self, what: String, rule: Option<String>) -> S3Error {
        let fix = match rule {
            Some(rule) => format!("; fix: add {rule} to {}.s3", self.key),
            None => String::new(),
        };
        S3Error::denied_by_xacct(format!(
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
        let granted = self.rules.iter().any(|rule| {
            rule.allows(action) && rule.covers_bucket(bucket) && key.starts_with(&rule.prefix)
        });
        if granted {
            Ok(())
        } else {
            // The key's "directory": a rule for exactly one key is rarely what is meant.
            let prefix = key.rfind('/').map_or("", |end| &key[..=end]);
            Err(self.deny(
                format!("{action} on s3://{bucket}/{key}"),
                Some(rule_text(bucket, prefix, action)),
            ))
        }
    }

    /// May the plugin list `bucket` under `prefix`? The prefix must lie within a rule's.
    pub fn check_list(&self, bucket: &str, prefix: &str) -> Result<(), S3Error> {
        self.check_listing(Action::List, bucket, prefix)
    }

    /// May the plugin list `bucket`'s versions under `prefix`? As [`S3Grant::check_list`],
    /// with `versions`.
    pub fn check_list_versions(&self, bucket: &str, prefix: &str) -> Result<(), S3Error> {
        self.check_listing(Action::Versions, bucket, prefix)
    }

    fn check_listing(&self, action: Action, bucket: &str, prefix: &str) -> Result<(), S3Error> {
        let granted = self.rules.iter().any(|rule| {
            rule.allows(action) && rule.covers_bucket(bucket) && prefix.starts_with(&rule.prefix)
        });
        if granted {
            Ok(())
        } else {
            let what = match action {
                Action::List => "list",
                _ => "list of versions",
            };
            Err(self.deny(
                format!("{what} of s3://{bucket}/{prefix}"),
                Some(rule_text(bucket, prefix, action)),
            ))
        }
    }

    /// May the plugin do the bucket-level `operation` (a read or write of a setting) on
    /// `bucket`?
    pub fn check_bucket(&self, operation: &Operation, bucket: &str) -> Result<(), S3Error> {
        let action = operation.action;
        if self
            .rules
            .iter()
            .any(|rule| rule.allows_operation(operation) && rule.covers_bucket(bucket))
        {
            return Ok(());
        }
        let (what, rule) = match operation.setting {
            Some(setting) if action == Action::ConfigWrite => {
                let name = setting_name(setting);
                (
                    format!("{action} of {name} on s3://{bucket} ({})", operation.name),
                    format!(
                        "{{ buckets = {bucket:?}, actions = [\"{action}\"], settings = [{name:?}] }}"
                    ),
                )
            }
            _ => (
                format!("{action} of s3://{bucket} ({})", operation.name),
                rule_text(bucket, "", action),
            ),
        };
        Err(self.deny(what, Some(rule)))
    }

    /// May default encryption of `bucket`, in `account`, name the KMS key `key_id`? A key
    /// id or alias that is not an ARN is resolved by S3 in the bucket's own account, as is
    /// an ARN of that account; an ARN of another account only if a rule that grants the
    /// write of `encryption` on the bucket lists it in `kms_keys`.
    pub fn check_kms_key(&self, account: &str, bucket: &str, key_id: &str) -> Result<(), S3Error> {
        let owner = match key_id.split(':').collect::<Vec<_>>()[..] {
            ["arn", _, "kms", _, owner, ..] => owner,
            _ => return Ok(()),
        };
        if owner == account {
            return Ok(());
        }
        let listed = self.rules.iter().any(|rule| {
            rule.allows(Action::ConfigWrite)
                && rule.settings.contains(&BucketSetting::Encryption)
                && rule.covers_bucket(bucket)
                && rule.kms_keys.iter().any(|listed| listed == key_id)
        });
        if listed {
            return Ok(());
        }
        Err(S3Error::denied_by_xacct(format!(
            "default encryption of s3://{bucket} with KMS key {key_id:?} of account {owner} (not the bucket's) is not in this plugin's grant ({key}); fix: add kms_keys = [{key_id:?}] to the rule of {key}.s3 granting {} of encryption on {bucket:?}",
            Action::ConfigWrite,
            key = self.key,
        )))
    }

    /// May the plugin read the account's own configuration (its public access block)?
    /// Any rule granting `config-read` allows it: the account-level setting bounds what
    /// every bucket of the account may be.
    pub fn check_account_config(&self) -> Result<(), S3Error> {
        if self
            .rules
            .iter()
            .any(|rule| rule.allows(Action::ConfigRead))
        {
            Ok(())
        } else {
            Err(self.deny(
                "config-read of the account's public access block".into(),
                Some(rule_text("*", "", Action::ConfigRead)),
            ))
        }
    }

    /// May the plugin list buckets at all (some rule allows `list`)?
    pub fn check_list_buckets(&self) -> Result<(), S3Error> {
        if self.rules.iter().any(|rule| rule.allows(Action::List)) {
            Ok(())
        } else {
            Err(self.deny(
                "list of buckets".into(),
                Some(rule_text("*", "", Action::List)),
            ))
        }
    }

    /// Whether a bucket appears in the plugin's bucket listing: only those it has a rule for.
    pub fn shows_bucket(&self, bucket: &str) -> bool {
        self.rules.iter().any(|rule| rule.covers_bucket(bucket))
    }

    /// Drops from a listing whatever lies outside the listable prefixes of `bucket`,
    /// whatever the backend returned.
    pub fn filter_page(&self, bucket: &str, page: &mut ListObjectsPage) {
        let visible = self.visible(Action::List, bucket);
        page.objects.retain(|object| visible(&object.key));
        page.common_prefixes.retain(|prefix| visible(prefix));
    }

    /// Drops from a listing of versions whatever lies outside the prefixes of `bucket`
    /// whose versions the plugin may list, whatever the backend returned.
    pub fn filter_versions_page(&self, bucket: &str, page: &mut ListVersionsPage) {
        let visible = self.visible(Action::Versions, bucket);
        page.versions.retain(|version| visible(&version.key));
        page.common_prefixes.retain(|prefix| visible(prefix));
    }

    /// Whether a key (or common prefix) of `bucket` lies under a prefix of a rule that
    /// allows `action` there.
    fn visible(&self, action: Action, bucket: &str) -> impl Fn(&str) -> bool {
        let listable: Vec<String> = self
            .rules
            .iter()
            .filter(|rule| rule.allows(action) && rule.covers_bucket(bucket))
            .map(|rule| rule.prefix.clone())
            .collect();
        move |key: &str| {
            listable
                .iter()
                .any(|prefix| key.starts_with(prefix.as_str()))
        }
    }
}

/// A grant rule allowing `action` in `bucket` under `prefix`, as the config writes it.
fn rule_text(bucket: &str, prefix: &str, action: Action) -> String {
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("prefix = {prefix:?}, ")
    };
    format!("{{ buckets = {bucket:?}, {prefix}actions = [\"{action}\"] }}")
}

/// `arn:PARTITION:kms:REGION:ACCOUNT:key/ID`: what an IAM statement on a key names (an
/// alias ARN authorizes nothing there).
fn is_kms_key_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    match parts[..] {
        ["arn", partition, "kms", region, account, resource] => {
            partition.starts_with("aws")
                && !region.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource
                    .strip_prefix("key/")
                    .is_some_and(|id| !id.is_empty() && !id.contains(['*', '?']))
        }
        _ => false,
    }
}

/// An `s3` rule as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    buckets: Spanned<String>,
    #[serde(default)]
    prefix: String,
    actions: Vec<Spanned<String>>,
    #[serde(default)]
    kms_keys: Vec<Spanned<String>>,
    #[serde(default)]
    settings: Option<Spanned<Vec<Spanned<String>>>>,
}

/// The settings a rule's `config-write` may change: named when, and only when, the rule
/// grants it, each one a setting a plugin can write.
fn read_settings(
    document: &Document<'_>,
    rule_key: &str,
    config_write: Option<Range<usize>>,
    raw: Option<Spanned<Vec<Spanned<String>>>>,
) -> Result<Vec<BucketSetting>, ConfigError> {
    let writable = || {
        let names: Vec<String> = WRITABLE_SETTINGS
            .iter()
            .map(|s| format!("{:?}", setting_name(*s)))
            .collect();
        names.join(", ")
    };
    let key = format!("{rule_key}.settings");
    let Some(raw) = raw else {
        if let Some(span) = config_write {
            return Err(document.invalid(
                span,
                key,
                "config-write needs the settings it may change".to_owned(),
                format!(
                    "add settings = [...] to this rule, naming some of {}",
                    writable()
                ),
            ));
        }
        return Ok(Vec::new());
    };
    if config_write.is_none() {
        return Err(document.invalid(
            raw.span(),
            key,
            "settings names what config-write may change, but this rule does not grant config-write".to_owned(),
            "add \"config-write\" to its actions, or remove settings",
        ));
    }
    let mut settings = Vec::new();
    for name in raw.into_inner() {
        let setting = parse_writable_setting(name.get_ref()).ok_or_else(|| {
            document.invalid(
                name.span(),
                key.clone(),
                format!("{:?} is not a setting a plugin can change", name.get_ref()),
                format!("use {}", writable()),
            )
        })?;
        if !settings.contains(&setting) {
            settings.push(setting);
        }
    }
    Ok(settings)
}

/// Reads the `s3` rules of the grant at `key` (`plugin.NAME`).
pub fn read_rules(
    document: &Document<'_>,
    key: &str,
    raw: Vec<RawRule>,
) -> Result<S3Grant, ConfigError> {
    let mut rules = Vec::new();
    for (index, rule) in raw.into_iter().enumerate() {
        let rule_key = format!("{key}.s3[{index}]");
        let mut actions = BTreeSet::new();
        for action in &rule.actions {
            let parsed = Action::parse(action.get_ref()).ok_or_else(|| {
                document.invalid(
                    action.span(),
                    format!("{rule_key}.actions"),
                    format!("{:?} is not an action", action.get_ref()),
                    format!("use {}", Action::names()),
                )
            })?;
            actions.insert(parsed);
        }
        let mut parsed =
            S3Rule::new(rule.buckets.get_ref(), &rule.prefix, actions).map_err(|problem| {
                document.invalid(
                    rule.buckets.span(),
                    rule_key.clone(),
                    problem,
                    "fix the bucket glob or prefix of this rule",
                )
            })?;
        for key in rule.kms_keys {
            if !is_kms_key_arn(key.get_ref()) {
                return Err(document.invalid(
                    key.span(),
                    format!("{rule_key}.kms_keys"),
                    format!("{:?} is not a KMS key ARN", key.get_ref()),
                    "name each key by its ARN: arn:aws:kms:REGION:ACCOUNT:key/ID",
                ));
            }
            parsed.kms_keys.push(key.into_inner());
        }
        let config_write = rule
            .actions
            .iter()
            .find(|action| action.get_ref() == Action::ConfigWrite.name())
            .map(Spanned::span);
        parsed.settings = read_settings(document, &rule_key, config_write, rule.settings)?;
        rules.push(parsed);
    }
    Ok(S3Grant {
        key: key.to_owned(),
        rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(rules: &[(&str, &str, &[Action])]) -> S3Grant {
        S3Grant {
            key: "plugin.test".into(),
            rules: rules
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
    fn config_read_is_granted_on_whole_buckets_and_covers_the_accounts_block() {
        use crate::capability::s3::actions::GET_BUCKET_POLICY;
        let g = grant(&[("logs-*", "", &[Action::ConfigRead])]);
        assert!(g.check_bucket(&GET_BUCKET_POLICY, "logs-eu").is_ok());
        assert!(denied(g.check_bucket(&GET_BUCKET_POLICY, "data")));
        assert!(g.check_account_config().is_ok());
        let reader = grant(&[("*", "", &[Action::List, Action::Read])]);
        assert!(denied(reader.check_bucket(&GET_BUCKET_POLICY, "logs-eu")));
        assert!(denied(reader.check_account_config()));
        let actions = [Action::ConfigRead].into_iter().collect();
        let refused = S3Rule::new("logs-*", "2024/", actions).unwrap_err();
        assert!(refused.contains("acts on whole buckets"), "{refused}");
    }

    #[test]
    fn config_write_is_granted_per_setting_and_another_accounts_key_only_if_listed() {
        use crate::capability::s3::actions::{PUT_BUCKET_ENCRYPTION, PUT_PUBLIC_ACCESS_BLOCK};
        let text = "[plugin.test]\naccounts = [\"*\"]\ns3 = [\
            { buckets = \"logs-*\", actions = [\"config-write\"], settings = [\"encryption\"] }, \
            { buckets = \"keyed\", actions = [\"config-write\"], settings = [\"encryption\"], \
              kms_keys = [\"arn:aws:kms:us-east-1:222222222222:key/k\"] }]\n";
        let config =
            crate::config::Config::parse(text, std::path::Path::new("xacct.toml")).unwrap();
        let g = &config.grant_for("test").unwrap().s3;
        assert!(g.check_bucket(&PUT_BUCKET_ENCRYPTION, "logs-eu").is_ok());
        assert!(
            denied(g.check_bucket(&PUT_PUBLIC_ACCESS_BLOCK, "logs-eu")),
            "not named"
        );
        assert!(denied(g.check_bucket(&PUT_BUCKET_ENCRYPTION, "data")));
        let foreign = "arn:aws:kms:us-east-1:222222222222:key/k";
        let own = "arn:aws:kms:us-east-1:111111111111:key/mine";
        assert!(g.check_kms_key("111111111111", "logs-eu", own).is_ok());
        assert!(
            g.check_kms_key("111111111111", "logs-eu", "alias/mine")
                .is_ok(),
            "resolved in the bucket's account"
        );
        assert!(denied(g.check_kms_key("111111111111", "logs-eu", foreign)));
        assert!(g.check_kms_key("111111111111", "keyed", foreign).is_ok());
    }

    #[test]
    fn settings_go_with_config_write_and_name_writable_settings() {
        let parse = |rule: &str| {
            let text = format!("[plugin.test]\naccounts = [\"*\"]\ns3 = [{rule}]\n");
            crate::config::Config::parse(&text, std::path::Path::new("xacct.toml"))
                .err()
                .map(|err| err.to_string())
        };
        let without = parse(r#"{ buckets = "*", actions = ["config-read"], settings = ["tags"] }"#);
        assert!(
            without
                .as_deref()
                .is_some_and(|e| e.contains("does not grant config-write")),
            "{without:?}"
        );
        let unknown =
            parse(r#"{ buckets = "*", actions = ["config-write"], settings = ["policy"] }"#);
        assert!(
            unknown
                .as_deref()
                .is_some_and(|e| e.contains("\"policy\" is not a setting a plugin can change")),
            "{unknown:?}"
        );
        let none = parse(r#"{ buckets = "*", actions = ["config-write"] }"#);
        assert!(
            none.as_deref()
                .is_some_and(|e| e.contains("needs the settings")),
            "{none:?}"
        );
        let prefixed = parse(
            r#"{ buckets = "*", prefix = "a/", actions = ["config-write"], settings = ["tags"] }"#,
        );
        assert!(
            prefixed
                .as_deref()
                .is_some_and(|e| e.contains("whole buckets")),
            "{prefixed:?}"
        );
        assert_eq!(
            parse(
                r#"{ buckets = "*", actions = ["config-write"], settings = ["tags", "versioning"] }"#
            ),
            None
        );
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
    fn kms_keys_are_key_arns() {
        assert!(is_kms_key_arn(
            "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        assert!(is_kms_key_arn(
            "arn:aws-cn:kms:cn-north-1:111111111111:key/k"
        ));
        for bad in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:111111111111:alias/data",
            "arn:aws:kms:eu-west-1:111111111111:key/*",
            "arn:aws:kms:eu-west-1:1111:key/k",
            "arn:aws:s3:eu-west-1:111111111111:key/k",
        ] {
            assert!(!is_kms_key_arn(bad), "{bad}");
        }
    }
}
