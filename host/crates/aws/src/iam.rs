//! The IAM documents an operator creates so that xacct can work (`xacct iam`),
//! generated from the config so that what is granted is exactly what is configured:
//!
//! - the home identity's policy: `sts:AssumeRole` on exactly the configured role ARNs,
//!   with `sts:TagSession` when sessions are tagged (`session_tags`) and
//!   `sts:SetSourceIdentity` when a `source_identity` is set;
//! - per target role, the trust policy naming the home principal (with an
//!   `sts:ExternalId` condition where the account sets one), and the smallest permission
//!   policy covering the grant of every plugin that may run in that account.

use serde_json::{Value, json};
use xacct_core::config::Config as CoreConfig;

use crate::config::AwsSettings;
use crate::policy::permission_policy;

/// What the home identity does to a role with the config's options: assume it, and tag
/// the session or set its source identity if configured.
fn assume_actions(settings: &AwsSettings) -> Vec<&'static str> {
    let mut actions = vec!["sts:AssumeRole"];
    if let Some(aws) = &settings.aws {
        if aws.session_tags {
            actions.push("sts:TagSession");
        }
        if aws.source_identity.is_some() {
            actions.push("sts:SetSourceIdentity");
        }
    }
    actions
}

/// The documents for the config, trusting `home_principal` (an IAM user or role ARN).
pub fn documents(config: &CoreConfig, settings: &AwsSettings, home_principal: &str) -> Value {
    let assume = assume_actions(settings);
    let roles_of: Vec<_> = config
        .accounts
        .iter()
        .filter_map(|account| Some((account, settings.role_of(&account.id)?)))
        .collect();
    let mut role_arns: Vec<&str> = roles_of
        .iter()
        .map(|(_, role)| role.role_arn.as_str())
        .collect();
    role_arns.sort_unstable();
    role_arns.dedup();
    let roles: Vec<Value> = roles_of
        .iter()
        .map(|(account, role)| {
            let mut statement = json!({
                "Effect": "Allow",
                "Principal": { "AWS": home_principal },
                "Action": assume,
            });
            if let Some(external_id) = &role.external_id {
                statement["Condition"] =
                    json!({ "StringEquals": { "sts:ExternalId": external_id } });
            }
            let grants = config
                .plugins
                .values()
                .filter_map(|p| p.grant.as_ref())
                .filter(|g| g.covers(account));
            json!({
                "account": account.id,
                "alias": account.alias,
                "role": role.role_arn,
                "trust_policy": { "Version": "2012-10-17", "Statement": [statement] },
                "permission_policy": permission_policy(grants),
            })
        })
        .collect();
    json!({
        "home_principal": home_principal,
        "home_policy": {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "XacctAssumeTargetRoles",
                "Effect": "Allow",
                "Action": assume,
                "Resource": role_arns,
            }],
        },
        "roles": roles,
    })
}

/// The principal to trust for the caller STS reports: an assumed-role session stands for
/// its role (`arn:aws:sts::A:assumed-role/R/S` → `arn:aws:iam::A:role/R`).
pub fn principal_of_caller(caller_arn: &str) -> String {
    let assumed = caller_arn
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(":sts::"))
        .and_then(|(partition, rest)| {
            let (account, resource) = rest.split_once(':')?;
            let role = resource.strip_prefix("assumed-role/")?.split('/').next()?;
            Some(format!("arn:{partition}:iam::{account}:role/{role}"))
        });
    assumed.unwrap_or_else(|| caller_arn.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use xacct_core::config::file::Document;

    use crate::config::Sections;

    fn parse(text: &str) -> (CoreConfig, AwsSettings) {
        let mut document = Document::parse(text, Path::new("xacct.toml")).unwrap();
        let sections = Sections::take(&mut document).unwrap();
        let mut config = CoreConfig::read(&mut document, &sections).unwrap();
        let settings = sections.finish(&document, &mut config).unwrap();
        (config, settings)
    }

    #[test]
    fn documents_allow_exactly_the_configured_roles() {
        let text = r#"
[aws]
region = "us-east-1"
session_tags = true
[[account]]
id = "222222222222"
alias = "b"
role = "xacct"
external_id = "secret-ext"
[[account]]
id = "333333333333"
alias = "c"
role = "arn:aws:iam::333333333333:role/ops/xacct"
[plugin.reader]
accounts = ["b"]
s3 = [{ buckets = "reports", prefix = "2024/", actions = ["read"] }]
"#;
        let (config, settings) = parse(text);
        let home = "arn:aws:iam::111111111111:role/xacct-runner";
        let docs = documents(&config, &settings, home);
        assert_eq!(
            docs["home_policy"],
            json!({"Version": "2012-10-17", "Statement": [{
                "Sid": "XacctAssumeTargetRoles", "Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Resource": ["arn:aws:iam::222222222222:role/xacct", "arn:aws:iam::333333333333:role/ops/xacct"],
            }]})
        );
        assert_eq!(
            docs["roles"][0]["trust_policy"],
            json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": home}, "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {"StringEquals": {"sts:ExternalId": "secret-ext"}},
            }]})
        );
        assert!(
            docs["roles"][1]["trust_policy"]["Statement"][0]
                .get("Condition")
                .is_none()
        );
        assert_eq!(
            docs["roles"][1]["role"],
            "arn:aws:iam::333333333333:role/ops/xacct"
        );
        assert_eq!(
            docs["roles"][0]["permission_policy"]["Statement"],
            json!([{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::reports/2024/*"}])
        );
        assert_eq!(
            docs["roles"][1]["permission_policy"]["Statement"][0]["Effect"], "Deny",
            "no plugin may run in c: its role needs no S3 permission"
        );
    }

    #[test]
    fn trust_policies_follow_the_session_options() {
        let config = |options: &str| {
            let text = format!(
                "[aws]\nregion = \"us-east-1\"\n{options}\n[[account]]\nid = \"222222222222\"\nalias = \"b\"\nrole = \"xacct\"\n"
            );
            parse(&text)
        };
        let actions = |options: &str| {
            let (config, settings) = config(options);
            documents(&config, &settings, "arn:aws:iam::111111111111:user/x")["roles"][0]
                ["trust_policy"]["Statement"][0]["Action"]
                .clone()
        };
        assert_eq!(actions(""), json!(["sts:AssumeRole"]));
        assert_eq!(
            actions("session_tags = true\nsource_identity = \"caller\""),
            json!(["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"])
        );
    }

    #[test]
    fn an_assumed_role_caller_is_trusted_as_its_role() {
        assert_eq!(
            principal_of_caller("arn:aws:sts::111111111111:assumed-role/runner/i-123"),
            "arn:aws:iam::111111111111:role/runner"
        );
        assert_eq!(
            principal_of_caller("arn:aws:iam::111111111111:user/ci"),
            "arn:aws:iam::111111111111:user/ci"
        );
    }
}
