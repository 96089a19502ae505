//! Accounts from AWS Organizations (moto's, behind the shim): OUs nested and filtered by
//! id or path, suspended accounts left out, Organizations tags as account tags, static
//! `[[account]]` entries overriding what was listed — and a run over the listed accounts.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_organizations::Client;

use crate::common;
use common::moto::{HOME_ACCOUNT, Moto};
use common::{ConfigBuilder, World, Xacct};
use serde_json::Value;

/// The organization: Prod (with Apps nested in it) and Sandbox under the root; the
/// account in Apps is tagged `team=blue`.
pub(crate) struct Organization {
    pub(crate) apps_ou: String,
    pub(crate) in_apps: String,
    pub(crate) in_prod: String,
    pub(crate) in_sandbox: String,
    pub(crate) at_root: String,
    pub(crate) suspended: String,
}

pub(crate) async fn organization(moto: &Moto) -> Organization {
    let (org, root) = new_organization(moto).await;
    let prod = create_ou(&org, &root, "Prod").await;
    let apps = create_ou(&org, &prod, "Apps").await;
    let sandbox = create_ou(&org, &root, "Sandbox").await;
    let in_apps = create_member(&org, &root, "web app", Some(&apps)).await;
    let in_prod = create_member(&org, &root, "prod-core", Some(&prod)).await;
    let in_sandbox = create_member(&org, &root, "sandbox", Some(&sandbox)).await;
    let at_root = create_member(&org, &root, "shared", None).await;
    let suspended = create_member(&org, &root, "old", Some(&prod)).await;
    org.close_account()
        .account_id(&suspended)
        .send()
        .await
        .unwrap();
    tag_account(&org, &in_apps, "team", "blue").await;
    Organization {
        apps_ou: apps,
        in_apps,
        in_prod,
        in_sandbox,
        at_root,
        suspended,
    }
}

/// A new organization (all features) with moto's home account as its management account:
/// its client there, and its root's id.
pub(crate) async fn new_organization(moto: &Moto) -> (Client, String) {
    let org = moto.organizations_in(HOME_ACCOUNT).await;
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let root = org.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_owned();
    (org, root)
}

/// Tags `account` `key=value` in Organizations.
pub(crate) async fn tag_account(org: &Client, account: &str, key: &str, value: &str) {
    org.tag_resource()
        .resource_id(account)
        .tags(
            aws_sdk_organizations::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// A new OU named `name` under `parent` (an OU or the root): its id.
pub(crate) async fn create_ou(org: &Client, parent: &str, name: &str) -> String {
    org.create_organizational_unit()
        .parent_id(parent)
        .name(name)
        .send()
        .await
        .unwrap()
        .organizational_unit()
        .unwrap()
        .id()
        .unwrap()
        .to_owned()
}

/// A new member account named `name` (names need not be unique), moved from the root
/// into OU `parent` if one is given: its id.
pub(crate) async fn create_member(
    org: &Client,
    root: &str,
    name: &str,
    parent: Option<&str>,
) -> String {
    // Addresses must be unique where names need not be.
    static CREATED: AtomicU64 = AtomicU64::new(0);
    let local: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { 'x' })
        .collect();
    let created = org
        .create_account()
        .account_name(name)
        .email(format!(
            "{local}-{}@example.com",
            CREATED.fetch_add(1, Ordering::Relaxed)
        ))
        .send()
        .await
        .unwrap();
    let id = created
        .create_account_status()
        .unwrap()
        .account_id()
        .unwrap()
        .to_owned();
    if let Some(parent) = parent {
        org.move_account()
            .account_id(&id)
            .source_parent_id(root)
            .destination_parent_id(parent)
            .send()
            .await
            .unwrap();
    }
    id
}

/// `xacct` in `world` as the management account's identity (moto takes any key).
fn xacct(world: &World) -> Xacct {
    world
        .xacct()
        .env("AWS_ACCESS_KEY_ID", "AKIAXACCTORGTEST0001")
        .env("AWS_SECRET_ACCESS_KEY", "test")
}

/// A config on moto whose accounts are listed from the organization: an `[organization]`
/// section with `keys`.
fn listing(moto: &Moto, keys: &str) -> ConfigBuilder {
    ConfigBuilder::aws(&moto.endpoint).section(&format!("[organization]\n{keys}"))
}

/// The accounts `xacct accounts` lists with `config` in `world`.
fn listed(world: &World, config: &ConfigBuilder) -> Vec<Value> {
    config.write(world.dir.path());
    let run = xacct(world).args(["accounts", "--output", "json"]).output();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    run.json().as_array().unwrap().clone()
}

fn ids(accounts: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = accounts
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<&String>) -> Vec<String> {
    ids.sort();
    ids.into_iter().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_listed_from_the_organization_filtered_and_tagged() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    let world = World::with_config(&["hello"], &listing(&moto, ""), None);
    let home = HOME_ACCOUNT.to_owned();

    // Every ACTIVE member account; never the suspended one, nor the management account
    // (the member role exists only in accounts the organization created) unless
    // `include_management = true`.
    let all = listed(&world, &listing(&moto, ""));
    assert_eq!(
        ids(&all),
        sorted(vec![
            &org.in_apps,
            &org.in_prod,
            &org.in_sandbox,
            &org.at_root
        ])
    );
    assert!(!ids(&all).contains(&org.suspended));
    let with_management = listed(&world, &listing(&moto, "include_management = true"));
    assert_eq!(ids(&with_management).len(), 5);
    assert!(ids(&with_management).contains(&home));
    let app = all
        .iter()
        .find(|a| a["id"] == org.in_apps.as_str())
        .unwrap();
    assert_eq!(app["alias"], "web-app");
    assert_eq!(app["tags"]["team"], "blue");
    assert_eq!(
        app["role"],
        format!(
            "arn:aws:iam::{}:role/OrganizationAccountAccessRole",
            org.in_apps
        )
    );

    // OUs by path (nested ones included) and by id; exclusions of OUs and accounts.
    let prod = listed(&world, &listing(&moto, "include_ous = [\"/Prod\"]"));
    assert_eq!(ids(&prod), sorted(vec![&org.in_apps, &org.in_prod]));
    let not_apps = listed(
        &world,
        &listing(
            &moto,
            "include_ous = [\"/Prod\"]\nexclude_ous = [\"/Prod/Apps\"]",
        ),
    );
    assert_eq!(ids(&not_apps), std::slice::from_ref(&org.in_prod));
    let by_id = listed(
        &world,
        &listing(&moto, &format!("include_ous = [\"{}\"]", org.apps_ou)),
    );
    assert_eq!(ids(&by_id), std::slice::from_ref(&org.in_apps));
    let excluded = listed(
        &world,
        &listing(
            &moto,
            &format!(
                "include_ous = [\"/Prod\"]\nexclude_accounts = [\"{}\"]",
                org.in_prod
            ),
        ),
    );
    assert_eq!(ids(&excluded), std::slice::from_ref(&org.in_apps));

    // A static entry overrides what was listed; its tags win, the listed ones stay.
    let pinned = listed(
        &world,
        &listing(&moto, "include_ous = [\"/Prod\"]")
            .account(&org.in_apps, "blue-app")
            .role("xacct-target")
            .tags(&[("env", "prod")]),
    );
    let app = pinned
        .iter()
        .find(|a| a["id"] == org.in_apps.as_str())
        .unwrap();
    assert_eq!(app["alias"], "blue-app");
    assert_eq!(
        app["tags"],
        serde_json::json!({"env": "prod", "team": "blue"})
    );
    assert_eq!(pinned.len(), 2);

    // The TOML form is a config's [[account]] entries.
    let as_toml = xacct(&world)
        .args(["accounts", "--output", "toml"])
        .output();
    assert_eq!(as_toml.code(), Some(0), "{}", as_toml.stderr);
    let parsed: toml::Value = toml::from_str(&as_toml.stdout).unwrap();
    assert_eq!(parsed["account"].as_array().unwrap().len(), 2);

    // A run over the listed accounts, selected by an Organizations tag.
    listing(&moto, "")
        .grant(
            "hello",
            "accounts = [\"tag:team=blue\"]\ns3 = [{ buckets = \"*\", actions = [\"list\"] }]\n",
        )
        .write(world.dir.path());
    let run = xacct(&world)
        .args(["run", "hello", "--output", "json"])
        .output();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let report = run.json();
    let entries = report["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{report}");
    assert_eq!(entries[0]["account_id"], org.in_apps.as_str());
    assert_eq!(entries[0]["status"], "ok");
}
