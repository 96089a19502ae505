//! The IAM documents an operator creates so that xacct can work (`xacct iam`),
//! generated from the config so that what is granted is exactly what is configured:
//!
//! - the home identity's policy: `sts:AssumeRole` on exactly the configured role ARNs,
//!   with `sts:TagSession` when sessions are tagged (`session_tags`) and
//!   `sts:SetSourceIdentity` when a `source_identity` is set;
//! - per target role, the trust policy naming the home principal (with an
//!   `sts:ExternalId` condition where the account sets one), and the smallest permission
//!   policy covering the grant of every plugin that may run in that account.
//!
//! A home that is a role session (Identity Center, a chained profile, ECS, Lambda) is
//! known by its assumed-role ARN, which has no path, while a role principal in a trust
//! policy must name the existing role path included, or IAM refuses the policy ("IAM JSON
//! policy elements: Principal", IAM User Guide). Identity Center's roles live under
//! `/aws-reserved/sso.amazonaws.com/` and are re-provisioned with a new suffix when their
//! permission set changes, Lambda's under `/service-role/`. So such a home is trusted as
//! its account's principal with an `aws:PrincipalArn` condition ("AWS global condition
//! context keys": a role session's is its role's ARN) matching the role under any path —
//! for Identity Center, any role of the same permission set.

use serde_json::{Value, json};
use xacct_core::config::Config as CoreConfig;

use crate::config::AwsSettings;
use crate::partition::Partition;
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

/// The documents for the config, trusting `home_principal` (an IAM user or role ARN, or
/// a role session's assumed-role ARN).
pub fn documents(config: &CoreConfig, settings: &AwsSettings, home_principal: &str) -> Value {
    let assume = assume_actions(settings);
    let partition = Partition::of_home(Some(home_principal), settings.home_region());
    let trusted = Trusted::of(home_principal);
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
                "Principal": { "AWS": trusted.principal },
                "Action": assume,
            });
            if let Some(roles) = &trusted.role_patterns {
                statement["Condition"]["ArnLike"] = json!({ "aws:PrincipalArn": roles });
            }
            if let Some(external_id) = &role.external_id {
                statement["Condition"]["StringEquals"] = json!({ "sts:ExternalId": external_id });
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
                "permission_policy": permission_policy(grants, partition),
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

/// Whom a trust policy names for the home identity.
struct Trusted {
    /// The principal: the home user or role, or (for a role session) its account.
    principal: String,
    /// For a role session, the `aws:PrincipalArn` patterns its role matches.
    role_patterns: Option<Vec<String>>,
}

impl Trusted {
    fn of(home: &str) -> Trusted {
        match assumed_role(home) {
            Some((partition, account, role)) => {
                let roles = format!("arn:{partition}:iam::{account}:role");
                // Identity Center: `AWSReservedSSO_<permission set>_<suffix>`, suffix new
                // at each re-provisioning; under its path, with or without a region.
                let (path, name) = match sso_permission_set(role) {
                    Some(set) => (
                        "/aws-reserved/sso.amazonaws.com",
                        format!("AWSReservedSSO_{set}_*"),
                    ),
                    None => ("", role.to_owned()),
                };
                Trusted {
                    principal: format!("arn:{partition}:iam::{account}:root"),
                    role_patterns: Some(vec![
                        format!("{roles}{path}/{name}"),
                        format!("{roles}{path}/*/{name}"),
                    ]),
                }
            }
            None => Trusted {
                principal: home.to_owned(),
                role_patterns: None,
            },
        }
    }
}

/// `(partition, account, role name)` of an assumed-role ARN
/// (`arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`).
fn assumed_role(arn: &str) -> Option<(&str, &str, &str)> {
    let (partition, rest) = arn.strip_prefix("arn:")?.split_once(":sts::")?;
    let (account, resource) = rest.split_once(':')?;
    let role = resource.strip_prefix("assumed-role/")?.split('/').next()?;
    (!role.is_empty()).then_some((partition, account, role))
}

/// The permission set of an Identity Center role name
/// (`AWSReservedSSO_<set>_<16 hex digits>`).
fn sso_permission_set(role: &str) -> Option<&str> {
    let (set, suffix) = role.strip_prefix("AWSReservedSSO_")?.rsplit_once('_')?;
    let hex = suffix.len() == 16 && suffix.bytes().all(|b| b.is_ascii_hexdigit());
    (hex && !set.is_empty()).then_some(set)
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
            json!([
                // For the host's ownership check, though the grant does not list buckets.
                {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::reports",
                 "Condition": {"StringLike": {"s3:prefix": ["2024/*"]}}},
                {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::reports/2024/*"},
                {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "*",
                 "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}},
            ])
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
    fn a_role_session_home_is_trusted_as_its_role_under_any_path() {
        let trusted = Trusted::of("arn:aws:sts::111111111111:assumed-role/runner/i-123");
        assert_eq!(trusted.principal, "arn:aws:iam::111111111111:root");
        assert_eq!(
            trusted.role_patterns.unwrap(),
            [
                "arn:aws:iam::111111111111:role/runner",
                "arn:aws:iam::111111111111:role/*/runner"
            ]
        );
        let sso = Trusted::of(
            "arn:aws-us-gov:sts::111111111111:assumed-role/AWSReservedSSO_Admin_Access_0123456789abcdef/jane",
        );
        assert_eq!(sso.principal, "arn:aws-us-gov:iam::111111111111:root");
        assert_eq!(
            sso.role_patterns.unwrap(),
            [
                "arn:aws-us-gov:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_Access_*",
                "arn:aws-us-gov:iam::111111111111:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Admin_Access_*"
            ]
        );
        let user = Trusted::of("arn:aws:iam::111111111111:user/ci");
        assert_eq!(user.principal, "arn:aws:iam::111111111111:user/ci");
        assert!(user.role_patterns.is_none());
    }
}
