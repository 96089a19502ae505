//! The grant a plugin's author declares, carried in the plugin's `xacct-grant` section.
//!
//! The section holds UTF-8 TOML in the shape of a `[plugin.NAME]` section, plus the
//! format's version and, optionally, the mode the plugin is written for:
//!
//! ```toml
//! format = 1                     # required; a host refuses a format it does not know
//! mode = "per-account"           # optional: "per-account" or "all-accounts" (--all-accounts)
//! accounts = ["*"]               # what the plugin expects: "*", ids, aliases, "tag:key=value"
//! s3 = [
//!   { buckets = "reports-*", prefix = "2024/", actions = ["list", "read"] },
//! ]
//! ```
//!
//! Unknown keys are errors, as in the config: a declaration that says something this host
//! cannot read must not pass for one that says less.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::grant::{AccountSelector, Action, GrantSpec, S3RuleSpec};
use crate::layout::Place;

/// The declaration format this crate reads and writes.
pub const FORMAT: i64 = 1;

/// How a plugin's invocations cover its accounts: the mode a run uses, and the one a
/// plugin is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One instance per account, each seeing exactly that account, run in parallel
    /// (`xacct run`).
    PerAccount,
    /// One instance that sees every planned account, for cross-account logic (`xacct run
    /// --all-accounts`).
    AllAccounts,
}

impl Mode {
    /// The mode as reports, plans, `--rerun-failed` and declarations name it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::PerAccount => "per-account",
            Mode::AllAccounts => "all-accounts",
        }
    }
}

/// What the author asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub mode: Option<Mode>,
    pub grant: GrantSpec,
}

/// A declared grant as found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub declaration: Declaration,
    pub place: Place,
    /// A build-time declaration was there too, and this one replaces it.
    pub replaces_built: bool,
}

/// Why a declaration cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclarationError {
    #[error("the declared grant is not UTF-8 text")]
    NotUtf8,
    #[error("the declared grant is not TOML: {0}")]
    Syntax(String),
    #[error("the declared grant has no `format = {FORMAT}` line")]
    MissingFormat,
    #[error(
        "the declared grant is in format {found}; this xacct reads format {FORMAT} (a newer xacct wrote it?)"
    )]
    UnsupportedFormat { found: String },
    #[error("the declared grant's {key}: {problem}")]
    Invalid { key: String, problem: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeclaration {
    mode: Option<String>,
    accounts: Vec<String>,
    #[serde(default)]
    s3: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    buckets: String,
    #[serde(default)]
    prefix: String,
    actions: Vec<String>,
    /// What `config-write` may change (names as the host's config takes them, which it
    /// checks when the operator's grant is read).
    #[serde(default)]
    settings: Vec<String>,
}

impl Declaration {
    /// Parses a declaration's text (the section's bytes).
    pub fn parse(bytes: &[u8]) -> Result<Declaration, DeclarationError> {
        let text = std::str::from_utf8(bytes).map_err(|_| DeclarationError::NotUtf8)?;
        let mut table: toml::Table =
            toml::from_str(text).map_err(|err| DeclarationError::Syntax(err.to_string()))?;
        // The version first: a later format may hold keys this one refuses.
        match table.remove("format") {
            None => return Err(DeclarationError::MissingFormat),
            Some(toml::Value::Integer(FORMAT)) => {}
            Some(other) => {
                return Err(DeclarationError::UnsupportedFormat {
                    found: other.to_string(),
                });
            }
        }
        let raw: RawDeclaration = table
            .try_into()
            .map_err(|err: toml::de::Error| DeclarationError::Syntax(err.to_string()))?;
        let invalid = |key: String, problem: String| DeclarationError::Invalid { key, problem };
        let mode = match raw.mode.as_deref() {
            None => None,
            Some("per-account") => Some(Mode::PerAccount),
            Some("all-accounts") => Some(Mode::AllAccounts),
            Some(other) => {
                return Err(invalid(
                    "mode".into(),
                    format!("{other:?} is not \"per-account\" or \"all-accounts\""),
                ));
            }
        };
        let accounts = raw
            .accounts
            .iter()
            .map(|text| AccountSelector::parse(text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|problem| invalid("accounts".into(), problem))?;
        let mut s3 = Vec::with_capacity(raw.s3.len());
        for (index, rule) in raw.s3.into_iter().enumerate() {
            let mut actions = BTreeSet::new();
            for action in &rule.actions {
                actions.insert(Action::parse(action).ok_or_else(|| {
                    invalid(
                        format!("s3[{index}].actions"),
                        format!("{action:?} is not list, read, write, delete, tag, config-read, config-write, versions or delete-versions"),
                    )
                })?);
            }
            let mut spec = S3RuleSpec::new(&rule.buckets, &rule.prefix, actions)
                .map_err(|problem| invalid(format!("s3[{index}]"), problem))?;
            spec.settings = rule.settings.into_iter().collect();
            s3.push(spec);
        }
        Ok(Declaration {
            mode,
            grant: GrantSpec { accounts, s3 },
        })
    }

    /// The declaration as the text of its section, in the canonical layout.
    pub fn to_text(&self) -> String {
        let mut text = format!("format = {FORMAT}\n");
        if let Some(mode) = self.mode {
            text.push_str(&format!("mode = {}\n", quote(mode.name())));
        }
        text.push_str(&grant_lines(&self.grant));
        text
    }

    /// The `[plugin.NAME]` section that grants exactly what is declared, for the operator
    /// to review (`xacct grant suggest`). Every value is re-quoted here: the declaration is
    /// the plugin author's text, and must not smuggle lines into the operator's config.
    pub fn suggest(&self, plugin: &str) -> String {
        let mut text = format!(
            "# What plugin {plugin} declares it needs (xacct-grant format {FORMAT}): review it, narrow the accounts, then grant it.\n"
        );
        if self.mode == Some(Mode::AllAccounts) {
            text.push_str(
                "# It is written to run once over all accounts: xacct run --all-accounts\n",
            );
        }
        text.push_str(&format!("[plugin.{}]\n", table_key(plugin)));
        text.push_str(&grant_lines(&self.grant));
        text
    }
}

/// `accounts = [...]` and `s3 = [...]` lines.
fn grant_lines(grant: &GrantSpec) -> String {
    let accounts: Vec<String> = grant
        .accounts
        .iter()
        .map(|selector| quote(&selector.to_string()))
        .collect();
    let mut text = format!("accounts = [{}]\n", accounts.join(", "));
    if grant.s3.is_empty() {
        return text;
    }
    text.push_str("s3 = [\n");
    for rule in &grant.s3 {
        let prefix = if rule.prefix.is_empty() {
            String::new()
        } else {
            format!("prefix = {}, ", quote(&rule.prefix))
        };
        let actions: Vec<String> = rule.actions.iter().map(|a| quote(a.name())).collect();
        let settings = if rule.settings.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = rule.settings.iter().map(|s| quote(s)).collect();
            format!(", settings = [{}]", names.join(", "))
        };
        text.push_str(&format!(
            "  {{ buckets = {}, {prefix}actions = [{}]{settings} }},\n",
            quote(&rule.buckets),
            actions.join(", ")
        ));
    }
    text.push_str("]\n");
    text
}

/// A one-line TOML basic string holding exactly `text`, control characters escaped (so
/// that printing it cannot drive a terminal either).
fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A table key: bare when it can be, quoted otherwise.
fn table_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if bare { name.to_owned() } else { quote(name) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declaration_reads_and_writes_its_canonical_text() {
        let text = r#"
# What the inventory plugin needs.
format = 1
mode = "per-account"
accounts = ["*", "tag:env=prod"]
s3 = [
  { buckets = "reports-*", prefix = "2024/", actions = ["read", "list", "read"] },
  { buckets = "scratch", actions = ["write"] },
]
"#;
        let declaration = Declaration::parse(text.as_bytes()).unwrap();
        assert_eq!(declaration.mode, Some(Mode::PerAccount));
        assert_eq!(declaration.grant.s3[0].actions.len(), 2);
        assert_eq!(
            declaration.to_text(),
            "format = 1\nmode = \"per-account\"\naccounts = [\"*\", \"tag:env=prod\"]\ns3 = [\n  { buckets = \"reports-*\", prefix = \"2024/\", actions = [\"list\", \"read\"] },\n  { buckets = \"scratch\", actions = [\"write\"] },\n]\n"
        );
        assert_eq!(
            Declaration::parse(declaration.to_text().as_bytes()).unwrap(),
            declaration
        );
    }

    #[test]
    fn a_suggestion_is_a_config_section_that_cannot_smuggle_lines() {
        let hostile = "format = 1\nmode = \"all-accounts\"\naccounts = [\"a\\n[plugin.other]\\naccounts = [\\\"*\\\"]\"]\ns3 = [{ buckets = \"b\", prefix = \"x\\u001b[2J\\\"\", actions = [\"read\"] }]\n";
        let declaration = Declaration::parse(hostile.as_bytes()).unwrap();
        let suggestion = declaration.suggest("inventory");
        assert!(suggestion.contains("xacct run --all-accounts"));
        let section: toml::Table = toml::from_str(&suggestion).unwrap();
        let plugins = section["plugin"].as_table().unwrap();
        assert_eq!(plugins.keys().collect::<Vec<_>>(), ["inventory"]);
        let grant = &plugins["inventory"];
        assert_eq!(
            grant["accounts"][0].as_str(),
            Some("a\n[plugin.other]\naccounts = [\"*\"]")
        );
        assert_eq!(grant["s3"][0]["prefix"].as_str(), Some("x\u{1b}[2J\""));
        assert!(!suggestion.contains('\u{1b}'));
        assert_eq!(suggestion.lines().filter(|l| l.starts_with('[')).count(), 1);
    }
}
