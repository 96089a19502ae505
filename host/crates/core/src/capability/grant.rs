//! Least privilege: what each plugin may touch, from its `[plugin.NAME]` section. A grant
//! names accounts (ids, aliases, `tag:key=value`, `*`) and, per capability, what the
//! plugin may do there (S3: [`S3Grant`]'s rules). Deny by default: no grant, no account.
//!
//! On AWS the same grant is enforced twice — by the host before any call, and by IAM
//! through the session policy each account's role is assumed with (`xacct-aws`) — so a
//! host bug alone cannot widen what a plugin reaches.

use std::fmt;
use std::ops::Range;

use serde_json::{Value, json};
use toml::Spanned;
use xacct_provenance::grant::Account as SpecAccount;
use xacct_provenance::{
    AccountSelector as SpecSelector, Action as SpecAction, Excess, GrantSpec, S3RuleSpec, excess,
};

use super::s3::actions::setting_name;
use super::s3::rules::{RawRule, S3Grant, read_rules};
use crate::config::accounts::{AccountConfig, is_account_id, tags_in_use};
use crate::config::file::{ConfigError, Document};

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
        } else if is_account_id(text) {
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

/// A plugin's grant.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The config key that holds it (`plugin.NAME`), for messages.
    pub key: String,
    pub accounts: Vec<AccountSelector>,
    /// The config line of each of `accounts` (0: not written in a file), for the errors
    /// found only once a provider has listed the accounts.
    pub account_lines: Vec<usize>,
    pub s3: S3Grant,
}

impl Grant {
    /// The grant of a plugin without one: nothing.
    pub fn none(plugin: &str) -> Grant {
        let key = format!("plugin.{plugin}");
        Grant {
            accounts: Vec::new(),
            account_lines: Vec::new(),
            s3: S3Grant {
                key: key.clone(),
                rules: Vec::new(),
            },
            key,
        }
    }

    /// The grant as the operator wrote it, for `--plan`.
    pub fn describe(&self) -> Value {
        json!({
            "key": self.key,
            "accounts": self.accounts.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "s3": self.s3.rules.iter().map(|rule| {
                let mut described = json!({
                    "buckets": rule.buckets,
                    "prefix": rule.prefix,
                    "actions": rule.actions.iter().map(|a| a.name()).collect::<Vec<_>>(),
                });
                if !rule.settings.is_empty() {
                    described["settings"] = json!(rule.settings.iter().map(|s| setting_name(*s)).collect::<Vec<_>>());
                }
                described
            }).collect::<Vec<_>>(),
        })
    }

    pub fn covers(&self, account: &AccountConfig) -> bool {
        self.accounts.iter().any(|s| s.matches(account))
    }

    /// The grant as data, to set beside what a plugin declares.
    pub fn spec(&self) -> GrantSpec {
        GrantSpec {
            accounts: self.accounts.iter().map(AccountSelector::spec).collect(),
            s3: self
                .s3
                .rules
                .iter()
                .map(|rule| S3RuleSpec {
                    buckets: rule.buckets.clone(),
                    prefix: rule.prefix.clone(),
                    actions: rule
                        .actions
                        .iter()
                        .filter_map(|action| SpecAction::parse(action.name()))
                        .collect(),
                    settings: rule
                        .settings
                        .iter()
                        .map(|setting| setting_name(*setting).to_owned())
                        .collect(),
                })
                .collect(),
        }
    }

    /// How this grant is wider than what the plugin declares, its selectors compared by
    /// the accounts they reach among `accounts` (every account the run knows, those a
    /// provider listed included).
    pub fn excess(&self, declared: &GrantSpec, accounts: &[AccountConfig]) -> Vec<Excess> {
        let known: Vec<SpecAccount> = accounts
            .iter()
            .map(|account| SpecAccount {
                id: &account.id,
                alias: &account.alias,
                tags: &account.tags,
            })
            .collect();
        excess(declared, &self.spec(), Some(&known))
    }
}

impl AccountSelector {
    fn spec(&self) -> SpecSelector {
        match self {
            AccountSelector::All => SpecSelector::All,
            AccountSelector::Id(id) => SpecSelector::Id(id.clone()),
            AccountSelector::Alias(alias) => SpecSelector::Alias(alias.clone()),
            AccountSelector::Tag(key, value) => SpecSelector::Tag(key.clone(), value.clone()),
        }
    }
}

/// The grant keys of a `[plugin.NAME]` section as written.
pub struct RawGrant {
    pub accounts: Option<Spanned<Vec<Spanned<String>>>>,
    pub s3: Vec<RawRule>,
}

/// Reads the grant of the section at `key` (`plugin.NAME`, whose name stands at
/// `section`). Without `accounts` there is none. Selectors are checked against
/// `configured` accounts, unless those are listed only when a run starts (`None`).
pub fn read_grant(
    document: &Document<'_>,
    key: &str,
    section: Range<usize>,
    raw: RawGrant,
    configured: Option<&[AccountConfig]>,
) -> Result<Option<Grant>, ConfigError> {
    let Some(accounts) = raw.accounts else {
        if raw.s3.is_empty() {
            return Ok(None);
        }
        return Err(document.invalid(
            section,
            format!("{key}.accounts"),
            "S3 rules are given, but no accounts",
            format!("add accounts = [\"*\"] (or ids, aliases, \"tag:key=value\") to [{key}]"),
        ));
    };
    let mut selectors = Vec::new();
    let mut account_lines = Vec::new();
    for selector in accounts.into_inner() {
        let parsed = AccountSelector::parse(selector.get_ref()).map_err(|problem| {
            document.invalid(
                selector.span(),
                format!("{key}.accounts"),
                problem,
                "use \"*\", a 12-digit id, an alias or \"tag:key=value\"",
            )
        })?;
        let known = match (&parsed, configured) {
            (_, None) | (AccountSelector::All, _) => true,
            (AccountSelector::Id(id), Some(configured)) => configured.iter().any(|a| a.id == *id),
            (AccountSelector::Alias(alias), Some(configured)) => {
                configured.iter().any(|a| a.alias == *alias)
            }
            (AccountSelector::Tag(..), Some(configured)) => {
                // A tag no account carries grants nothing: most likely a typo in the
                // key or the value, which must not pass as a narrower grant.
                if !configured.is_empty() && !configured.iter().any(|a| parsed.matches(a)) {
                    return Err(document.invalid(
                        selector.span(),
                        format!("{key}.accounts"),
                        format!(
                            "{:?} matches no configured account (tags in use: {})",
                            selector.get_ref(),
                            tags_in_use(configured)
                        ),
                        "fix the tag's key or value, or add it to the accounts' tags = { ... }",
                    ));
                }
                true
            }
        };
        if !known {
            return Err(document.invalid(
                selector.span(),
                format!("{key}.accounts"),
                format!("{:?} names no configured account", selector.get_ref()),
                "use the id or alias of an [[account]] entry",
            ));
        }
        selectors.push(parsed);
        account_lines.push(document.line(selector.span()));
    }
    Ok(Some(Grant {
        key: key.to_owned(),
        accounts: selectors,
        account_lines,
        s3: read_rules(document, key, raw.s3)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_a_grant_can_name_is_compared_with_a_declaration() {
        // An action the declaration's vocabulary lacks would be left out of `spec`, and a
        // grant of it never reported as wider than what the plugin declares.
        for action in crate::capability::s3::actions::Action::ALL {
            assert!(SpecAction::parse(action.name()).is_some(), "{action}");
        }
    }

    #[test]
    fn account_selectors_parse_and_match() {
        let account = AccountConfig {
            id: "111111111111".into(),
            alias: "dev".into(),
            region: "local".into(),
            inherits_region: true,
            tags: [("env".to_owned(), "dev".to_owned())].into(),
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
}
