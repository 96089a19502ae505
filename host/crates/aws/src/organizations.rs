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

use crate::config::OrganizationConfig;
use crate::error::{AwsError, Service};

/// Where an account sits: the ids from the root down to its OU, and the OU's path.
struct Place {
    ids: Vec<String>,
    path: String,
}

impl Place {
    /// Whether the account lies under `selector` (an OU or root id, or a path).
    fn under(&self, selector: &str) -> bool {
        if selector.starts_with('/') {
            let selector = selector.trim_end_matches('/');
            selector.is_empty()
                || self.path == selector
                || self.path.starts_with(&format!("{selector}/"))
        } else {
            self.ids.iter().any(|id| id == selector)
        }
    }
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
                    path: String::new(),
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
                let path = format!("{}/{name}", place.path);
                parents.push((id.to_owned(), Place { ids, path }));
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
            let tags = if organization.list_tags {
                tags_or_none(client, &id).await
            } else {
                BTreeMap::new()
            };
            AccountConfig {
                alias: alias_from_name(&name, &id),
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
/// `-`), at most 64, never all digits (which would read as an account id).
pub fn alias_from_name(name: &str, id: &str) -> String {
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
    if alias.is_empty() || alias.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        format!("account-{id}")
    } else {
        alias
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_under_ous_by_id_or_path() {
        let place = Place {
            ids: vec!["r-ab12".into(), "ou-1".into(), "ou-2".into()],
            path: "/Prod/Apps".into(),
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
        for no in ["ou-3", "/Pro", "/Prod/App", "/Sandbox"] {
            assert!(!place.under(no), "{no}");
        }
    }
}
