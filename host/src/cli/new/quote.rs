//! Values written into the files `xacct new` creates, each quoted for the file's syntax so
//! that it means exactly the text given: a path holding `'`, `"`, `\`, `$(…)` or a space
//! is one shell word in a script and one string in TOML, never code or a broken manifest.

/// How a template's file reads its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Syntax {
    /// A bash script: every `{{key}}` becomes one shell word.
    Shell,
    /// TOML: `"{{key}}"` becomes a string, a bare `{{key}}` (a table name, a comment) a key.
    Toml,
    /// JSON: `"{{key}}"` becomes a string.
    Json,
    /// Prose and source comments: the value as it is (only checked names go there).
    Text,
}

impl Syntax {
    /// `template` with each `{{key}}` of `values` written as this syntax quotes it.
    pub(super) fn fill(self, template: &str, values: &[(&str, &str)]) -> String {
        let mut text = template.to_owned();
        for (key, value) in values {
            let placeholder = format!("{{{{{key}}}}}");
            let quoted_placeholder = format!("\"{placeholder}\"");
            text = match self {
                Syntax::Shell => text.replace(&placeholder, &shell_word(value)),
                Syntax::Toml => text
                    .replace(&quoted_placeholder, &toml_string(value))
                    .replace(&placeholder, &toml_key(value)),
                Syntax::Json => text
                    .replace(&quoted_placeholder, &json_string(value))
                    .replace(&placeholder, value),
                Syntax::Text => text.replace(&placeholder, value),
            };
        }
        text
    }
}

/// `text` as one shell word: bare when it holds only characters no shell treats specially,
/// else in single quotes, each `'` written as `'\''` (close, escaped quote, reopen).
pub(super) fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-+=:,./@%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `text` as a TOML basic string, escaped by the `toml` crate.
pub(super) fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// `text` as a TOML key, as the `toml` crate writes it in a table: bare when TOML allows
/// it (letters, digits, `-`, `_`), else a quoted key (never a multi-line string, which a
/// key cannot be).
pub(super) fn toml_key(text: &str) -> String {
    let mut table = toml::Table::new();
    table.insert(text.to_owned(), toml::Value::Boolean(true));
    let line = toml::to_string(&table).unwrap_or_default();
    line.trim_end()
        .strip_suffix(" = true")
        .unwrap_or_default()
        .to_owned()
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// What bash makes of `word` as the value of an assignment and as an argument.
    fn bash_reads(word: &str, dir: &std::path::Path) -> (String, String) {
        let output = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "v=${{UNSET_XACCT_TEST:-{word}}}; printf '%s\\0' \"$v\" {word}"
            ))
            .current_dir(dir)
            .env_remove("UNSET_XACCT_TEST")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        let mut parts = text.split('\0');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    }

    #[test]
    fn a_shell_word_means_its_text_and_runs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        for text in [
            "/usr/local/bin/xacct",
            "o'neil's $(touch pwned) bin",
            "''",
            "a b\tc\nd",
            "`touch pwned` ; touch pwned && $HOME * ? [x] ~ !x #",
            "\\\"",
            "é ☃",
        ] {
            let word = shell_word(text);
            assert_eq!(
                bash_reads(&word, dir.path()),
                (text.to_owned(), text.to_owned()),
                "{word}"
            );
        }
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
        assert_eq!(
            shell_word("plugins/my-plugin.wasm"),
            "plugins/my-plugin.wasm"
        );
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn toml_values_and_keys_read_back_as_their_text() {
        for text in [r#"sdk "quoted" \ $(touch pwned)"#, "a\nb", "my-plugin", "é"] {
            let document = format!("[t.{}]\nv = {}\n", toml_key(text), toml_string(text));
            let table: toml::Table = toml::from_str(&document).unwrap();
            assert_eq!(table["t"][text]["v"].as_str(), Some(text), "{document}");
        }
        assert_eq!(toml_key("my-plugin"), "my-plugin");
    }

    #[test]
    fn each_syntax_quotes_its_placeholders() {
        let values = [("name", "my-plugin"), ("path", "/a b/\"c\"")];
        let toml = Syntax::Toml.fill("[x.{{name}}]\np = \"{{path}}\"\n", &values);
        let table: toml::Table = toml::from_str(&toml).unwrap();
        assert_eq!(
            table["x"]["my-plugin"]["p"].as_str(),
            Some("/a b/\"c\""),
            "{toml}"
        );
        assert_eq!(
            Syntax::Shell.fill("x=${X:-{{path}}}", &values),
            "x=${X:-'/a b/\"c\"'}"
        );
        assert_eq!(
            Syntax::Json.fill(r#"{"n": "{{name}}", "p": "{{path}}"}"#, &values),
            r#"{"n": "my-plugin", "p": "/a b/\"c\""}"#
        );
        assert_eq!(Syntax::Text.fill("# {{name}}", &values), "# my-plugin");
    }
}
