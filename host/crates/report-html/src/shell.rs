//! The commands the page offers to copy, quoted for a POSIX shell: the plugin's name and
//! the report's path come from files the operator did not write, and a pasted command
//! must run as exactly one command with exactly those words.

/// `xacct run PLUGIN [--all-accounts] [--dry-run] --rerun-failed REPORT`.
pub fn rerun_failed_command(
    plugin: &str,
    all_accounts: bool,
    dry_run: bool,
    report: &str,
) -> String {
    let mut command = format!("xacct run {}", word(plugin));
    if all_accounts {
        command.push_str(" --all-accounts");
    }
    if dry_run {
        command.push_str(" --dry-run");
    }
    command.push_str(" --rerun-failed ");
    command.push_str(&word(report));
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
