//! `[[account]]`: the accounts a run may reach, each with an id, an alias, a region and
//! tags. (A provider reads its own keys of an entry, e.g. the role to assume on AWS.)

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Deserialize;
use toml::Spanned;

use super::file::{ConfigError, Document};

/// The region of an account of the local backend, and of one whose region is not known.
pub const LOCAL_REGION: &str = "local";

/// One target account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    pub id: String,
    pub alias: String,
    /// The account's region: its own `region`, else the provider's default (the home
    /// region on AWS, [`LOCAL_REGION`] on the local backend).
    pub region: String,
    /// Whether `region` is the provider's default, filled in when that is known.
    pub inherits_region: bool,
    pub tags: BTreeMap<String, String>,
}

/// Whether `text` is an account id: 12 digits, as AWS writes them.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// An `[[account]]` entry as written (the keys the core reads).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccount {
    id: Spanned<String>,
    alias: Spanned<String>,
    region: Option<Spanned<String>>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// Checks the entries: ids, aliases, each unique.
pub(super) fn read_accounts(
    document: &Document<'_>,
    raw: Vec<RawAccount>,
) -> Result<Vec<AccountConfig>, ConfigError> {
    let mut accounts: Vec<AccountConfig> = Vec::with_capacity(raw.len());
    let mut seen_ids = BTreeMap::new();
    let mut seen_aliases = BTreeMap::new();
    for (index, account) in raw.into_iter().enumerate() {
        let key = |field: &str| format!("account[{index}].{field}");
        let id = account.id.get_ref();
        if !is_account_id(id) {
            return Err(document.invalid(
                account.id.span(),
                key("id"),
                format!("{id:?} is not a 12-digit AWS account id"),
                "write the account id as 12 digits in quotes, e.g. id = \"123456789012\"",
            ));
        }
        if let Some(first) = seen_ids.insert(id.clone(), index) {
            return Err(document.invalid(
                account.id.span(),
                key("id"),
                format!("account id {id} is already configured as account[{first}]"),
                "remove one of the two [[account]] entries",
            ));
        }
        let alias = account.alias.get_ref();
        if is_account_id(alias) {
            let problem = match seen_ids.get(alias) {
                Some(other) if *other != index => {
                    format!(
                        "alias {alias:?} is account[{other}]'s id: --account {alias} would select both"
                    )
                }
                _ => format!(
                    "alias {alias:?} looks like an account id: --account and grants would take it for one"
                ),
            };
            return Err(document.invalid(
                account.alias.span(),
                key("alias"),
                problem,
                "use a name that is not 12 digits, e.g. the account's purpose (alias = \"billing\")",
            ));
        }
        if !is_alias(alias) {
            return Err(document.invalid(
                account.alias.span(),
                key("alias"),
                format!("{alias:?} is not a valid alias"),
                "use 1 to 64 letters, digits, '-', '_' or '.'",
            ));
        }
        if let Some(first) = seen_aliases.insert(alias.clone(), index) {
            return Err(document.invalid(
                account.alias.span(),
                key("alias"),
                format!("alias {alias:?} is already used by account[{first}]"),
                "give each account its own alias",
            ));
        }
        accounts.push(AccountConfig {
            id: account.id.into_inner(),
            alias: account.alias.into_inner(),
            inherits_region: account.region.is_none(),
            region: account
                .region
                .map_or_else(|| LOCAL_REGION.to_owned(), Spanned::into_inner),
            tags: account.tags,
        });
    }
    Ok(accounts)
}

fn is_alias(alias: &str) -> bool {
    (1..=64).contains(&alias.len())
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// `env=dev, team=data`: the tags the accounts carry, for a message.
pub fn tags_in_use(accounts: &[AccountConfig]) -> String {
    let tags: BTreeSet<String> = accounts
        .iter()
        .flat_map(|a| a.tags.iter().map(|(k, v)| format!("{k}={v}")))
        .collect();
    if tags.is_empty() {
        "none".to_owned()
    } else {
        tags.into_iter().collect::<Vec<_>>().join(", ")
    }
}

/// Adds accounts listed at run time (from an AWS Organization) to `accounts`. An entry
/// of the same id overrides what was listed (alias, region; its tags win over the listed
/// ones); listed accounts follow the entries, by id. A listed account's alias is kept
/// unless taken, then `<alias>-<id>`.
pub fn add_listed(accounts: &mut Vec<AccountConfig>, listed: Vec<AccountConfig>) {
    let mut aliases: HashSet<String> = accounts.iter().map(|a| a.alias.clone()).collect();
    let by_id: HashMap<String, usize> = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.clone(), i))
        .collect();
    let mut added = Vec::new();
    for mut account in listed {
        if let Some(&i) = by_id.get(&account.id) {
            let entry = &mut accounts[i];
            for (key, value) in account.tags {
                entry.tags.entry(key).or_insert(value);
            }
            continue;
        }
        if !aliases.insert(account.alias.clone()) {
            account.alias = format!("{}-{}", account.alias, account.id);
            aliases.insert(account.alias.clone());
        }
        added.push(account);
    }
    added.sort_by(|a, b| a.id.cmp(&b.id));
    accounts.extend(added);
}
