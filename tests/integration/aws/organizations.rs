//! Accounts from AWS Organizations (moto's, behind the shim): OUs nested and filtered by
//! id or path, suspended accounts left out, Organizations tags as account tags, static
//! `[[account]]` entries overriding what was listed — and a run over the listed accounts.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_organizations::Client;

use crate::common;
use common::moto::{HOME_ACCOUNT, Moto};
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

fn xacct(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    common::xacct_in(
        dir,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAXACCTORGTEST0001"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
        args,
    )
}

/// The ids `xacct accounts` lists for an `[organization]` section.
fn listed(dir: &Path, moto: &Moto, organization: &str, extra: &str) -> Vec<Value> {
    std::fs::write(
        dir.join("xacct.toml"),
        format!(
            "plugins = \"plugins\"\n[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n[organization]\n{organization}\n{extra}",
            moto.endpoint
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = xacct(dir, &["accounts", "--output", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    serde_json::from_str::<Value>(&stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
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
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    std::fs::copy(
        common::guest("hello"),
        dir.path().join("plugins/hello.wasm"),
    )
    .unwrap();
    let home = HOME_ACCOUNT.to_owned();

    // Every ACTIVE account, the management account included; never the suspended one.
    let all = listed(dir.path(), &moto, "", "");
    assert_eq!(
        ids(&all),
        sorted(vec![
            &home,
            &org.in_apps,
            &org.in_prod,
            &org.in_sandbox,
            &org.at_root
        ])
    );
    assert!(!ids(&all).contains(&org.suspended));
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
    let prod = listed(dir.path(), &moto, "include_ous = [\"/Prod\"]", "");
    assert_eq!(ids(&prod), sorted(vec![&org.in_apps, &org.in_prod]));
    let not_apps = listed(
        dir.path(),
        &moto,
        "include_ous = [\"/Prod\"]\nexclude_ous = [\"/Prod/Apps\"]",
        "",
    );
    assert_eq!(ids(&not_apps), std::slice::from_ref(&org.in_prod));
    let by_id = listed(
        dir.path(),
        &moto,
        &format!("include_ous = [\"{}\"]", org.apps_ou),
        "",
    );
    assert_eq!(ids(&by_id), std::slice::from_ref(&org.in_apps));
    let excluded = listed(
        dir.path(),
        &moto,
        &format!(
            "include_ous = [\"/Prod\"]\nexclude_accounts = [\"{}\"]",
            org.in_prod
        ),
        "",
    );
    assert_eq!(ids(&excluded), std::slice::from_ref(&org.in_apps));

    // A static entry overrides what was listed; its tags win, the listed ones stay.
    let pinned = listed(
        dir.path(),
        &moto,
        "include_ous = [\"/Prod\"]",
        &format!(
            "[[account]]\nid = \"{}\"\nalias = \"blue-app\"\nrole = \"xacct-target\"\ntags = {{ env = \"prod\" }}\n",
            org.in_apps
        ),
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
    let (code, toml_text, stderr) = xacct(dir.path(), &["accounts", "--output", "toml"]);
    assert_eq!(code, Some(0), "{stderr}");
    let parsed: toml::Value = toml::from_str(&toml_text).unwrap();
    assert_eq!(parsed["account"].as_array().unwrap().len(), 2);

    // A run over the listed accounts, selected by an Organizations tag.
    std::fs::write(
        dir.path().join("xacct.toml"),
        format!(
            "plugins = \"plugins\"\n[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n[organization]\n[plugin.hello]\naccounts = [\"tag:team=blue\"]\ns3 = [{{ buckets = \"*\", actions = [\"list\"] }}]\n",
            moto.endpoint
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = xacct(dir.path(), &["run", "hello", "--output", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let entries = report["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{report}");
    assert_eq!(entries[0]["account_id"], org.in_apps.as_str());
    assert_eq!(entries[0]["status"], "ok");
}
