//! A minimal evaluator of the inline session policy an `AssumeRole` sent, as IAM applies
//! it to every request of the session ("Session policies" and "Policy evaluation logic",
//! IAM User Guide): an explicit `Deny` that matches wins, else an `Allow` that matches is
//! needed, else the request is implicitly denied — a session policy bounds the session
//! whatever the role allows (the role's own policy is moto's to enforce).
//!
//! What it reads: `Effect`, `Action` and `Resource` (one string or a list, `*` and `?`
//! wildcards; actions case-insensitive, resources not), and `Condition` blocks of the
//! string operators `StringEquals`, `StringNotEquals`, `StringLike`, `StringNotLike`
//! (optionally `…IfExists`) on the keys the request context holds (`s3:ResourceAccount`,
//! `s3:prefix`, `kms:ViaService`, `kms:CallerAccount`). A key the request does not have
//! fails a positive operator and passes a negated one ("IAM JSON policy elements:
//! Condition operators"). Anything else (`NotAction`, `NotResource`, `Principal`, other
//! operators, set operators, policy variables) is reported as unsupported rather than
//! guessed at, so that a test fails loudly instead of passing on a wrong reading.

use std::collections::HashMap;

use serde_json::Value;

/// One authorization question: may the session do `action` on `resource`, given the
/// request's context keys (lowercase names)?
pub(super) struct Question<'a> {
    pub(super) action: &'a str,
    pub(super) resource: &'a str,
    pub(super) context: &'a HashMap<&'static str, String>,
}

/// The answer of a policy to a [`Question`].
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Decision {
    Allowed,
    /// No statement allows it.
    ImplicitDeny,
    /// A `Deny` statement matches.
    ExplicitDeny,
    /// The policy uses what this evaluator does not read (named).
    Unsupported(String),
}

/// Evaluates `policy` (a parsed JSON policy document) for `question`.
pub(super) fn evaluate(policy: &Value, question: &Question) -> Decision {
    let statements = match &policy["Statement"] {
        Value::Array(statements) => statements.iter().collect::<Vec<_>>(),
        Value::Object(_) => vec![&policy["Statement"]],
        _ => return Decision::Unsupported("a policy without statements".into()),
    };
    let mut allowed = false;
    for statement in statements {
        match matches(statement, question) {
            Err(unsupported) => return Decision::Unsupported(unsupported),
            Ok(false) => {}
            Ok(true) if statement["Effect"] == "Deny" => return Decision::ExplicitDeny,
            Ok(true) if statement["Effect"] == "Allow" => allowed = true,
            Ok(true) => return Decision::Unsupported(format!("Effect {}", statement["Effect"])),
        }
    }
    if allowed {
        Decision::Allowed
    } else {
        Decision::ImplicitDeny
    }
}

/// Whether one statement applies to the question.
fn matches(statement: &Value, question: &Question) -> Result<bool, String> {
    for element in ["NotAction", "NotResource", "Principal", "NotPrincipal"] {
        if statement.get(element).is_some() {
            return Err(format!("{element} in a session policy"));
        }
    }
    let action = strings(&statement["Action"], "Action")?
        .iter()
        .any(|pattern| wildcard(&pattern.to_lowercase(), &question.action.to_lowercase()));
    let resource = strings(&statement["Resource"], "Resource")?
        .iter()
        .any(|pattern| wildcard(pattern, question.resource));
    if !(action && resource) {
        return Ok(false);
    }
    let Some(conditions) = statement.get("Condition") else {
        return Ok(true);
    };
    let Some(conditions) = conditions.as_object() else {
        return Err("a Condition that is not an object".into());
    };
    for (operator, keys) in conditions {
        let Some(keys) = keys.as_object() else {
            return Err(format!("condition {operator} without keys"));
        };
        for (key, values) in keys {
            if !condition(operator, key, &strings(values, key)?, question.context)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// One condition operator on one key.
fn condition(
    operator: &str,
    key: &str,
    values: &[String],
    context: &HashMap<&'static str, String>,
) -> Result<bool, String> {
    let (operator, if_exists) = match operator.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (operator, false),
    };
    let Some(present) = context.get(key.to_lowercase().as_str()) else {
        // A missing key fails a positive operator, passes a negated one, and passes
        // anything …IfExists.
        return match operator {
            "StringEquals" | "StringLike" => Ok(if_exists),
            "StringNotEquals" | "StringNotLike" => Ok(true),
            other => Err(format!("condition operator {other}")),
        };
    };
    let any = |test: &dyn Fn(&str) -> bool| values.iter().any(|v| test(v));
    match operator {
        "StringEquals" => Ok(any(&|v| v == present)),
        "StringNotEquals" => Ok(!any(&|v| v == present)),
        "StringLike" => Ok(any(&|v| wildcard(v, present))),
        "StringNotLike" => Ok(!any(&|v| wildcard(v, present))),
        other => Err(format!("condition operator {other}")),
    }
}

/// A policy element's strings (one or a list); policy variables are not read.
fn strings(value: &Value, what: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = match value {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("{what} holding a non-string"))?,
        _ => return Err(format!("{what} missing or not a string")),
    };
    match list.iter().find(|s| s.contains("${")) {
        Some(variable) => Err(format!("policy variable in {variable:?}")),
        None => Ok(list),
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` any one character.
pub(super) fn wildcard(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    // Classic two-pointer glob with backtracking to the last `*`.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(
        policy: &Value,
        action: &str,
        resource: &str,
        context: &[(&'static str, &str)],
    ) -> Decision {
        let context = context.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        evaluate(
            policy,
            &Question {
                action,
                resource,
                context: &context,
            },
        )
    }

    #[test]
    fn wildcards_match_as_iam_matches() {
        assert!(wildcard(
            "arn:aws:s3:::b/2024/*",
            "arn:aws:s3:::b/2024/jan.csv"
        ));
        assert!(wildcard(
            "arn:aws:s3:::reports-*",
            "arn:aws:s3:::reports-eu"
        ));
        assert!(wildcard("a?c", "abc") && !wildcard("a?c", "ac"));
        assert!(wildcard("*", "") && wildcard("**", "x"));
        assert!(!wildcard("arn:aws:s3:::b/*", "arn:aws-cn:s3:::b/k"));
        assert!(wildcard("データ/*", "データ/x"));
    }

    #[test]
    fn allow_deny_and_conditions() {
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
             "Condition": {"StringLike": {"s3:prefix": ["in/*"]}, "StringEquals": {"s3:ResourceAccount": "111111111111"}}},
            {"Effect": "Allow", "Action": ["S3:GetObject"], "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/secret*"},
        ]});
        let own = ("s3:resourceaccount", "111111111111");
        assert_eq!(
            ask(
                &policy,
                "s3:ListBucket",
                "arn:aws:s3:::b",
                &[own, ("s3:prefix", "in/x")]
            ),
            Decision::Allowed
        );
        assert_eq!(
            ask(&policy, "s3:ListBucket", "arn:aws:s3:::b", &[own]),
            Decision::ImplicitDeny,
            "no prefix"
        );
        assert_eq!(
            ask(
                &policy,
                "s3:ListBucket",
                "arn:aws:s3:::b",
                &[("s3:resourceaccount", "2"), ("s3:prefix", "in/")]
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            ask(&policy, "s3:getobject", "arn:aws:s3:::b/k", &[]),
            Decision::Allowed
        );
        assert_eq!(
            ask(&policy, "s3:GetObject", "arn:aws:s3:::b/secret.txt", &[]),
            Decision::ExplicitDeny
        );
        assert_eq!(
            ask(&policy, "s3:PutObject", "arn:aws:s3:::b/k", &[]),
            Decision::ImplicitDeny
        );
        let negated = serde_json::json!({"Statement": {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
            "Condition": {"StringNotEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}}});
        assert_eq!(
            ask(&negated, "kms:Decrypt", "k", &[]),
            Decision::Allowed,
            "a missing key passes a negated operator"
        );
        assert!(matches!(
            ask(
                &serde_json::json!({"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]}),
                "s3:GetObject",
                "x",
                &[]
            ),
            Decision::Unsupported(_)
        ));
    }
}
