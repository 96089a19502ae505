//! `[[account]]`: the accounts a run may reach, each with an id, an alias, a region and
//! tags. (A provider reads its own keys of an entry, e.g. the role to assume on AWS.)

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;
use toml::Spanned;
use xacct_provenance::grant::Account as SelectableAccount;

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

pub use xacct_provenance::grant::is_account_id;

impl AccountConfig {
    /// The account as grant selectors see it.
    pub fn selectable(&self) -> SelectableAccount<'_> {
        SelectableAccount {
            id: &self.id,
            alias: &self.alias,
            tags: &self.tags,
        }
    }
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

/// What adding listed accounts found that the operator must hear of.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Listed {
    /// Aliases no listed account was given, each with the accounts that wanted it or hold
    /// it: a name two listed accounts share, or one an `[[account]]` entry's alias holds.
    pub withdrawn: BTreeMap<String, Vec<String>>,
    /// `(id, key)`: a tag key of an `[[account]]` entry that only the listing supplied.
    pub filled_tags: Vec<(String, String)>,
}

/// Adds accounts listed at run time (from an AWS Organization) to `accounts`. An entry
/// of the same id overrides what was listed (alias, region; its tags win over the listed
/// ones); listed accounts follow the entries, by id. A listed account keeps its alias
/// only when no other account (listed or configured) has or wants the same one — names
/// are the members' to choose, so the first comer must not take one — else its alias is
/// its id. A listed account whose alias is its id wants none.
pub fn add_listed(accounts: &mut Vec<AccountConfig>, listed: Vec<AccountConfig>) -> Listed {
    let configured_aliases: HashMap<String, String> = accounts
        .iter()
        .map(|a| (a.alias.clone(), a.id.clone()))
        .collect();
    let by_id: HashMap<String, usize> = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.clone(), i))
        .collect();
    let mut found = Listed::default();
    let mut added = Vec::new();
    for account in listed {
        if let Some(&i) = by_id.get(&account.id) {
            let entry = &mut accounts[i];
            for (key, value) in account.tags {
                if !entry.tags.contains_key(&key) {
                    found.filled_tags.push((entry.id.clone(), key.clone()));
                    entry.tags.insert(key, value);
                }
            }
            continue;
        }
        added.push(account);
    }
    let mut wanted: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for account in added.iter().filter(|a| a.alias != a.id) {
        wanted
            .entry(&account.alias)
            .or_default()
            .push(account.id.clone());
    }
    for (alias, mut ids) in wanted {
        let configured = configured_aliases.get(alias);
        if ids.len() > 1 || configured.is_some() {
            ids.extend(configured.cloned());
            found.withdrawn.insert(alias.to_owned(), ids);
        }
    }
    for account in &mut added {
        if found.withdrawn.contains_key(&account.alias) {
            account.alias.clone_from(&account.id);
        }
    }
    added.sort_by(|a, b| a.id.cmp(&b.id));
    accounts.extend(added);
    found
}
