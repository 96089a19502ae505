//! The commands the page offers to copy, quoted for a POSIX shell: the plugin's name and
//! the report's path come from files the operator did not write, and a pasted command
//! must run as exactly one command with exactly those words.

/// `xacct run PLUGIN [--all-accounts] [--dry-run] --rerun-failed REPORT`; a plugin whose
/// name starts with `-` comes last, after `--`, so that it is not read as an option
/// (`-h` would print the help, `--config=…` change the config); so does a report path.
pub fn rerun_failed_command(
    plugin: &str,
    all_accounts: bool,
    dry_run: bool,
    report: &str,
) -> String {
    let optional = plugin.starts_with('-');
    let mut command = String::from("xacct run");
    if !optional {
        command.push(' ');
        command.push_str(&word(plugin));
    }
    if all_accounts {
        command.push_str(" --all-accounts");
    }
    if dry_run {
        command.push_str(" --dry-run");
    }
    command.push_str(" --rerun-failed ");
    // A relative path that starts with `-` is the same file after `./`, and no option.
    if report.starts_with('-') {
        command.push_str(&word(&format!("./{report}")));
    } else {
        command.push_str(&word(report));
    }
    if optional {
        command.push_str(" -- ");
        command.push_str(&word(plugin));
    }
    command
}

/// `text` as one shell word: as it is when it holds only characters no shell treats
/// specially; in single quotes otherwise; as `$'…'` with `\xHH` escapes when it holds a
/// control character (bash, zsh and POSIX.1-2024 sh read it; a raw newline or escape in
/// a pasted command would be worse).
pub fn word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.to_owned();
    }
    if !text.chars().any(char::is_control) {
        return format!("'{}'", text.replace('\'', r"'\''"));
    }
    let mut quoted = String::from("$'");
    for c in text.chars() {
        match c {
            '\'' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            c if c.is_control() => {
                let mut buffer = [0; 4];
                for byte in c.encode_utf8(&mut buffer).bytes() {
                    quoted.push_str(&format!("\\x{byte:02x}"));
                }
            }
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn the_rerun_command_repeats_the_mode_and_dry_run() {
        assert_eq!(
            rerun_failed_command("inventory", false, false, "run.json"),
            "xacct run inventory --rerun-failed run.json"
        );
        assert_eq!(
            rerun_failed_command("replicate", true, true, "out/my run.json"),
            "xacct run replicate --all-accounts --dry-run --rerun-failed 'out/my run.json'"
        );
    }

    /// A name or path that starts with `-` would be read as an option (`-h` prints the
    /// help and exits 0; `--config=…` would change the config): the plugin goes after
    /// `--`, the path gets `./`.
    #[test]
    fn names_that_look_like_options_stay_operands() {
        assert_eq!(
            rerun_failed_command("-h", false, false, "run.json"),
            "xacct run --rerun-failed run.json -- -h"
        );
        assert_eq!(
            rerun_failed_command("--config=/tmp/evil.toml", true, false, "-r.json"),
            "xacct run --all-accounts --rerun-failed ./-r.json -- --config=/tmp/evil.toml"
        );
    }

    /// Whatever the name, the shell reads back exactly that one word: nothing runs.
    #[test]
    fn a_hostile_word_reaches_the_shell_as_itself() {
        for hostile in [
            "",
            "plain",
            "a b",
            "it's",
            "$(touch /tmp/pwned)",
            "`id`; rm -rf ~",
            "x'; echo owned; '",
            "line\nnext",
            "\x1b]52;c;cm0=\x07",
            "back\\slash'quote",
            "\u{9b}2J\u{202e}txt.exe",
        ] {
            let script = format!("printf '%s' {}", word(hostile));
            let output = Command::new("bash")
                .arg("-c")
                .arg(&script)
                .output()
                .unwrap();
            assert!(output.status.success(), "{script}");
            assert_eq!(
                String::from_utf8(output.stdout).unwrap(),
                hostile,
                "{script}"
            );
        }
    }
}
