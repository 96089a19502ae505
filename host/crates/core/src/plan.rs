//! The pipeline's **plan** stage. Decides which plugin runs against which accounts, in
//! how many invocations, under which limits — before anything is called, so that the
//! rest of the pipeline only executes decisions made here.

use std::collections::HashSet;
use std::sync::Arc;

use crate::bindings::Account;
use crate::config::Config;
use crate::config::accounts::AccountConfig;
use crate::config::limits::Limits;
use crate::shard::Shard;

pub use crate::plan_hash::{input_sha256, plan_hash_of};

/// How a plugin's invocations cover its accounts: one instance per account
/// (`PerAccount`) or one over every planned account (`AllAccounts`); named as reports,
/// plans and `--rerun-failed` name it (`Mode::name`). Defined with the grant's
/// vocabulary in xacct-provenance, since a plugin's declaration names it too.
pub use xacct_provenance::Mode;

/// The accounts one invocation may touch.
pub type Scope = Arc<[Account]>;

/// The operator's choice of accounts for one run (`--account`, `--tag`, `--exclude`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Ids or aliases; empty: every account.
    pub accounts: Vec<String>,
    /// `(key, value)` tags an account must all carry.
    pub tags: Vec<(String, String)>,
    /// Ids or aliases left out.
    pub exclude: Vec<String>,
}

impl Selection {
    /// Every id or alias named must be configured: a typo must not silently select nothing,
    /// and a name withheld from listed accounts must not select a guess.
    pub fn validate(&self, config: &Config) -> Result<(), String> {
        // One set of every name, not a scan of the accounts per name: `--rerun-failed`
        // names thousands.
        let known: HashSet<&str> = (config.accounts.iter())
            .flat_map(|a| [a.id.as_str(), a.alias.as_str()])
            .collect();
        let mut named = (self.accounts.iter().map(|name| ("--account", name)))
            .chain(self.exclude.iter().map(|name| ("--exclude", name)));
        if let Some((flag, name)) = named.find(|(_, name)| !known.contains(name.as_str())) {
            return Err(match config.withdrawn_alias(name) {
                Some(ids) => format!(
                    "{flag} {name:?}: no account has that alias, the listed accounts {} share that name; fix: name the account by its id (or select it with --tag)",
                    ids.join(", ")
                ),
                None => format!("{name:?} names no account in {}", config.path.display()),
            });
        }
        Ok(())
    }

    /// Whether `account` is among the accounts chosen.
    pub fn selects(&self, account: &AccountConfig) -> bool {
        self.matcher().selects(account)
    }

    /// The selection with its names in sets, to test many accounts in constant time each.
    pub fn matcher(&self) -> Matcher<'_> {
        Matcher {
            accounts: self.accounts.iter().map(String::as_str).collect(),
            tags: &self.tags,
            exclude: self.exclude.iter().map(String::as_str).collect(),
        }
    }
}

/// A [`Selection`] ready to test accounts.
pub struct Matcher<'a> {
    accounts: HashSet<&'a str>,
    tags: &'a [(String, String)],
    exclude: HashSet<&'a str>,
}

impl Matcher<'_> {
    pub fn selects(&self, account: &AccountConfig) -> bool {
        let named = |names: &HashSet<&str>| {
            names.contains(account.id.as_str()) || names.contains(account.alias.as_str())
        };
        (self.accounts.is_empty() || named(&self.accounts))
            && self
                .tags
                .iter()
                .all(|(k, v)| account.tags.get(k) == Some(v))
            && !named(&self.exclude)
    }
}

/// What will run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub plugin: String,
    pub mode: Mode,
    pub limits: Limits,
    /// The planned accounts, in config order.
    pub accounts: Vec<Account>,
    /// Why accounts are missing from the plan, for the operator.
    pub note: Option<String>,
    /// The ids of the accounts selected before sharding, in config order: what the plan
    /// hash covers and a merge of the shards must find.
    pub selected: Vec<String>,
    /// The part of `selected` this run takes; `None`: all of it.
    pub shard: Option<Shard>,
}

impl Plan {
    /// Plans `plugin` over the configured accounts its grant covers (none without one)
    /// and the operator selects.
    pub fn new(config: &Config, plugin: &str, mode: Mode, selection: &Selection) -> Plan {
        let grant = config.grant_for(plugin);
        let note = match grant {
            // The whole grant on one line: TOML's inline table, valid before any section.
            None => Some(format!(
                "plugin {plugin:?} has no grant, so it runs against no account; to let it list \
                 and read every bucket of every account, add this line at the top of {}: \
                 plugin.{plugin} = {{ accounts = [\"*\"], s3 = [{{ buckets = \"*\", actions = [\"list\", \"read\"] }}] }} \
                 (then narrow the buckets, add prefixes, and write, delete or tag if it needs them)",
                config.path.display()
            )),
            Some(grant) if !config.accounts.iter().any(|a| grant.covers(a)) => Some(format!(
                "the grant of plugin {plugin:?} ({}) covers no configured account",
                grant.key
            )),
            Some(_) => None,
        };
        let selection = selection.matcher();
        let accounts: Vec<Account> = config
            .accounts
            .iter()
            .filter(|a| grant.is_some_and(|g| g.covers(a)) && selection.selects(a))
            .map(account)
            .collect();
        Plan {
            plugin: plugin.to_owned(),
            mode,
            limits: config.limits_for(plugin),
            selected: accounts.iter().map(|a| a.id.clone()).collect(),
            accounts,
            note,
            shard: None,
        }
    }

    /// Keeps only the accounts of `shard`.
    pub fn shard(&mut self, shard: Shard) {
        self.accounts.retain(|account| shard.holds(&account.id));
        self.shard = Some(shard);
    }

    /// The scopes of the invocations, one per invocation.
    pub fn scopes(&self) -> Vec<Scope> {
        match self.mode {
            Mode::PerAccount => self
                .accounts
                .iter()
                .map(|account| Scope::from(vec![account.clone()]))
                .collect(),
            Mode::AllAccounts if self.accounts.is_empty() => Vec::new(),
            Mode::AllAccounts => vec![Scope::from(self.accounts.clone())],
        }
    }
}

/// The hash of a plan: the plugin's sha256, the input (as JSON, so spacing and key order
/// do not count), the mode, whether it is a dry run, and the ids of the accounts selected
/// before sharding, in plan order. The shard count is left out so that the report merged
/// from N shards equals the report of one unsharded run, hash included; the merge checks
/// the count itself.
pub fn plan_hash(
    sha256: Option<&str>,
    input: &str,
    mode: Mode,
    dry_run: bool,
    accounts: &[String],
) -> String {
    let accounts: Vec<&str> = accounts.iter().map(String::as_str).collect();
    plan_hash_of(
        sha256,
        &input_sha256(input),
        mode.name(),
        dry_run,
        &accounts,
    )
}

/// The WIT view of a configured account.
fn account(config: &AccountConfig) -> Account {
    Account {
        id: config.id.clone(),
        alias: config.alias.clone(),
        region: config.region.clone(),
        tags: config
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config() -> Config {
        let text = "[[account]]\nid = \"111111111111\"\nalias = \"a\"\ntags = { team = \"x\", env = \"dev\" }\n\
                    [[account]]\nid = \"222222222222\"\nalias = \"b\"\n\
                    [plugin.hello]\naccounts = [\"*\"]\n[plugin.replicate]\naccounts = [\"*\"]\n\
                    [plugin.devonly]\naccounts = [\"tag:env=dev\"]\n";
        Config::parse(text, Path::new("xacct.toml")).unwrap()
    }

    #[test]
    fn the_grant_decides_the_accounts_and_no_grant_means_none() {
        let config = config();
        let dev = Plan::new(&config, "devonly", Mode::PerAccount, &Selection::default());
        assert_eq!(
            dev.accounts
                .iter()
                .map(|a| a.alias.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
        assert!(dev.note.is_none());
        let none = Plan::new(
            &config,
            "ungranted",
            Mode::PerAccount,
            &Selection::default(),
        );
        assert!(none.accounts.is_empty());
        assert!(none.scopes().is_empty());
        let note = none.note.unwrap();
        assert!(
            note.contains("plugin.ungranted = { accounts = [\"*\"], s3 = [")
                && note.contains("xacct.toml"),
            "{note}"
        );
    }

    #[test]
    fn per_account_mode_gives_each_invocation_exactly_one_account() {
        let plan = Plan::new(&config(), "hello", Mode::PerAccount, &Selection::default());
        let scopes = plan.scopes();
        assert_eq!(scopes.len(), 2);
        assert_eq!(scopes[0].len(), 1);
        assert_eq!(scopes[0][0].id, "111111111111");
        assert_eq!(scopes[1][0].alias, "b");
        assert_eq!(
            scopes[0][0].tags,
            vec![("env".into(), "dev".into()), ("team".into(), "x".into())],
            "tags are sorted by key"
        );
    }

    #[test]
    fn the_selection_narrows_the_grant() {
        let config = config();
        let plan = |selection: Selection| {
            Plan::new(&config, "hello", Mode::PerAccount, &selection)
                .accounts
                .into_iter()
                .map(|a| a.alias)
                .collect::<Vec<_>>()
        };
        assert_eq!(plan(Selection::default()), ["a", "b"]);
        assert_eq!(
            plan(Selection {
                accounts: vec!["222222222222".into()],
                ..Default::default()
            }),
            ["b"]
        );
        assert_eq!(
            plan(Selection {
                tags: vec![("env".into(), "dev".into())],
                ..Default::default()
            }),
            ["a"]
        );
        assert_eq!(
            plan(Selection {
                exclude: vec!["a".into()],
                ..Default::default()
            }),
            ["b"]
        );
        let devonly = Plan::new(
            &config,
            "devonly",
            Mode::PerAccount,
            &Selection {
                accounts: vec!["b".into()],
                ..Default::default()
            },
        );
        assert!(
            devonly.accounts.is_empty(),
            "the selection cannot widen the grant"
        );
        assert!(
            Selection {
                accounts: vec!["nope".into()],
                ..Default::default()
            }
            .validate(&config)
            .is_err()
        );
    }

    #[test]
    fn all_accounts_mode_gives_one_invocation_every_account() {
        let plan = Plan::new(
            &config(),
            "replicate",
            Mode::AllAccounts,
            &Selection::default(),
        );
        let scopes = plan.scopes();
        assert_eq!(scopes.len(), 1);
        assert_eq!(scopes[0].len(), 2);
    }

    #[test]
    fn the_plan_hash_ignores_input_spacing_and_sees_everything_else() {
        let ids = vec!["1".to_owned(), "2".to_owned()];
        let hash = |input: &str, mode, dry_run, ids: &[String]| {
            plan_hash(Some("abc"), input, mode, dry_run, ids)
        };
        let base = hash(r#"{"a": 1, "b": 2}"#, Mode::PerAccount, false, &ids);
        assert_eq!(
            base,
            hash(r#"{"b":2,"a":1}"#, Mode::PerAccount, false, &ids)
        );
        assert_ne!(base, hash(r#"{"a": 2}"#, Mode::PerAccount, false, &ids));
        assert_ne!(
            base,
            hash(r#"{"a": 1, "b": 2}"#, Mode::AllAccounts, false, &ids)
        );
        assert_ne!(
            base,
            hash(r#"{"a": 1, "b": 2}"#, Mode::PerAccount, true, &ids)
        );
        assert_ne!(
            base,
            hash(r#"{"a": 1, "b": 2}"#, Mode::PerAccount, false, &ids[..1])
        );
    }
}
