//! Configs written as an operator writes them, from one builder: the tests and the
//! benchmarks say which backend, grants, limits and accounts they want, and the TOML is
//! spelled (and quoted) in one place. Configs that are wrong on purpose (the
//! `operator/configs` corpus) stay literal files.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use super::ACCOUNTS;

/// Every S3 action a grant can name.
const EVERY_ACTION: &str = r#"actions = ["list", "read", "write", "delete", "tag", "config-read", "config-write", "versions", "delete-versions"], settings = ["public-access-block", "encryption", "versioning", "tags"]"#;

/// An xacct config under construction. It renders as: the top-level keys (the plugin
/// directory `plugins` first), the backend's section, the sections added (grants, limits,
/// anything else) in the order they were added, then the `[[account]]` entries — so the
/// line numbers a test expects in an error stay where it counted them.
#[derive(Clone, Debug)]
pub struct ConfigBuilder {
    top_level: Vec<(String, toml::Value)>,
    /// The backend's section header (`local` or `aws`) and its keys.
    backend: Option<(&'static str, Vec<(String, toml::Value)>)>,
    sections: Vec<String>,
    accounts: Vec<Account>,
}

#[derive(Clone, Debug)]
struct Account {
    id: String,
    alias: String,
    role: Option<String>,
    tags: Vec<(String, String)>,
    /// Other keys of the entry (`session_duration`, `external_id`, `region`).
    keys: Vec<(String, toml::Value)>,
}

impl Default for ConfigBuilder {
    /// A config naming the plugin directory (`plugins`, where a [`super::World`] puts its
    /// guests) and nothing else.
    fn default() -> Self {
        ConfigBuilder {
            top_level: vec![("plugins".into(), "plugins".into())],
            backend: None,
            sections: Vec::new(),
            accounts: Vec::new(),
        }
    }
}

impl ConfigBuilder {
    /// The local backend, its data under `root` (relative to the config's directory).
    pub fn local(root: &str) -> Self {
        ConfigBuilder {
            backend: Some(("local", vec![("root".into(), root.into())])),
            ..ConfigBuilder::default()
        }
    }

    /// The AWS backend in `us-east-1`, every AWS endpoint at `endpoint` (moto's).
    pub fn aws(endpoint: &str) -> Self {
        ConfigBuilder {
            backend: Some((
                "aws",
                vec![
                    ("region".into(), "us-east-1".into()),
                    ("endpoint_url".into(), endpoint.into()),
                ],
            )),
            ..ConfigBuilder::default()
        }
    }

    /// A top-level key, e.g. `concurrency`.
    pub fn top_level(mut self, key: &str, value: impl Into<toml::Value>) -> Self {
        self.top_level.push((key.into(), value.into()));
        self
    }

    /// A key of the backend's section (`[local]` or `[aws]`), replacing its value if the
    /// section has it already.
    pub fn backend(mut self, key: &str, value: impl Into<toml::Value>) -> Self {
        let (_, keys) = self.backend.as_mut().expect("a backend to configure");
        keys.retain(|(name, _)| name != key);
        keys.push((key.into(), value.into()));
        self
    }

    /// The backend's section without `key` (e.g. no `region`, to take it from the
    /// environment).
    pub fn without_backend(mut self, key: &str) -> Self {
        let (_, keys) = self.backend.as_mut().expect("a backend to configure");
        keys.retain(|(name, _)| name != key);
        self
    }

    /// `[plugin.NAME]` with `body`, the grant's TOML lines (`accounts = …`, `s3 = …`).
    pub fn grant(self, plugin: &str, body: &str) -> Self {
        self.section(&format!("[plugin.{plugin}]\n{body}"))
    }

    /// Grants of every action on every bucket of every account, one per plugin.
    pub fn full_grants(self, plugins: &[&str]) -> Self {
        plugins.iter().fold(self, |config, plugin| {
            config.grant(
                plugin,
                &format!("accounts = [\"*\"]\ns3 = [{{ buckets = \"*\", {EVERY_ACTION} }}]\n"),
            )
        })
    }

    /// `[limits]` with `body`, its TOML lines.
    pub fn limits(self, body: &str) -> Self {
        self.section(&format!("[limits]\n{body}"))
    }

    /// TOML text taken as it is: one or more tables (grants, limits, `[organization]`).
    pub fn section(mut self, text: &str) -> Self {
        if !text.is_empty() {
            let mut text = text.to_owned();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            self.sections.push(text);
        }
        self
    }

    /// An `[[account]]` entry.
    pub fn account(mut self, id: impl Display, alias: impl Display) -> Self {
        self.accounts.push(Account {
            id: id.to_string(),
            alias: alias.to_string(),
            role: None,
            tags: Vec::new(),
            keys: Vec::new(),
        });
        self
    }

    /// An `[[account]]` entry for each (id, alias).
    pub fn accounts(
        self,
        accounts: impl IntoIterator<Item = (impl Display, impl Display)>,
    ) -> Self {
        accounts
            .into_iter()
            .fold(self, |config, (id, alias)| config.account(id, alias))
    }

    /// The three accounts of every scratch world, [`ACCOUNTS`].
    pub fn standard_accounts(self) -> Self {
        self.accounts(ACCOUNTS)
    }

    /// The role the last account's sessions assume.
    pub fn role(mut self, role: &str) -> Self {
        self.last_account().role = Some(role.into());
        self
    }

    /// The same role for every account so far.
    pub fn role_everywhere(mut self, role: &str) -> Self {
        for account in &mut self.accounts {
            account.role = Some(role.into());
        }
        self
    }

    /// A key of every account entry so far (e.g. `session_duration`).
    pub fn key_everywhere(mut self, key: &str, value: impl Into<toml::Value>) -> Self {
        let value = value.into();
        for account in &mut self.accounts {
            account.keys.push((key.into(), value.clone()));
        }
        self
    }

    /// The last account's tags.
    pub fn tags(mut self, tags: &[(&str, &str)]) -> Self {
        self.last_account().tags = tags
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        self
    }

    fn last_account(&mut self) -> &mut Account {
        self.accounts.last_mut().expect("an account to describe")
    }

    /// The config's text.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for (key, value) in &self.top_level {
            text.push_str(&format!("{key} = {value}\n"));
        }
        if let Some((name, keys)) = &self.backend {
            text.push_str(&format!("[{name}]\n"));
            for (key, value) in keys {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        for section in &self.sections {
            text.push_str(section);
        }
        for account in &self.accounts {
            text.push_str(&format!(
                "\n[[account]]\nid = {}\nalias = {}\n",
                toml::Value::from(account.id.as_str()),
                toml::Value::from(account.alias.as_str())
            ));
            if let Some(role) = &account.role {
                text.push_str(&format!("role = {}\n", toml::Value::from(role.as_str())));
            }
            for (key, value) in &account.keys {
                text.push_str(&format!("{key} = {value}\n"));
            }
            if !account.tags.is_empty() {
                let tags: toml::Table = account
                    .tags
                    .iter()
                    .map(|(key, value)| (key.clone(), value.as_str().into()))
                    .collect();
                text.push_str(&format!("tags = {}\n", toml::Value::Table(tags)));
            }
        }
        text
    }

    /// Writes the config to `dir/xacct.toml` (where `xacct` looks without `--config`),
    /// returning that path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join("xacct.toml");
        std::fs::write(&path, self.render()).unwrap();
        path
    }
}
