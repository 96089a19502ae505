//! Least privilege: what each plugin may touch, from its `[plugin.NAME]` section. A grant
//! names accounts (ids, aliases, `tag:key=value`, `*`) and, per capability, what the
//! plugin may do there (S3: [`S3Grant`]'s rules). Deny by default: no grant, no account.
//!
//! On AWS the same grant is enforced twice — by the host before any call, and by IAM
//! through the session policy each account's role is assumed with (`xacct-aws`) — so a
//! host bug alone cannot widen what a plugin reaches.

use std::ops::Range;

use serde_json::{Value, json};
use toml::Spanned;
use xacct_provenance::{Excess, GrantSpec, S3RuleSpec, excess};

use super::s3::actions::setting_name;
use super::s3::rules::{RawRule, S3Grant, read_rules};
use crate::config::accounts::{AccountConfig, tags_in_use};
use crate::config::file::{ConfigError, Document};

/// Which accounts a grant covers: `*`, a 12-digit id, an alias or `tag:key=value` (the
/// grant's vocabulary, shared with plugins' declarations, is defined in xacct-provenance).
pub use xacct_provenance::AccountSelector;

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
        self.accounts
            .iter()
            .any(|s| s.matches(&account.selectable()))
    }

    /// The grant as data, to set beside what a plugin declares.
    pub fn spec(&self) -> GrantSpec {
        GrantSpec {
            accounts: self.accounts.clone(),
            s3: self
                .s3
                .rules
                .iter()
                .map(|rule| S3RuleSpec {
                    buckets: rule.buckets.clone(),
                    prefix: rule.prefix.clone(),
                    actions: rule.actions.clone(),
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
        let known: Vec<_> = accounts.iter().map(AccountConfig::selectable).collect();
        excess(declared, &self.spec(), Some(&known))
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
                if !configured.is_empty()
                    && !configured.iter().any(|a| parsed.matches(&a.selectable()))
                {
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
    use crate::capability::s3::actions::Action;
    use crate::capability::s3::rules::S3Rule;

    /// Every action the host grants is one a declaration can name and is compared: the
    /// grant's vocabulary is the declarations' (an action the declarations' copy lacked
    /// was dropped from the comparison, so granting it never counted as wider).
    #[test]
    fn every_granted_action_the_declaration_lacks_is_excess() {
        let declared = xacct_provenance::Declaration::parse(
            b"format = 1\naccounts = [\"*\"]\ns3 = [{ buckets = \"*\", actions = [\"list\"] }]\n",
        )
        .unwrap();
        for action in Action::ALL {
            let mut grant = Grant::none("p");
            grant.accounts = vec![AccountSelector::All];
            grant.s3.rules = vec![S3Rule::new("*", "", [Action::List, action].into()).unwrap()];
            let excess = grant.excess(&declared.grant, &[]);
            assert_eq!(
                excess.is_empty(),
                action == Action::List,
                "{action}: {excess:?}"
            );
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
                AccountSelector::parse(text)
                    .unwrap()
                    .matches(&account.selectable()),
                matches,
                "{text}"
            );
        }
        assert!(AccountSelector::parse("tag:novalue").is_err());
        assert!(AccountSelector::parse("").is_err());
    }
}
