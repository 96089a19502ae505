//! Grants as data — the accounts and S3 rules of a `[plugin.NAME]` section, or of a
//! plugin's declaration — and whether one is wider than another.
//!
//! The grant's vocabulary is defined here, once, for the host and for declarations alike:
//! the S3 [`Action`]s, the [`AccountSelector`]s and the account-id rule, and what makes
//! an S3 rule valid ([`S3RuleSpec::new`]). The host's grant (in xacct-core) is built on
//! these, adding its matchers and IAM mapping, and maps itself onto a [`GrantSpec`] to
//! compare it with what the plugin declares. The comparison answers "does the operator
//! grant more than the author asked for", rule by rule and action by action, and
//! exactly: bucket globs are compared as the sets of names they match (`*?` and `?*` are
//! the same set), key prefixes by prefix.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::glob::Pattern;

/// What an S3 rule allows (`actions = [...]` in an `s3` rule); which operations each
/// allows is the host's action table.
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
    /// Every read of a bucket's configuration, and the account's public access block.
    ConfigRead,
    /// The writes of the bucket settings the rule names in `settings`.
    ConfigWrite,
    /// ListObjectVersions under the rule's prefix, and HeadObject/GetObject of a version.
    Versions,
    /// DeleteObject of one version or delete marker: deletes for good, unlike `delete`.
    DeleteVersions,
}

impl Action {
    pub const ALL: [Action; 9] = [
        Action::List,
        Action::Read,
        Action::Write,
        Action::Delete,
        Action::Tag,
        Action::ConfigRead,
        Action::ConfigWrite,
        Action::Versions,
        Action::DeleteVersions,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::List => "list",
            Action::Read => "read",
            Action::Write => "write",
            Action::Delete => "delete",
            Action::Tag => "tag",
            Action::ConfigRead => "config-read",
            Action::ConfigWrite => "config-write",
            Action::Versions => "versions",
            Action::DeleteVersions => "delete-versions",
        }
    }

    /// Whether it acts on whole buckets, so a rule with a key prefix cannot grant it.
    pub fn on_whole_buckets(self) -> bool {
        matches!(self, Action::ConfigRead | Action::ConfigWrite)
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// `list, read, write, delete or tag`: the actions, for a message.
    pub fn names() -> String {
        let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether `text` is an account id: 12 digits, as AWS writes them.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Which accounts a grant covers: `*`, a 12-digit id, an alias, or `tag:key=value`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountSelector {
    All,
    Id(String),
    Alias(String),
    Tag(String, String),
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
        } else if is_account_id(text) {
            Ok(AccountSelector::Id(text.to_owned()))
        } else if text.is_empty() {
            Err("an empty account selector".into())
        } else {
            Ok(AccountSelector::Alias(text.to_owned()))
        }
    }

    pub fn matches(&self, account: &Account) -> bool {
        match self {
            AccountSelector::All => true,
            AccountSelector::Id(id) => account.id == id,
            AccountSelector::Alias(alias) => account.alias == alias,
            AccountSelector::Tag(key, value) => account.tags.get(key) == Some(value),
        }
    }
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

/// A configured account, as far as selectors look at it.
#[derive(Debug, Clone, Copy)]
pub struct Account<'a> {
    pub id: &'a str,
    pub alias: &'a str,
    pub tags: &'a BTreeMap<String, String>,
}

/// One S3 rule: `actions` on keys starting with `prefix` in buckets matching `buckets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3RuleSpec {
    pub buckets: String,
    pub prefix: String,
    pub actions: BTreeSet<Action>,
    /// The bucket settings `config-write` may change, by their WIT names.
    pub settings: BTreeSet<String>,
}

impl S3RuleSpec {
    /// A rule as the host accepts one: a bucket glob of lowercase letters, digits, `-`, `.`,
    /// `*` and `?` (which IAM reads the same way), a literal prefix (no IAM wildcard or
    /// policy variable in it), and no prefix for an action on whole buckets.
    pub fn new(
        buckets: &str,
        prefix: &str,
        actions: BTreeSet<Action>,
    ) -> Result<S3RuleSpec, String> {
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
        if let Some(action) = actions.iter().find(|a| a.on_whole_buckets())
            && !prefix.is_empty()
        {
            return Err(format!(
                "{action} acts on whole buckets: a rule with prefix {prefix:?} cannot grant it"
            ));
        }
        Ok(S3RuleSpec {
            buckets: buckets.to_owned(),
            prefix: prefix.to_owned(),
            actions,
            settings: BTreeSet::new(),
        })
    }
}

/// A grant as data: the accounts it covers and its S3 rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GrantSpec {
    pub accounts: Vec<AccountSelector>,
    pub s3: Vec<S3RuleSpec>,
}

/// One way a grant is wider than a declaration. Rules are numbered from 0 in the grant's
/// `s3` list, as the config writes them (`plugin.NAME.s3[N]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Excess {
    /// A granted account selector reaches accounts the declaration does not: `accounts`
    /// lists their ids when the configured accounts were given, and is empty otherwise
    /// (the selectors then differ as written).
    Accounts {
        selector: AccountSelector,
        accounts: Vec<String>,
    },
    /// Rule `rule` grants `action`, which no declared rule asks for.
    Action { rule: usize, action: Action },
    /// Rule `rule` grants `action` in buckets no declared rule with that action covers.
    Buckets {
        rule: usize,
        action: Action,
        buckets: String,
    },
    /// Rule `rule` lets `config-write` change `setting` in `buckets`, which no declared
    /// rule with that setting covers.
    Setting {
        rule: usize,
        setting: String,
        buckets: String,
    },
    /// Rule `rule` grants `action` in declared buckets, but under a prefix wider than the
    /// declared ones there.
    Prefix {
        rule: usize,
        action: Action,
        buckets: String,
        prefix: String,
    },
}

impl fmt::Display for Excess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Excess::Accounts { selector, accounts } if accounts.is_empty() => write!(
                f,
                "accounts: {:?} is granted, the plugin declares no account selector covering it",
                selector.to_string()
            ),
            Excess::Accounts { selector, accounts } => write!(
                f,
                "accounts: {:?} is granted and reaches {} outside the declared accounts",
                selector.to_string(),
                accounts.join(", ")
            ),
            Excess::Action { rule, action } => write!(
                f,
                "s3[{rule}]: {action} is granted, the plugin declares no {action}"
            ),
            Excess::Buckets {
                rule,
                action,
                buckets,
            } => write!(
                f,
                "s3[{rule}]: {action} is granted in buckets {buckets:?}, wider than the declared buckets for {action}"
            ),
            Excess::Setting {
                rule,
                setting,
                buckets,
            } => write!(
                f,
                "s3[{rule}]: config-write of {setting} is granted in buckets {buckets:?}, which no declared rule's settings cover"
            ),
            Excess::Prefix {
                rule,
                action,
                buckets,
                prefix,
            } => write!(
                f,
                "s3[{rule}]: {action} is granted in {buckets:?} under prefix {prefix:?}, wider than the declared prefixes"
            ),
        }
    }
}

/// How `granted` exceeds `declared`: empty when the grant is within the declaration.
///
/// With the configured `accounts`, account selectors are compared by the accounts they
/// reach; without them, as written (a granted selector must be declared, or `*` must be).
pub fn excess(
    declared: &GrantSpec,
    granted: &GrantSpec,
    accounts: Option<&[Account]>,
) -> Vec<Excess> {
    let mut found = Vec::new();
    for selector in &granted.accounts {
        match accounts {
            Some(accounts) => {
                let outside: Vec<String> = accounts
                    .iter()
                    .filter(|account| {
                        selector.matches(account)
                            && !declared.accounts.iter().any(|d| d.matches(account))
                    })
                    .map(|account| account.id.to_owned())
                    .collect();
                if !outside.is_empty() {
                    found.push(Excess::Accounts {
                        selector: selector.clone(),
                        accounts: outside,
                    });
                }
            }
            None => {
                let covered = declared
                    .accounts
                    .iter()
                    .any(|d| *d == AccountSelector::All || d == selector);
                if !covered {
                    found.push(Excess::Accounts {
                        selector: selector.clone(),
                        accounts: Vec::new(),
                    });
                }
            }
        }
    }
    for (index, rule) in granted.s3.iter().enumerate() {
        let granted_buckets = Pattern::new(&rule.buckets);
        // config-write acts on whole buckets: each setting it may change must be declared
        // with it for buckets covering the granted ones.
        for setting in &rule.settings {
            let declaring: Vec<Pattern> = declared
                .s3
                .iter()
                .filter(|d| {
                    d.actions.contains(&Action::ConfigWrite) && d.settings.contains(setting)
                })
                .map(|d| Pattern::new(&d.buckets))
                .collect();
            if !granted_buckets.included_in(&declaring) {
                found.push(Excess::Setting {
                    rule: index,
                    setting: setting.clone(),
                    buckets: rule.buckets.clone(),
                });
            }
        }
        for &action in &rule.actions {
            let with_action: Vec<&S3RuleSpec> = declared
                .s3
                .iter()
                .filter(|d| d.actions.contains(&action))
                .collect();
            if with_action.is_empty() {
                found.push(Excess::Action {
                    rule: index,
                    action,
                });
                continue;
            }
            let globs = |rules: &mut dyn Iterator<Item = &&S3RuleSpec>| -> Vec<Pattern> {
                rules.map(|d| Pattern::new(&d.buckets)).collect()
            };
            // Declared rules whose prefix holds every key under the granted prefix.
            let within_prefix = globs(
                &mut with_action
                    .iter()
                    .filter(|d| rule.prefix.starts_with(&d.prefix)),
            );
            if granted_buckets.included_in(&within_prefix) {
                continue;
            }
            if granted_buckets.included_in(&globs(&mut with_action.iter())) {
                found.push(Excess::Prefix {
                    rule: index,
                    action,
                    buckets: rule.buckets.clone(),
                    prefix: rule.prefix.clone(),
                });
            } else {
                found.push(Excess::Buckets {
                    rule: index,
                    action,
                    buckets: rule.buckets.clone(),
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(buckets: &str, prefix: &str, actions: &[Action]) -> S3RuleSpec {
        S3RuleSpec::new(buckets, prefix, actions.iter().copied().collect()).unwrap()
    }

    fn grant(accounts: &[&str], s3: Vec<S3RuleSpec>) -> GrantSpec {
        GrantSpec {
            accounts: accounts
                .iter()
                .map(|a| AccountSelector::parse(a).unwrap())
                .collect(),
            s3,
        }
    }

    use Action::*;

    #[test]
    fn a_grant_within_the_declaration_exceeds_nothing() {
        let declared = grant(
            &["*"],
            vec![
                rule("reports-*", "", &[List, Read]),
                rule("scratch", "tmp/", &[Write, Delete]),
            ],
        );
        for granted in [
            declared.clone(),
            grant(
                &["dev", "tag:env=prod"],
                vec![rule("reports-2024", "q1/", &[Read])],
            ),
            grant(
                &["111111111111"],
                vec![
                    rule("reports-?", "", &[List]),
                    rule("scratch", "tmp/x/", &[Write]),
                ],
            ),
            grant(&["*"], vec![]),
        ] {
            assert_eq!(excess(&declared, &granted, None), vec![], "{granted:?}");
        }
    }

    #[test]
    fn each_way_a_grant_is_wider_is_named() {
        let declared = grant(
            &["dev", "tag:env=test"],
            vec![
                rule("reports-*", "2024/", &[List, Read]),
                rule("scratch", "", &[Write]),
            ],
        );
        let granted = grant(
            &["dev", "prod", "*"],
            vec![
                rule("reports-*", "", &[Read]),
                rule("*", "2024/", &[List]),
                rule("scratch", "", &[Write, Delete]),
            ],
        );
        assert_eq!(
            excess(&declared, &granted, None),
            vec![
                Excess::Accounts {
                    selector: AccountSelector::Alias("prod".into()),
                    accounts: vec![]
                },
                Excess::Accounts {
                    selector: AccountSelector::All,
                    accounts: vec![]
                },
                Excess::Prefix {
                    rule: 0,
                    action: Read,
                    buckets: "reports-*".into(),
                    prefix: String::new()
                },
                Excess::Buckets {
                    rule: 1,
                    action: List,
                    buckets: "*".into()
                },
                Excess::Action {
                    rule: 2,
                    action: Delete
                },
            ]
        );
        let words: Vec<String> = excess(&declared, &granted, None)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            words[4],
            "s3[2]: delete is granted, the plugin declares no delete"
        );
    }

    #[test]
    fn with_the_accounts_known_selectors_compare_by_the_accounts_they_reach() {
        let test = BTreeMap::from([("env".to_owned(), "test".to_owned())]);
        let prod = BTreeMap::from([("env".to_owned(), "prod".to_owned())]);
        let accounts = [
            Account {
                id: "111111111111",
                alias: "dev",
                tags: &test,
            },
            Account {
                id: "222222222222",
                alias: "staging",
                tags: &test,
            },
            Account {
                id: "333333333333",
                alias: "prod",
                tags: &prod,
            },
        ];
        let declared = grant(&["tag:env=test"], vec![]);
        // Written differently, the same accounts.
        let same = grant(&["dev", "222222222222"], vec![]);
        assert_eq!(excess(&declared, &same, Some(&accounts)), vec![]);
        assert_eq!(excess(&declared, &same, None).len(), 2);
        let wider = grant(&["*"], vec![]);
        assert_eq!(
            excess(&declared, &wider, Some(&accounts)),
            vec![Excess::Accounts {
                selector: AccountSelector::All,
                accounts: vec!["333333333333".into()]
            }]
        );
    }

    #[test]
    fn every_action_the_host_grants_is_compared() {
        let declared = grant(&["*"], vec![rule("*", "", &[Action::Versions])]);
        let granted = grant(
            &["*"],
            vec![rule("*", "", &[Action::Versions, Action::DeleteVersions])],
        );
        assert_eq!(
            excess(&declared, &granted, None),
            [Excess::Action {
                rule: 0,
                action: Action::DeleteVersions
            }]
        );
        for name in ["config-write", "versions", "delete-versions"] {
            assert_eq!(Action::parse(name).map(Action::name), Some(name));
        }
    }

    #[test]
    fn each_setting_config_write_may_change_must_be_declared_for_its_buckets() {
        let with_settings = |buckets: &str, settings: &[&str]| {
            let mut rule = rule(buckets, "", &[Action::ConfigWrite]);
            rule.settings = settings.iter().map(|s| s.to_string()).collect();
            rule
        };
        let declared = grant(
            &["*"],
            vec![
                with_settings("logs-*", &["versioning"]),
                with_settings("*", &["tags"]),
            ],
        );
        let within = grant(
            &["*"],
            vec![with_settings("logs-eu", &["versioning", "tags"])],
        );
        assert_eq!(excess(&declared, &within, None), []);
        let wider = grant(
            &["*"],
            vec![with_settings("data", &["versioning", "encryption"])],
        );
        assert_eq!(
            excess(&declared, &wider, None),
            [
                Excess::Setting {
                    rule: 0,
                    setting: "encryption".into(),
                    buckets: "data".into()
                },
                Excess::Setting {
                    rule: 0,
                    setting: "versioning".into(),
                    buckets: "data".into()
                },
            ]
        );
    }

    #[test]
    fn a_union_of_declared_rules_covers_a_granted_rule() {
        let declared = grant(
            &["*"],
            vec![
                rule("a-*", "", &[Read]),
                rule("b-*", "", &[Read]),
                rule("?", "", &[Read]),
            ],
        );
        let granted = grant(&["*"], vec![rule("?-*", "", &[Read])]);
        assert_eq!(
            excess(&declared, &granted, None),
            vec![Excess::Buckets {
                rule: 0,
                action: Read,
                buckets: "?-*".into()
            }]
        );
        let granted = grant(
            &["*"],
            vec![rule("a-x", "logs/", &[Read]), rule("b-*", "", &[Read])],
        );
        assert_eq!(excess(&declared, &granted, None), vec![]);
    }
}
