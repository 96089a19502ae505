//! Issue 17, "An Organizations member can take over an alias": the aliases of discovered
//! accounts came from Organizations account names, which are neither unique nor the
//! operator's (a member account can rename itself). The lowest id got the bare name and
//! the `<name>-<id>` fallback was never checked, so an impostor named `prod` took the alias
//! `prod`, and grants, `--account prod` and `--exclude prod` followed it.
//!
//! Defences these need (issue 17, Deliver 1):
//! - an alias derived from an Organizations name is given only when it is unique among
//!   all accounts (static and discovered) and a valid alias that cannot be read as a flag
//!   (it starts with a letter or digit); otherwise the account's alias is its id, and the
//!   command warns once, on one line naming the name and every account involved;
//! - a discovered name never takes or shadows a static `[[account]]` alias;
//! - a grant, `--account` or `--exclude` naming such a withdrawn alias is a config error
//!   (exit 2) with the file and line (for a grant), the accounts, and `fix:` (the id or a
//!   tag);
//! - OU paths are unambiguous: in an `include_ous`/`exclude_ous` path, `\/` is a `/`
//!   inside an OU's name and `\\` a backslash, so `/Prod/EU` is OU `EU` under OU `Prod`
//!   and `/Prod\/EU` the top-level OU named `Prod/EU` (selection by id stays);
//! - Organizations tags still fill in the keys an `[[account]]` entry lacks, but when a
//!   grant's `tag:` selector reads a key that Organizations supplied, the command warns,
//!   naming the plugin's grant, the key and the account.

use std::path::Path;

use serde_json::Value;

use super::organizations::{create_member, create_ou, new_organization, tag_account};
use crate::common;
use common::Xacct;
use common::moto::Moto;

/// A directory with the `hello` plugin and a config over `moto`'s organization:
/// `[organization]` with `organization`, then `rest`. Returns the config's text.
fn configure(dir: &Path, moto: &Moto, organization: &str, rest: &str) -> String {
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    std::fs::copy(common::guest("hello"), dir.join("plugins/hello.wasm")).unwrap();
    let text = format!(
        "plugins = \"plugins\"\n[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n[organization]\n{organization}\n{rest}",
        moto.endpoint
    );
    std::fs::write(dir.join("xacct.toml"), &text).unwrap();
    text
}

fn xacct(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Xacct::in_dir(dir)
        .envs(&[
            ("AWS_ACCESS_KEY_ID", "AKIAXACCTORGTEST0001"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ])
        .args(args)
        .output();
    (output.code(), output.stdout, output.stderr)
}

/// `xacct accounts --output json`: (alias by id, stderr).
fn aliases(dir: &Path) -> (Vec<(String, String)>, String) {
    let (code, stdout, stderr) = xacct(dir, &["accounts", "--output", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let accounts: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let aliases = accounts
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_owned(),
                a["alias"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (aliases, stderr)
}

fn alias_of<'a>(aliases: &'a [(String, String)], id: &str) -> &'a str {
    &aliases
        .iter()
        .find(|(i, _)| i == id)
        .unwrap_or_else(|| panic!("{id} not listed: {aliases:?}"))
        .1
}

/// The one stderr line that names all of `parts`.
fn warned_once(stderr: &str, parts: &[&str]) {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| parts.iter().all(|part| line.contains(part)))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one warning naming {parts:?}, got {lines:?} in:\n{stderr}"
    );
}

/// The ids of the accounts `xacct run hello --plan` would run, and its exit code and
/// stderr.
fn plan(dir: &Path, flags: &[&str]) -> (Option<i32>, Vec<String>, String) {
    let mut args = vec!["run", "hello", "--plan", "--output", "json"];
    args.extend_from_slice(flags);
    let (code, stdout, stderr) = xacct(dir, &args);
    let ids = serde_json::from_str::<Value>(&stdout)
        .ok()
        .and_then(|plan| {
            plan["accounts"].as_array().map(|accounts| {
                accounts
                    .iter()
                    .map(|a| a["id"].as_str().unwrap().to_owned())
                    .collect()
            })
        })
        .unwrap_or_default();
    (code, ids, stderr)
}

/// A config error (exit 2) naming `parts` and giving a fix.
fn refused(code: Option<i32>, stderr: &str, parts: &[&str]) {
    assert_eq!(code, Some(2), "not refused: {stderr}");
    for part in parts {
        assert!(stderr.contains(part), "{part:?} in {stderr}");
    }
    assert!(stderr.contains("fix:"), "{stderr}");
}

/// The line of `text` that holds `needle`, counted from 1.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

/// Two members named `prod`: today the lower id takes `prod`, and a grant, `--account`
/// and `--exclude` follow it; a destructive plugin excluded from "prod" runs on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_two_members_share_is_no_ones_alias() {
    let moto = Moto::start();
    let (org, root) = new_organization(&moto).await;
    let real = create_member(&org, &root, "prod", None).await;
    let impostor = create_member(&org, &root, "prod", None).await;
    let dir = tempfile::tempdir().unwrap();
    let grant_all =
        "[plugin.hello]\naccounts = [\"*\"]\ns3 = [{ buckets = \"*\", actions = [\"list\"] }]\n";
    configure(dir.path(), &moto, "", grant_all);

    let (aliases, stderr) = aliases(dir.path());
    assert_eq!(alias_of(&aliases, &real), real, "{aliases:?}");
    assert_eq!(alias_of(&aliases, &impostor), impostor, "{aliases:?}");
    warned_once(&stderr, &["\"prod\"", &real, &impostor]);

    for flag in ["--account", "--exclude"] {
        let (code, ids, stderr) = plan(dir.path(), &[flag, "prod"]);
        assert!(ids.is_empty(), "{flag} prod planned {ids:?}");
        refused(code, &stderr, &[flag, "prod", &real, &impostor]);
    }

    let text = configure(
        dir.path(),
        &moto,
        "",
        "[plugin.hello]\naccounts = [\"prod\"]\ns3 = [{ buckets = \"*\", actions = [\"list\"] }]\n",
    );
    let (code, ids, stderr) = plan(dir.path(), &[]);
    assert!(ids.is_empty(), "the grant of \"prod\" planned {ids:?}");
    let at = format!("xacct.toml:{}", line_of(&text, "accounts = [\"prod\"]"));
    refused(
        code,
        &stderr,
        &[&at, "plugin.hello.accounts", &real, &impostor],
    );
}

/// A static `[[account]]` alias is the operator's: a member named like it gets no alias
/// (today it gets `prod-<id>`, a name any member could take first), and every alias stays
/// unique even when a member names itself like another's fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovered_name_never_takes_or_shadows_a_static_alias() {
    let moto = Moto::start();
    let (org, root) = new_organization(&moto).await;
    let real = create_member(&org, &root, "production", None).await;
    let impostor = create_member(&org, &root, "prod", None).await;
    let squatter = create_member(&org, &root, &format!("prod-{impostor}"), None).await;
    let dir = tempfile::tempdir().unwrap();
    let rest = format!(
        "[plugin.hello]\naccounts = [\"*\"]\ns3 = [{{ buckets = \"*\", actions = [\"list\"] }}]\n\n[[account]]\nid = \"{real}\"\nalias = \"prod\"\nrole = \"OrganizationAccountAccessRole\"\n"
    );
    configure(dir.path(), &moto, "", &rest);

    let (aliases, stderr) = aliases(dir.path());
    assert_eq!(alias_of(&aliases, &real), "prod");
    assert_eq!(alias_of(&aliases, &impostor), impostor, "{aliases:?}");
    warned_once(&stderr, &["\"prod\"", &impostor]);
    let mut seen = std::collections::HashSet::new();
    for (id, alias) in &aliases {
        assert!(
            seen.insert(alias),
            "{alias} is {id}'s and another's: {aliases:?}"
        );
    }
    assert_eq!(alias_of(&aliases, &squatter), format!("prod-{impostor}"));

    let (code, ids, stderr) = plan(dir.path(), &["--account", "prod"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(ids, std::slice::from_ref(&real));
    let (code, ids, stderr) = plan(dir.path(), &["--exclude", "prod"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!ids.contains(&real) && ids.contains(&impostor), "{ids:?}");
}

/// A member named `--dry-run` got the alias `--dry-run`, which a command line reads as a
/// flag: such a name gives no alias.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_reads_as_a_flag_is_no_alias() {
    let moto = Moto::start();
    let (org, root) = new_organization(&moto).await;
    let flag = create_member(&org, &root, "--dry-run", None).await;
    let dir = tempfile::tempdir().unwrap();
    configure(dir.path(), &moto, "", "");

    let (aliases, stderr) = aliases(dir.path());
    assert_eq!(alias_of(&aliases, &flag), flag, "{aliases:?}");
    warned_once(&stderr, &["\"--dry-run\"", &flag]);
}

/// OU `EU` inside OU `Prod`, and a top-level OU named `Prod/EU`: the path `/Prod/EU`
/// selected both. With the escape, each path names one OU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ou_paths_name_one_ou_even_when_names_hold_a_slash() {
    let moto = Moto::start();
    let (org, root) = new_organization(&moto).await;
    let prod = create_ou(&org, &root, "Prod").await;
    let nested = create_ou(&org, &prod, "EU").await;
    let slashed = create_ou(&org, &root, "Prod/EU").await;
    let in_nested = create_member(&org, &root, "nested", Some(&nested)).await;
    let in_slashed = create_member(&org, &root, "slashed", Some(&slashed)).await;
    let dir = tempfile::tempdir().unwrap();
    let listed = |organization: &str| {
        configure(dir.path(), &moto, organization, "");
        let (aliases, _) = aliases(dir.path());
        aliases.into_iter().map(|(id, _)| id).collect::<Vec<_>>()
    };

    assert_eq!(
        listed("include_ous = ['/Prod/EU']"),
        std::slice::from_ref(&in_nested)
    );
    assert_eq!(
        listed(r"include_ous = ['/Prod\/EU']"),
        std::slice::from_ref(&in_slashed)
    );
    let outside = listed(r"exclude_ous = ['/Prod\/EU']");
    assert!(
        outside.contains(&in_nested) && !outside.contains(&in_slashed),
        "{outside:?}"
    );
}

/// An `[[account]]` entry without an `env` tag, and Organizations tagging that account
/// `env=prod`: a grant of `tag:env=prod` covers it through a key the operator never
/// wrote. The merge stays (static tags win, Organizations fills in), but it is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_widened_by_an_organizations_tag_is_warned_of() {
    let moto = Moto::start();
    let (org, root) = new_organization(&moto).await;
    let tagged = create_member(&org, &root, "payments", None).await;
    tag_account(&org, &tagged, "env", "prod").await;
    let dir = tempfile::tempdir().unwrap();
    let rest = format!(
        "[plugin.hello]\naccounts = [\"tag:env=prod\"]\ns3 = [{{ buckets = \"*\", actions = [\"list\"] }}]\n\n[[account]]\nid = \"{tagged}\"\nalias = \"payments\"\nrole = \"OrganizationAccountAccessRole\"\ntags = {{ team = \"pay\" }}\n"
    );
    configure(dir.path(), &moto, "", &rest);

    let (code, ids, stderr) = plan(dir.path(), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        ids,
        std::slice::from_ref(&tagged),
        "the documented merge stays"
    );
    warned_once(
        &stderr,
        &["plugin.hello", "tag:env", &tagged, "Organizations"],
    );
}
