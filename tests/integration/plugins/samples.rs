//! The sample plugins on the local backend against known data, and the `xacct` command
//! line around them.

use crate::common;

use common::{ACCOUNTS, ConfigBuilder, World, failed, ok};
use serde_json::json;
use xacct::plan::Mode;

fn sample_world() -> World {
    let world = World::new(&["hello", "inventory", "replicate", "s3script"], "");
    world.put_file(
        "111111111111",
        "dev-reports",
        "reports/2024/jan.csv",
        "jan,1200\n",
    );
    world.put_file(
        "111111111111",
        "dev-reports",
        "reports/2024/feb.csv",
        "feb,1350\n",
    );
    world.put_file("111111111111", "dev-reports", "summary.txt", "summary");
    world.put_file("111111111111", "dev-logs", "app.log", "log line\n");
    world.put_file("222222222222", "staging-assets", "site.css", "body{}");
    world.bucket("333333333333", "prod-archive");
    world
}

#[tokio::test]
async fn hello_greets_each_account_with_exactly_its_own_buckets() {
    let world = sample_world();
    let report = world.run("hello", json!({}), Mode::PerAccount).await;
    assert_eq!(report.entries.len(), 3);
    let expected = [
        vec!["dev-logs", "dev-reports"],
        vec!["staging-assets"],
        vec!["prod-archive"],
    ];
    for ((entry, (id, alias)), buckets) in report.entries.iter().zip(ACCOUNTS).zip(expected) {
        assert_eq!(
            (entry.account_id.as_str(), entry.alias.as_str()),
            (id, alias)
        );
        assert_eq!(entry.scope, [id], "each instance sees exactly one account");
        let output = ok(entry);
        assert_eq!(output["buckets"], json!(buckets));
        assert_eq!(output["greeting"], format!("Hello from {alias} ({id})!"));
    }
    assert!(report.all_ok());
}

#[tokio::test]
async fn inventory_counts_objects_and_bytes_across_pages() {
    let world = sample_world();
    // More keys than one listing page holds.
    for i in 0..1234 {
        world.put_file(
            "222222222222",
            "many",
            &format!("k/{i:05}"),
            vec![b'x'; i % 7],
        );
    }
    let report = world.run("inventory", json!({}), Mode::PerAccount).await;
    let dev = ok(&report.entries[0]);
    assert_eq!(dev["objects"], 4);
    assert_eq!(dev["bytes"], 9 + 9 + 7 + 9);
    let staging = ok(&report.entries[1]);
    let many = &staging["buckets"].as_array().unwrap()[0];
    assert_eq!(many["name"], "many");
    assert_eq!(many["objects"], 1234);
    assert_eq!(many["bytes"], (0..1234).map(|i| i % 7).sum::<usize>());
    let prod = ok(&report.entries[2]);
    assert_eq!(prod["objects"], 0);

    let filtered = world
        .run("inventory", json!({"prefix": "reports/"}), Mode::PerAccount)
        .await;
    assert_eq!(ok(&filtered.entries[0])["objects"], 2);
}

#[tokio::test]
async fn replicate_copies_a_prefix_from_one_account_to_another() {
    let world = sample_world();
    let steps = json!([{"op": "put", "bucket": "dev-reports", "key": "reports/typed.json",
                        "body": "{}", "content_type": "application/json",
                        "metadata": [["owner", "finance"]]}]);
    common::step_ok(&world.script(steps).await[0]);

    let input = json!({
        "source": {"account": "dev", "bucket": "dev-reports"},
        "target": {"account": "333333333333", "bucket": "prod-archive"},
        "prefix": "reports/",
        "target_prefix": "from-dev/",
    });
    let report = world.run("replicate", input, Mode::AllAccounts).await;
    assert_eq!(report.entries.len(), 1);
    assert_eq!(report.entries[0].account_id, "*");
    let output = ok(&report.entries[0]);
    assert_eq!(output["copied"], 3);
    assert_eq!(
        output["keys"],
        json!([
            "from-dev/2024/feb.csv",
            "from-dev/2024/jan.csv",
            "from-dev/typed.json"
        ])
    );
    let prod = world.data().join("333333333333/prod-archive/from-dev");
    assert_eq!(
        std::fs::read_to_string(prod.join("2024/jan.csv")).unwrap(),
        "jan,1200\n"
    );
    assert_eq!(
        std::fs::read_to_string(prod.join("2024/feb.csv")).unwrap(),
        "feb,1350\n"
    );
    assert!(
        !world
            .data()
            .join("333333333333/prod-archive/from-dev/summary.txt")
            .exists()
    );

    // Content type and metadata travel with the bytes.
    let steps = json!([{"op": "head", "account": "prod", "bucket": "prod-archive", "key": "from-dev/typed.json"}]);
    let head = world.script(steps).await;
    let meta = common::step_ok(&head[0]);
    assert_eq!(meta["content_type"], "application/json");
    assert_eq!(meta["metadata"], json!([["owner", "finance"]]));
}

#[tokio::test]
async fn replicate_per_account_is_refused_by_the_plugin_not_the_host() {
    let world = sample_world();
    let input = json!({"source": {"account": "dev", "bucket": "dev-reports"},
                       "target": {"account": "prod", "bucket": "prod-archive"}});
    let report = world.run("replicate", input, Mode::PerAccount).await;
    // In per-account mode each instance sees one account: the other side is out of scope.
    for entry in &report.entries {
        let (kind, message) = failed(entry);
        assert_eq!(kind, "plugin-error");
        assert!(
            message.contains("not in this invocation's scope"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_missing_plugin_is_a_run_error_naming_the_available_ones() {
    let world = sample_world();
    let request = xacct::pipeline::RunRequest::new("nope", "{}", Mode::PerAccount);
    let service = world.service().await;
    let err = xacct::pipeline::run(&world.config, &common::sandbox(), service, &request, &())
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("no plugin named \"nope\""), "{message}");
    assert!(
        message.contains("hello, inventory, replicate, s3script"),
        "{message}"
    );
}

#[test]
fn cli_run_prints_one_ok_entry_per_account_and_exits_zero() {
    let world = sample_world();
    let output = world
        .xacct()
        .args(["run", "hello", "--output", "json"])
        .output();
    assert!(output.success(), "{}", output.stderr);
    let report = output.json();
    let entries = report["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    for (entry, (id, _)) in entries.iter().zip(ACCOUNTS) {
        assert_eq!(entry["account_id"], id);
        assert_eq!(entry["status"], "ok");
        assert!(entry["duration_ms"].is_u64());
    }

    let table = world.xacct().args(["run", "hello"]).output();
    let table = table.stdout;
    assert!(table.starts_with("ACCOUNT"), "{table}");
    assert!(table.contains("hello: 3 ok, 0 failed"), "{table}");
}

#[test]
fn cli_exit_codes_tell_failures_from_usage_errors() {
    let world = sample_world();
    // An account failing: exit 1.
    let replicate = world.xacct()
        .args(["run", "replicate", "--input", r#"{"source": {"account": "x", "bucket": "y"}, "target": {"account": "x", "bucket": "y"}}"#])
        .output();
    assert_eq!(replicate.status.code(), Some(1));

    // Bad input JSON, unknown plugin, broken config: exit 2 with a message.
    let bad_input = world
        .xacct()
        .args(["run", "hello", "--input", "{nope"])
        .output();
    assert_eq!(bad_input.status.code(), Some(2));
    assert!(bad_input.stderr.contains("--input is not valid JSON"));

    let unknown = world.xacct().args(["run", "nope"]).output();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(unknown.stderr.contains("no plugin named \"nope\""));

    std::fs::write(
        world.dir.path().join("bad.toml"),
        "[[account]]\nid = \"123\"\nalias = \"a\"\n",
    )
    .unwrap();
    let bad_config = world
        .xacct()
        .args(["run", "hello", "--config", "bad.toml"])
        .output();
    assert_eq!(bad_config.status.code(), Some(2));
    let stderr = &bad_config.stderr;
    assert!(stderr.contains("bad.toml:2: account[0].id"), "{stderr}");
    assert!(stderr.contains("fix:"), "{stderr}");

    let usage = world.xacct().args(["run"]).output();
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn cli_plugins_lists_each_plugin_with_its_world_check() {
    let world = World::new(&["hello", "not-a-plugin"], "");
    std::fs::write(
        world.dir.path().join("plugins/garbage.wasm"),
        "not wasm at all",
    )
    .unwrap();
    let output = world.xacct().arg("plugins").output();
    assert_eq!(output.status.code(), Some(1), "a plugin failed its check");
    let stdout = output.stdout;
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .to_owned()
    };
    assert!(line("hello").contains(" ok "), "{stdout}");
    assert!(
        line("garbage").contains("not a WebAssembly component"),
        "{stdout}"
    );
    let wrong = line("not-a-plugin");
    assert!(
        wrong.contains("not built for world xacct:plugin/plugin@0.1.1"),
        "{wrong}"
    );
    assert!(wrong.contains("wasi:cli/run"), "{wrong}");

    for subcommand in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["plugins", "--help"],
    ] {
        let help = world.xacct().args(&subcommand).output();
        assert!(help.success());
        assert!(help.stdout.contains("Usage"));
    }
}

/// The samples that list buckets, in each language: the Rust ones declare their grant at
/// build time (`declare_grant!`), the Python and JavaScript ones get theirs written in
/// after the build (`grant.toml` beside the sources, `xacct plugin annotate` in
/// `scripts/build-other-languages`).
#[test]
fn every_languages_samples_declare_their_grant_and_xacct_plugins_shows_it() {
    const GRANT: &str = "accounts = [\"*\"]\ns3 = [{ buckets = \"*\", actions = [\"list\"] }]\n";
    const LISTED: [&str; 3] = ["hello", "hello-py", "hello-js"];
    const SUGGESTED: [&str; 2] = ["inventory", "inventory-py"];
    let world = |plugins: &[&str]| {
        let config = plugins
            .iter()
            .fold(ConfigBuilder::local("data"), |config, plugin| {
                config.grant(plugin, GRANT)
            })
            // `xacct plugins` compiles what it lists; what is tested here is the
            // declaration, not how fast a loaded machine compiles two large components.
            .top_level("compile_timeout_secs", 600);
        World::local_with(plugins, config)
    };
    let listed = world(&LISTED).xacct().arg("plugins").output();
    for plugin in LISTED {
        // Its line, and the indented lines under it.
        let mut lines = listed
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with(&format!("{plugin} ")));
        let first = lines.next().unwrap_or_default();
        let shown = std::iter::once(first)
            .chain(lines.take_while(|l| l.starts_with("    ")))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            shown.contains(" ok "),
            "{plugin}: {}{}",
            listed.stdout,
            listed.stderr
        );
        assert!(
            shown.contains("declared: accounts *; s3 *: list"),
            "{plugin} declares no grant: {shown}"
        );
        assert!(!shown.contains("wider than declared"), "{shown}");
    }
    // The others, without compiling them: the section the declaration suggests.
    let world = world(&SUGGESTED);
    for plugin in SUGGESTED {
        let suggested = world.xacct().args(["grant", "suggest", plugin]).output();
        assert!(suggested.success(), "{plugin}: {}", suggested.stderr);
        assert!(
            suggested.stdout.contains(&format!("[plugin.{plugin}]"))
                && suggested.stdout.contains("actions = [\"list\"]"),
            "{plugin}: {}",
            suggested.stdout
        );
    }
}

/// The Rust samples of bucket work declare the grant their README sections give them;
/// `xacct grant suggest` prints it (without compiling them) for the operator to review.
#[test]
fn the_bucket_samples_declare_the_grant_their_readme_gives() {
    let world = World::local_with(&["posture", "purge-versions"], ConfigBuilder::local("data"));
    for (plugin, actions) in [
        (
            "posture",
            r#"actions = ["list", "config-read", "config-write"]"#,
        ),
        (
            "purge-versions",
            r#"actions = ["write", "versions", "delete-versions"]"#,
        ),
    ] {
        let suggested = world.xacct().args(["grant", "suggest", plugin]).output();
        assert!(suggested.success(), "{plugin}: {}", suggested.stderr);
        assert!(
            suggested.stdout.contains(&format!("[plugin.{plugin}]"))
                && suggested.stdout.contains(actions),
            "{plugin}: {}",
            suggested.stdout
        );
    }
}
