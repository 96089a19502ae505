//! ARNs in the config: a role given by name or by ARN, expanded into its account and the
//! home's partition ("Identify AWS resources with Amazon Resource Names (ARNs)", IAM User
//! Guide).

use toml::Spanned;
use xacct_core::config::accounts::is_account_id;
use xacct_core::config::file::{ConfigError, Document};

use crate::partition::Partition;

/// The role's full ARN, and whether it was expanded from a name: a name is expanded into
/// the account (in `partition`); an ARN must be in it.
pub(super) fn read_role_arn(
    document: &Document<'_>,
    role: &Spanned<String>,
    id: &str,
    partition: &Partition,
    key: String,
) -> Result<(String, bool), ConfigError> {
    let written = role.get_ref();
    match parse_arn(written) {
        Some(arn) if arn.service == "iam" && arn.resource.starts_with("role/") => {
            if arn.account == id {
                Ok((written.clone(), false))
            } else {
                Err(document.invalid(
                    role.span(),
                    key,
                    format!(
                        "the role ARN is in account {}, but this entry's id is {id}",
                        arn.account
                    ),
                    "use a role in the account itself, or give just the role's name",
                ))
            }
        }
        Some(_) => Err(document.invalid(
            role.span(),
            key,
            format!("{written:?} is not an IAM role ARN"),
            "write arn:aws:iam::<id>:role/<name>, or just the role's name",
        )),
        None if is_role_name(written) => Ok((role_arn(partition, id, written), true)),
        None => Err(document.invalid(
            role.span(),
            key,
            format!("{written:?} is neither a role name nor a role ARN"),
            "give the role's name (letters, digits, +=,.@_- and / for a path) or its full ARN",
        )),
    }
}

/// The ARN of role `name` (a path may lead it) in `account`.
pub(super) fn role_arn(partition: &Partition, account: &str, name: &str) -> String {
    format!("arn:{}:iam::{account}:role/{name}", partition.id)
}

/// The parts of an ARN that matter here.
pub struct Arn<'a> {
    pub service: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// Splits `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
pub fn parse_arn(text: &str) -> Option<Arn<'_>> {
    let mut parts = text.splitn(6, ':');
    if parts.next()? != "arn" || !parts.next()?.starts_with("aws") {
        return None;
    }
    let service = parts.next()?;
    let _region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    let valid = is_account_id(account) && !resource.is_empty();
    valid.then_some(Arn {
        service,
        account,
        resource,
    })
}

pub(super) fn is_role_name(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or_default();
    (1..=64).contains(&base.len())
        && name.len() <= 512
        && !name.starts_with('/')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
}
