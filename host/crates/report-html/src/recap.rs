//! The failure recap: failed and skipped entries grouped by error kind and by the shape of
//! their message, so that 4,000 accounts failing the same way read as one line.
//!
//! Messages differ between accounts in their particulars (account ids, bucket names,
//! request ids, byte counts); [`normalise`] replaces those with placeholders so that the
//! same failure groups together. Failures AWS caused by refusing a call (the entry's
//! `error.denied_by_aws`) group by the refused action and resource instead: the operator
//! fixes those in IAM, not in the plugin.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

/// Characters of a message looked at when grouping: enough to tell failures apart, and a
/// bound on the work a hostile megabyte-long message costs.
const MESSAGE_CHARS: usize = 2048;

/// Characters of a quoted value still taken as one value (a longer "quote" is more likely
/// an unbalanced quote character than a value).
const QUOTED_CHARS: usize = 256;

/// One group of failures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureGroup {
    /// The error kind (`plugin-error`, `time-limit`, … or `skipped`).
    pub kind: String,
    /// The message the group's entries share: exactly, when they all have the same one;
    /// else with its particulars replaced by placeholders (see [`normalise`]).
    pub pattern: String,
    /// For failures caused by an AWS denial: the refused action and the resource, exactly
    /// or as its bucket's pattern (see [`resource_pattern`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_by_aws: Option<AwsDenial>,
    /// Indices of the group's entries in the report, in report order.
    pub entries: Vec<usize>,
}

/// A call AWS refused, as the entry's `error.denied_by_aws` names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct AwsDenial {
    pub action: String,
    pub resource: String,
}

/// The report's entries that did not succeed (status other than `ok`), grouped: largest
/// group first, then by kind and pattern. Entries without an error object group under
/// the kind `unknown`.
pub fn failure_groups(entries: &[Value]) -> Vec<FailureGroup> {
    let mut groups: Vec<FailureGroup> = Vec::new();
    // Per group: what its entries say exactly, while they all say the same.
    let mut exact: Vec<Option<(String, Option<AwsDenial>)>> = Vec::new();
    let mut index_of: HashMap<(String, String, Option<AwsDenial>), usize> = HashMap::new();
    for (position, entry) in entries.iter().enumerate() {
        if entry["status"] == "ok" {
            continue;
        }
        let error = &entry["error"];
        let kind = error["kind"].as_str().unwrap_or("unknown").to_owned();
        let denial = aws_denial(&error["denied_by_aws"]);
        // A denial groups by what was refused; its message only repeats it.
        let message = match &denial {
            Some(_) => String::new(),
            // A hand-written report's error may be its message alone.
            None => head(
                error
                    .as_str()
                    .or_else(|| error["message"].as_str())
                    .unwrap_or_default(),
            ),
        };
        let key = (
            kind,
            normalise(&message),
            denial.as_ref().map(|d| AwsDenial {
                action: normalise(&d.action),
                resource: resource_pattern(&d.resource),
            }),
        );
        let group = *index_of.entry(key.clone()).or_insert_with(|| {
            groups.push(FailureGroup {
                kind: key.0,
                pattern: key.1,
                denied_by_aws: key.2,
                entries: Vec::new(),
            });
            exact.push(Some((message.clone(), denial.clone())));
            groups.len() - 1
        });
        groups[group].entries.push(position);
        if exact[group].as_ref() != Some(&(message, denial)) {
            exact[group] = None;
        }
    }
    for (group, exact) in groups.iter_mut().zip(exact) {
        if let Some((message, denial)) = exact {
            group.pattern = message;
            group.denied_by_aws = denial;
        }
    }
    groups.sort_by(|a, b| {
        b.entries
            .len()
            .cmp(&a.entries.len())
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.pattern.cmp(&b.pattern))
    });
    groups
}

/// The first [`MESSAGE_CHARS`] characters of `text`: all of it a group shows or reads.
fn head(text: &str) -> String {
    text.chars().take(MESSAGE_CHARS).collect()
}

fn aws_denial(value: &Value) -> Option<AwsDenial> {
    let denial = value.as_object()?;
    let field = |name: &str| head(denial.get(name).and_then(Value::as_str).unwrap_or("?"));
    Some(AwsDenial {
        action: field("action"),
        resource: field("resource"),
    })
}

/// A refused resource as its group names it: the bucket's ARN normalised, and `/…` for
/// any object in it. The IAM statement to fix names the bucket (and a prefix), while the
/// objects refused differ from account to account in ways no pattern foresees (`key11`,
/// `part3`): grouped by key, each account would be a group of its own.
fn resource_pattern(resource: &str) -> String {
    match resource.split_once('/') {
        Some((bucket, _)) => format!("{}/…", normalise(bucket)),
        None => normalise(resource),
    }
}

/// `message` with what varies between accounts replaced, so that one failure met in many
/// accounts reads the same in each:
///
/// - a quoted value (`"…"`, `'…'`, `` `…` ``, `“…”`) becomes `"…"` in its own quotes;
/// - a number (`42`, `1.5`, `123456789012`) becomes `#`;
/// - a hexadecimal word of 8 characters or more with a digit (request ids, UUIDs,
///   digests) becomes `<id>`;
/// - otherwise each `-`/`_`-separated part of a word: digits become `#`
///   (`prod-logs-123456789012` → `prod-logs-#`, `us-east-1` → `us-east-#`), and a part
///   holding a digit that is 8 characters or more, or hexadecimal of 4 or more, becomes
///   `<id>` (`i-0abc1234ef` → `i-<id>`).
///
/// Words without digits are kept, and so is the punctuation between words. Only the
/// first [`MESSAGE_CHARS`] characters count.
pub fn normalise(message: &str) -> String {
    let chars: Vec<char> = message.chars().take(MESSAGE_CHARS).collect();
    let mut out = String::with_capacity(chars.len());
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        if let Some(close) = closing_quote(c, chars.get(at.wrapping_sub(1)).copied()) {
            let end = chars[at + 1..]
                .iter()
                .take(QUOTED_CHARS)
                .position(|&d| d == close);
            if let Some(length) = end {
                out.push(c);
                out.push('…');
                out.push(close);
                at += length + 2;
                continue;
            }
        }
        if is_word(c) {
            let start = at;
            while at < chars.len() && is_word(chars[at]) {
                at += 1;
            }
            // A decimal number is one number: `1.5`, not `#.#`.
            while at + 1 < chars.len()
                && chars[at] == '.'
                && chars[at + 1].is_ascii_digit()
                && chars[start..at].iter().all(char::is_ascii_digit)
            {
                at += 1;
                while at < chars.len() && chars[at].is_ascii_digit() {
                    at += 1;
                }
            }
            out.push_str(&word_pattern(&chars[start..at]));
            continue;
        }
        out.push(c);
        at += 1;
    }
    out
}

/// The quote that closes `c` when `c` opens a quoted value. An apostrophe inside a word
/// (`can't`) opens nothing.
fn closing_quote(c: char, before: Option<char>) -> Option<char> {
    match c {
        '"' => Some('"'),
        '`' => Some('`'),
        '“' => Some('”'),
        '\'' if !before.is_some_and(char::is_alphanumeric) => Some('\''),
        _ => None,
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_'
}

fn word_pattern(word: &[char]) -> String {
    let has_digit = |part: &[char]| part.iter().any(char::is_ascii_digit);
    if !has_digit(word) {
        return word.iter().collect();
    }
    if word.iter().all(|c| c.is_ascii_digit() || *c == '.') {
        return "#".to_owned();
    }
    // Request ids and UUIDs are hexadecimal throughout, dashes and all.
    if word.len() >= 8 && word.iter().all(|c| c.is_ascii_hexdigit() || *c == '-') {
        return "<id>".to_owned();
    }
    // Otherwise part by part, so that `prod-logs-123456789012` keeps its prefix.
    let mut pattern = String::new();
    for part in word.split_inclusive(|c| *c == '-' || *c == '_') {
        let (body, separator) = match part.split_last() {
            Some((last, body)) if *last == '-' || *last == '_' => (body, Some(*last)),
            _ => (part, None),
        };
        let hex = body.iter().all(char::is_ascii_hexdigit);
        if !body.is_empty() && body.iter().all(char::is_ascii_digit) {
            pattern.push('#');
        } else if has_digit(body) && (body.len() >= 8 || (hex && body.len() >= 4)) {
            pattern.push_str("<id>");
        } else {
            pattern.extend(body);
        }
        pattern.extend(separator);
    }
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_ids_hex_and_quoted_values_become_placeholders() {
        for (message, pattern) in [
            ("time limit of 2 s exceeded", "time limit of # s exceeded"),
            ("time limit of 1.5 s exceeded", "time limit of # s exceeded"),
            (
                "output of 1048577 bytes exceeds the limit of 1048576 bytes",
                "output of # bytes exceeds the limit of # bytes",
            ),
            (
                "AssumeRole into arn:aws:iam::123456789012:role/xacct: STS AccessDenied (HTTP 403) [request id 4f1c2b3a-9d8e-4f00-a1b2-c3d4e5f60718]",
                "AssumeRole into arn:aws:iam::#:role/xacct: STS AccessDenied (HTTP #) [request id <id>]",
            ),
            (
                "bucket \"prod-logs-7\" not found in us-east-1",
                "bucket \"…\" not found in us-east-#",
            ),
            ("key 'a/b/c.txt' and `x`", "key '…' and `…`"),
            ("“curly” quotes", "“…” quotes"),
            ("instance i-0abc1234ef is gone", "instance i-<id> is gone"),
            ("hash deadbeef00", "hash <id>"),
            ("block a456 and s3 and ec2", "block <id> and s3 and ec2"),
        ] {
            assert_eq!(normalise(message), pattern, "{message}");
        }
    }

    #[test]
    fn words_apostrophes_and_unbalanced_quotes_are_kept() {
        assert_eq!(normalise("can't read the bucket"), "can't read the bucket");
        assert_eq!(normalise("a \"dangling quote"), "a \"dangling quote");
        assert_eq!(normalise(""), "");
        assert_eq!(normalise("<script>"), "<script>");
    }

    #[test]
    fn only_the_head_of_a_huge_message_is_read() {
        let huge = "x".repeat(10 * MESSAGE_CHARS);
        assert_eq!(normalise(&huge).chars().count(), MESSAGE_CHARS);
    }

    fn failed(kind: &str, message: &str) -> Value {
        json!({"status": "error", "error": {"kind": kind, "message": message}})
    }

    #[test]
    fn failures_group_by_kind_and_shape_largest_first() {
        let entries = vec![
            json!({"status": "ok"}),
            failed("time-limit", "time limit of 2 s exceeded"),
            failed("plugin-error", "bucket \"a-1\" not found"),
            failed("plugin-error", "bucket \"b-2\" not found"),
            failed("time-limit", "time limit of 2 s exceeded"),
            failed("plugin-error", "bucket \"c\" not found"),
            json!({"status": "skipped", "error": {"kind": "skipped", "message": "cancelled"}}),
            json!({"status": "error"}),
        ];
        let groups = failure_groups(&entries);
        let summary: Vec<(&str, &str, &[usize])> = groups
            .iter()
            .map(|g| (g.kind.as_str(), g.pattern.as_str(), g.entries.as_slice()))
            .collect();
        assert_eq!(
            summary,
            [
                ("plugin-error", "bucket \"…\" not found", &[2, 3, 5][..]),
                // The same message in every entry of the group: shown as it is.
                ("time-limit", "time limit of 2 s exceeded", &[1, 4][..]),
                ("skipped", "cancelled", &[6][..]),
                ("unknown", "", &[7][..]),
            ]
        );
    }

    #[test]
    fn aws_denials_group_by_action_and_resource() {
        let denied = |account: &str, action: &str, key: &str| {
            json!({"status": "error", "error": {
                "kind": "plugin-error",
                "message": format!("{account}: access denied"),
                "denied_by_aws": {
                    "action": action,
                    "resource": format!("arn:aws:s3:::logs-{account}/{key}"),
                },
            }})
        };
        let entries = vec![
            // The objects refused differ beyond what a pattern sees: one group still.
            denied("111111111111", "s3:GetObject", "key11"),
            denied("222222222222", "s3:GetObject", "part3/x"),
            denied("333333333333", "s3:PutObject", "x"),
            failed("plugin-error", "111111111111: access denied"),
            failed("plugin-error", "222222222222: access denied"),
        ];
        let groups = failure_groups(&entries);
        assert_eq!(groups.len(), 3);
        assert_eq!(
            groups[0].denied_by_aws,
            Some(AwsDenial {
                action: "s3:GetObject".into(),
                resource: "arn:aws:s3:::logs-#/…".into(),
            })
        );
        assert_eq!(groups[0].entries, [0, 1]);
        assert_eq!(groups[0].pattern, "");
        let plain = groups.iter().find(|g| g.denied_by_aws.is_none()).unwrap();
        assert_eq!(plain.pattern, "#: access denied");
        assert_eq!(plain.entries, [3, 4]);
        // One account's denial: its resource exactly, not a pattern.
        let alone = groups.iter().find(|g| g.entries == [2]).unwrap();
        assert_eq!(
            alone.denied_by_aws.as_ref().unwrap().resource,
            "arn:aws:s3:::logs-333333333333/x"
        );
    }
}
