//! Accounts from AWS Organizations: the organization's tree walked once per run, from the
//! root down through nested OUs, keeping ACTIVE accounts under the included OUs and none
//! under the excluded ones, each with its Organizations tags (usable in `--tag` and in
//! grant selectors). Each is assumed through the organization's member role
//! ([`crate::config::AwsSettings::role_of`]).
//!
//! Organizations' request rates are low ("Quotas for AWS Organizations"), so tags are
//! listed only when something reads them, a few accounts at a time, and an account whose
//! tags cannot be listed keeps empty tags with a warning rather than failing the listing.
//! The management account is left out unless `include_management = true`: the member
//! role exists only in accounts the organization created ("Accessing member accounts in
//! your organization", Organizations User Guide), so its AssumeRole would fail.

use std::collections::BTreeMap;

use futures::StreamExt;

use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::{AccountState, AccountStatus};

use xacct_core::config::accounts::AccountConfig;

use xacct_core::report::text::inert;

use crate::config::OrganizationConfig;
use crate::error::{AwsError, Service};

/// Where an account sits: the ids from the root down to its OU, and the OUs' names.
struct Place {
    ids: Vec<String>,
    names: Vec<String>,
}

impl Place {
    /// Whether the account lies under `selector` (an OU or root id, or a path).
    fn under(&self, selector: &str) -> bool {
        match ou_path(selector) {
            Some(path) => self.names.starts_with(&path),
            None => self.ids.iter().any(|id| id == selector),
        }
    }
}

/// The OU names of a path selector (`/Prod/EU`), `None` for an id. In a path, `\/` is a
/// `/` inside a name and `\\` a backslash (an OU's name may hold either), so every path
/// names one place: `/Prod/EU` is OU `EU` inside OU `Prod`, `/Prod\/EU` the OU named
/// `Prod/EU`. A trailing `/` changes nothing.
fn ou_path(selector: &str) -> Option<Vec<String>> {
    let mut chars = selector.strip_prefix('/')?.chars();
    let mut names = Vec::new();
    let mut name = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => name.push(chars.next().unwrap_or('\\')),
            '/' => names.push(std::mem::take(&mut name)),
            c => name.push(c),
        }
    }
    names.push(name);
    names.retain(|name| !name.is_empty());
    Some(names)
}

fn organizations_error<E>(
    what: &str,
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    AwsError::from_sdk(Service::Organizations, what, err)
        .with_fix("the home identity (or organization.via_role) must be in the management or a delegated-administrator account, allowed organizations:DescribeOrganization, ListRoots, ListOrganizationalUnitsForParent, ListAccountsForParent and ListTagsForResource")
}

/// The organization's accounts that `organization` selects, as config entries in
/// `region` (which they inherit).
pub async fn list_accounts(
    client: &Client,
    organization: &OrganizationConfig,
    region: &str,
) -> Result<Vec<AccountConfig>, AwsError> {
    let roots = client
        .list_roots()
        .send()
        .await
        .map_err(|e| organizations_error("ListRoots", &e))?;
    // Breadth first from the root: each parent with its place.
    let mut parents: Vec<(String, Place)> = roots
        .roots()
        .iter()
        .filter_map(|root| {
            let id = root.id()?.to_owned();
            Some((
                id.clone(),
                Place {
                    ids: vec![id],
                    names: Vec::new(),
                },
            ))
        })
        .collect();
    let mut accounts = Vec::new();
    while let Some((parent, place)) = parents.pop() {
        let mut token = None;
        loop {
            let page = client
                .list_organizational_units_for_parent()
                .parent_id(&parent)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| organizations_error("ListOrganizationalUnitsForParent", &e))?;
            for ou in page.organizational_units() {
                let (Some(id), Some(name)) = (ou.id(), ou.name()) else {
                    continue;
                };
                let mut ids = place.ids.clone();
                ids.push(id.to_owned());
                let mut names = place.names.clone();
                names.push(name.to_owned());
                parents.push((id.to_owned(), Place { ids, names }));
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let included = organization.include_ous.is_empty()
            || organization.include_ous.iter().any(|ou| place.under(ou));
        let excluded = organization.exclude_ous.iter().any(|ou| place.under(ou));
        if !included || excluded {
            continue;
        }
        let mut token = None;
        loop {
            let page = client
                .list_accounts_for_parent()
                .parent_id(&parent)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| organizations_error("ListAccountsForParent", &e))?;
            for account in page.accounts() {
                let active = match (account.state(), account.status()) {
                    (Some(state), _) => *state == AccountState::Active,
                    (None, Some(status)) => *status == AccountStatus::Active,
                    (None, None) => false,
                };
                let Some(id) = account.id().filter(|_| active) else {
                    continue;
                };
                if organization.exclude_accounts.iter().any(|x| x == id) {
                    continue;
                }
                accounts.push((id.to_owned(), account.name().unwrap_or_default().to_owned()));
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
    }
    if !organization.include_management
        && let Some(management) = management_account(client).await?
    {
        let before = accounts.len();
        accounts.retain(|(id, _)| *id != management);
        if accounts.len() < before {
            tracing::info!(
                "the management account {management} is left out (the member role exists only in accounts \
                 the organization created); [organization] include_management = true lists it"
            );
        }
    }
    let mut listed: Vec<AccountConfig> = futures::stream::iter(accounts)
        .map(|(id, name)| async move {
            let alias = alias_from_name(&name).unwrap_or_else(|| {
                tracing::warn!(
                    "the account name \"{}\" of {id} is no alias (an alias derived from a name starts with a letter or digit and is not all digits); fix: select the account by its id or a tag",
                    inert(&name)
                );
                id.clone()
            });
            let tags = if organization.list_tags {
                tags_or_none(client, &id).await
            } else {
                BTreeMap::new()
            };
            AccountConfig {
                alias,
                region: region.to_owned(),
                inherits_region: true,
                tags,
                id,
            }
        })
        .buffer_unordered(TAG_LISTINGS_AT_ONCE)
        .collect()
        .await;
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(listed)
}

/// Tag listings in flight at once: Organizations throttles at a few requests per second.
const TAG_LISTINGS_AT_ONCE: usize = 4;

/// The management account's id (DescribeOrganization's `MasterAccountId`).
async fn management_account(client: &Client) -> Result<Option<String>, AwsError> {
    let described = client
        .describe_organization()
        .send()
        .await
        .map_err(|e| organizations_error("DescribeOrganization", &e))?;
    Ok(described
        .organization()
        .and_then(|o| o.master_account_id())
        .map(str::to_owned))
}

/// An account's tags; none, with a warning naming the account, if they cannot be
/// listed (after the SDK's retries).
async fn tags_or_none(client: &Client, account: &str) -> BTreeMap<String, String> {
    match tags_of(client, account).await {
        Ok(tags) => tags,
        Err(err) => {
            tracing::warn!("account {account} is listed without its tags: {err}");
            BTreeMap::new()
        }
    }
}

async fn tags_of(client: &Client, account: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let mut tags = BTreeMap::new();
    let mut token = None;
    loop {
        let page = client
            .list_tags_for_resource()
            .resource_id(account)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| organizations_error("ListTagsForResource", &e))?;
        for tag in page.tags() {
            tags.insert(tag.key().to_owned(), tag.value().to_owned());
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(tags);
        }
    }
}

/// An account's name made into an alias: the characters an alias allows (others become
/// `-`), at most 64. `None` when that does not start with a letter or digit (a command line
/// would read `--dry-run` as a flag) or is all digits (an account id's shape).
pub fn alias_from_name(name: &str) -> Option<String> {
    let mut alias: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    alias.truncate(64);
    let starts_well = alias.starts_with(|c: char| c.is_ascii_alphanumeric());
    (starts_well && !alias.bytes().all(|b| b.is_ascii_digit())).then_some(alias)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_under_ous_by_id_or_path() {
        let place = Place {
            ids: vec!["r-ab12".into(), "ou-1".into(), "ou-2".into()],
            names: vec!["Prod".into(), "Apps".into()],
        };
        for yes in [
            "r-ab12",
            "ou-1",
            "ou-2",
            "/Prod",
            "/Prod/",
            "/Prod/Apps",
            "/",
        ] {
            assert!(place.under(yes), "{yes}");
        }
        for no in ["ou-3", "/Pro", "/Prod/App", "/Sandbox", "/Prod\\/Apps"] {
            assert!(!place.under(no), "{no}");
        }
        let slashed = Place {
            ids: vec!["r-ab12".into(), "ou-3".into()],
            names: vec!["Prod/Apps".into(), "a\\b".into()],
        };
        assert!(slashed.under("/Prod\\/Apps"));
        assert!(slashed.under("/Prod\\/Apps/a\\\\b"));
        assert!(!slashed.under("/Prod/Apps"));
        assert!(!slashed.under("/Prod"));
    }

    #[test]
    fn names_give_aliases_that_read_as_neither_flags_nor_ids() {
        assert_eq!(alias_from_name("web app").as_deref(), Some("web-app"));
        assert_eq!(alias_from_name("9lives").as_deref(), Some("9lives"));
        for no in [
            "--dry-run",
            "-x",
            ".hidden",
            "_x",
            "",
            "123456789012",
            " prod",
        ] {
            assert_eq!(alias_from_name(no), None, "{no}");
        }
    }
}
