//! The AWS provider's config: `[aws]` (the home identity and how it reaches AWS),
//! `[organization]` (accounts listed from AWS Organizations), and the keys of each
//! `[[account]]` entry that say how its role is assumed (`role`, `external_id`,
//! `session_duration`) — read and checked here, as the core reads its own sections, with
//! the same file, line, key and fix in every error. Region codes and ARNs are AWS's: they
//! are checked here too ([`crate::region::is_region_code`], [`parse_arn`]).
//!
//! Reading is in two steps around the core's: [`Sections::take`] takes these sections
//! out of the document (and checks `[aws]`), the core reads the rest (asking
//! [`Sections`] about grants and listed accounts), then [`Sections::finish`] checks what
//! depends on the accounts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use xacct_core::capability::grant::{AccountSelector, Grant};
use xacct_core::config::accounts::is_account_id;
use xacct_core::config::file::{ConfigError, Document};
use xacct_core::config::{Config as CoreConfig, Extension, GrantRefusal};

use crate::partition::Partition;
use crate::policy::{policy_text, session_policy};
use crate::region::is_region_code;

mod arn;
pub use arn::{Arn, parse_arn};
use arn::{is_role_name, read_role_arn, role_arn};

/// The largest inline session policy STS accepts: "can't exceed 2,048 characters"
/// (AssumeRole `Policy`, STS API Reference).
const MAX_SESSION_POLICY_CHARACTERS: usize = 2048;

/// Attempts per call by default: enough that throttling at the rates a fan-out meets
/// costs time, not accounts (the fault harness passes with every 4th S3 request and every
/// 2nd AssumeRole throttled), while an error that persists (a 5xx that is no blip) costs
/// seconds of backoff, not a minute: ten attempts took 60 s, a whole default time limit.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// CopyObject's limit: "You can create a copy of your object up to 5 GB in size in a
/// single atomic action using this API" (CopyObject, S3 API Reference); larger copies
/// are multipart (UploadPartCopy).
const COPY_OBJECT_LIMIT: u64 = 5 << 30;

/// How long a throttled call is waited out by default: throttling at the rates a fan-out
/// meets (every second AssumeRole) passes within seconds, an account-wide rate within a
/// minute.
const DEFAULT_THROTTLE_BUDGET: Duration = Duration::from_secs(60);

/// The role every member account has, unless `[organization] role` names another.
const DEFAULT_ORGANIZATION_ROLE: &str = "OrganizationAccountAccessRole";

/// The home identity: where xacct runs and whose credentials assume the target roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// The home region; the default region of every account. `None` until resolved from
    /// `--region` or the SDK's chain ([`crate::home_region::resolve_home_region`]).
    pub region: Option<String>,
    /// Tag each session with `xacct-plugin` and `xacct-sha256` (needs `sts:TagSession`
    /// in every role's trust policy).
    pub session_tags: bool,
    /// The `SourceIdentity` set on every AssumeRole (needs `sts:SetSourceIdentity`).
    pub source_identity: Option<SourceIdentity>,
    /// A named profile for the home credentials; `None`: the standard chain.
    pub profile: Option<String>,
    /// An STS- and S3-compatible endpoint instead of AWS (`AWS_ENDPOINT_URL` works too).
    pub endpoint_url: Option<String>,
    /// The home principal's ARN, for the trust policies `xacct iam` prints; `None`: ask
    /// STS who the home identity is.
    pub home_principal: Option<String>,
    /// How the SDK retries a failed call.
    pub retry_mode: RetryMode,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Copies of objects larger than this are multipart copies (UploadPartCopy).
    pub multipart_copy_threshold: u64,
    /// How long a call AWS keeps throttling is sent again ([`crate::throttle`]).
    pub throttle_budget: Duration,
}

impl AwsConfig {
    /// The home identity's partition as the file tells it: `home_principal`'s, else the
    /// home region's, else `aws` (the sessions learn the caller's own at start-up).
    pub fn partition(&self) -> &'static Partition {
        Partition::of_home(self.home_principal.as_deref(), self.region.as_deref())
    }
}

/// The SDK's retry modes, for S3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryMode {
    /// Exponential backoff with jitter, within a retry quota: the default. Measured on
    /// the fault harness (every 4th S3 request throttled, over 12 accounts), a run took
    /// 37 s in this mode and over 160 s in adaptive mode, whose rate limiter held
    /// invocations past their time limit.
    Standard,
    /// Standard, plus a client-side rate limiter (per account) once S3 throttles: for a
    /// long run against buckets that throttle steadily.
    Adaptive,
}

/// What `[aws] source_identity` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceIdentity {
    /// This text, on every session.
    Fixed(String),
    /// The home caller's name (a user name, or an SSO user's session name): `"caller"`.
    Caller,
}

/// `[organization]`: the accounts of an AWS Organization, listed from its management or
/// delegated-administrator account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationConfig {
    /// The role assumed in every listed account (a name).
    pub role: String,
    /// A role (ARN) in the management or delegated-administrator account to list
    /// through; `None`: the home identity lists.
    pub via_role: Option<String>,
    /// Only accounts under these OUs (ids `ou-…`/`r-…` or paths `/Prod/Apps`), nested
    /// OUs included; empty: every account.
    pub include_ous: Vec<String>,
    /// Never accounts under these OUs.
    pub exclude_ous: Vec<String>,
    /// Never these accounts.
    pub exclude_accounts: Vec<String>,
    /// List the management account too (it has no `OrganizationAccountAccessRole`).
    pub include_management: bool,
    /// List the accounts' tags: only when something reads them (a grant's `tag:`
    /// selector, a `--tag` selection, `xacct accounts`).
    pub list_tags: bool,
}

/// How an account's role is assumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRole {
    /// The role's full ARN (a name in the file is expanded into the account).
    pub role_arn: String,
    /// The `sts:ExternalId` the role's trust policy expects.
    pub external_id: Option<String>,
    /// How long assumed credentials last (900 s to 43200 s; `None`: STS's default).
    pub session_duration: Option<Duration>,
    /// Whether `role_arn` was expanded from a role's name (in the home's partition).
    pub expanded: bool,
}

/// The AWS provider's part of a config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// `[aws]`: without it, the file configures no AWS.
    pub aws: Option<AwsConfig>,
    pub organization: Option<OrganizationConfig>,
    /// The roles the `[[account]]` entries name, by account id.
    pub roles: BTreeMap<String, AccountRole>,
}

impl AwsSettings {
    /// How `account_id`'s role is assumed: its entry's role, else (for an account listed
    /// from the organization) the organization's member role.
    pub fn role_of(&self, account_id: &str) -> Option<AccountRole> {
        self.roles.get(account_id).cloned().or_else(|| {
            self.organization.as_ref().map(|organization| AccountRole {
                role_arn: role_arn(self.partition(), account_id, &organization.role),
                external_id: None,
                session_duration: None,
                expanded: true,
            })
        })
    }

    /// The home region, if known yet.
    pub fn home_region(&self) -> Option<&str> {
        self.aws.as_ref()?.region.as_deref()
    }

    /// The partition of the home identity as the file tells it ([`AwsConfig::partition`]).
    pub fn partition(&self) -> &'static Partition {
        self.aws
            .as_ref()
            .map_or(crate::partition::AWS, AwsConfig::partition)
    }

    /// Sets the home region, which every account without its own inherits. Roles named
    /// without an ARN were expanded in the partition the file told; a home region from
    /// outside the file (`--region`, the SDK's chain) may name another.
    pub fn set_home_region(&mut self, core: &mut CoreConfig, region: &str) {
        let before = self.partition();
        if let Some(aws) = &mut self.aws {
            aws.region = Some(region.to_owned());
        }
        let after = self.partition();
        if before != after {
            let from = format!("arn:{}:", before.id);
            let to = format!("arn:{}:", after.id);
            for role in self.roles.values_mut().filter(|role| role.expanded) {
                role.role_arn = role.role_arn.replacen(&from, &to, 1);
            }
        }
        core.inherit_region(region);
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAws {
    region: Option<Spanned<String>>,
    session_tags: Option<bool>,
    source_identity: Option<Spanned<String>>,
    retry_mode: Option<Spanned<String>>,
    max_attempts: Option<Spanned<i64>>,
    profile: Option<String>,
    endpoint_url: Option<Spanned<String>>,
    home_principal: Option<Spanned<String>>,
    multipart_copy_threshold_mib: Option<Spanned<i64>>,
    throttle_budget_secs: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganization {
    role: Option<Spanned<String>>,
    via_role: Option<Spanned<String>>,
    #[serde(default)]
    include_ous: Vec<Spanned<String>>,
    #[serde(default)]
    exclude_ous: Vec<Spanned<String>>,
    #[serde(default)]
    exclude_accounts: Vec<Spanned<String>>,
    #[serde(default)]
    include_management: bool,
}

/// The keys of an `[[account]]` entry that are AWS's.
#[derive(Deserialize, Default)]
struct RawAccountRole {
    role: Option<Spanned<String>>,
    external_id: Option<Spanned<String>>,
    session_duration: Option<Spanned<i64>>,
}

/// The keys an `[[account]]` entry has for AWS.
const ACCOUNT_KEYS: [&str; 3] = ["role", "external_id", "session_duration"];

/// The AWS sections of a config, taken out of the document, before the core reads it.
pub struct Sections {
    aws: Option<Spanned<AwsConfig>>,
    organization: Option<Spanned<RawOrganization>>,
    accounts: Vec<RawAccountRole>,
    ids: Vec<Option<Spanned<String>>>,
    regions: Vec<Option<Spanned<String>>>,
}

impl Sections {
    /// Takes the AWS sections out of `document` and checks `[aws]`.
    pub fn take(document: &mut Document<'_>) -> Result<Sections, ConfigError> {
        let local = document.has("local");
        let aws = document.take::<RawAws>("aws")?;
        let organization = document.take::<RawOrganization>("organization")?;
        let accounts = document.take_account_keys::<RawAccountRole>(&ACCOUNT_KEYS)?;
        let aws = match aws {
            Some(aws) if local => {
                return Err(document.invalid(
                    aws.span(),
                    "aws",
                    "both [local] and [aws] are configured",
                    "keep the one backend you mean (--local-root runs an [aws] config locally)",
                ));
            }
            Some(aws) => {
                let span = aws.span();
                Some(Spanned::new(span, read_aws(document, aws.into_inner())?))
            }
            None => None,
        };
        Ok(Sections {
            aws,
            organization,
            accounts,
            ids: document.account_strings("id"),
            regions: document.account_strings("region"),
        })
    }

    /// Checks what depends on the accounts (their roles and regions, `[organization]`),
    /// sets the regions the accounts inherit, and gives the AWS part of the config.
    pub fn finish(
        self,
        document: &Document<'_>,
        core: &mut CoreConfig,
    ) -> Result<AwsSettings, ConfigError> {
        let aws = self.aws.map(Spanned::into_inner);
        let partition = aws
            .as_ref()
            .map_or(crate::partition::AWS, AwsConfig::partition);
        let mut roles = BTreeMap::new();
        for (index, account) in self.accounts.into_iter().enumerate() {
            let Some(id) = self.ids.get(index).cloned().flatten() else {
                continue;
            };
            let key = |field: &str| format!("account[{index}].{field}");
            let role_arn = match &account.role {
                Some(role) => Some(read_role_arn(
                    document,
                    role,
                    id.get_ref(),
                    partition,
                    key("role"),
                )?),
                None if aws.is_some() => {
                    return Err(document.invalid(
                        id.span(),
                        key("role"),
                        "the role to assume is missing",
                        "add role = \"<role name or ARN>\" to this [[account]]",
                    ));
                }
                None => None,
            };
            if let Some(external_id) = &account.external_id {
                let valid = (2..=1224).contains(&external_id.get_ref().len())
                    && external_id
                        .get_ref()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c));
                if !valid {
                    return Err(document.invalid(
                        external_id.span(),
                        key("external_id"),
                        "not a valid external id",
                        "use 2 to 1224 letters, digits or +=,.@:/-_",
                    ));
                }
            }
            let session_duration = match &account.session_duration {
                Some(secs) if (900..=43200).contains(secs.get_ref()) => {
                    Some(Duration::from_secs(*secs.get_ref() as u64))
                }
                Some(secs) => {
                    return Err(document.invalid(
                        secs.span(),
                        key("session_duration"),
                        format!("{} s is outside what STS allows", secs.get_ref()),
                        "set session_duration to 900..=43200 seconds (and within the role's maximum)",
                    ));
                }
                None => None,
            };
            if let Some(region) = self.regions.get(index).cloned().flatten() {
                check_region(document, &region, &key("region"))?;
            }
            if let Some((role_arn, expanded)) = role_arn {
                roles.insert(
                    id.into_inner(),
                    AccountRole {
                        role_arn,
                        external_id: account.external_id.map(Spanned::into_inner),
                        session_duration,
                        expanded,
                    },
                );
            }
        }
        if let Some(aws) = &aws {
            // Accounts without a region of their own are in the home region (once known).
            core.inherit_region(aws.region.as_deref().unwrap_or_default());
        }
        let organization = self
            .organization
            .map(|organization| read_organization(document, organization, aws.is_some()))
            .transpose()?
            .map(|organization| OrganizationConfig {
                list_tags: reads_tags(core),
                ..organization
            });
        Ok(AwsSettings {
            aws,
            organization,
            roles,
        })
    }
}

impl Extension for Sections {
    fn lists_accounts(&self) -> bool {
        self.organization.is_some()
    }

    fn check_grant(&self, grant: &Grant) -> Result<(), GrantRefusal> {
        if self.aws.is_none() {
            return Ok(());
        }
        let Some(aws) = self.aws.as_ref().map(Spanned::get_ref) else {
            return Ok(());
        };
        // Every account's policy has the same size: ids are 12 digits.
        let policy = policy_text(&session_policy(grant, "000000000000", aws.partition()));
        let size = policy.chars().count();
        // STS packs the session tags with the policy ("An AWS conversion compresses the
        // passed inline session policy, managed policy ARNs, and session tags into a packed
        // binary format that has a separate limit", AssumeRole, STS API Reference); the
        // packing is undocumented, so their characters are counted against the same limit.
        let tags = if aws.session_tags {
            let plugin = grant.key.strip_prefix("plugin.").unwrap_or(&grant.key);
            session_tag_characters(plugin)
        } else {
            0
        };
        if size + tags > MAX_SESSION_POLICY_CHARACTERS {
            let with_tags = if tags > 0 {
                format!(" and its session tags {tags} more")
            } else {
                String::new()
            };
            return Err(GrantRefusal {
                key: "s3",
                problem: format!(
                    "the grant's session policy takes {size} characters{with_tags}; STS accepts {MAX_SESSION_POLICY_CHARACTERS}"
                ),
                fix: "merge rules (bucket globs), drop prefixes or split the plugin".into(),
            });
        }
        Ok(())
    }
}

/// The characters of the session tags a plugin's sessions carry (`xacct-plugin`, and
/// `xacct-sha256` with 64 hex digits).
fn session_tag_characters(plugin: &str) -> usize {
    "xacct-plugin".len() + plugin.chars().count() + "xacct-sha256".len() + 64
}

fn read_aws(document: &Document<'_>, raw: RawAws) -> Result<AwsConfig, ConfigError> {
    if let Some(region) = &raw.region {
        check_region(document, region, "aws.region")?;
    }
    let source_identity = match raw.source_identity {
        None => None,
        Some(text) if text.get_ref() == "caller" => Some(SourceIdentity::Caller),
        Some(text) => {
            let valid = (2..=64).contains(&text.get_ref().len())
                && text
                    .get_ref()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
            if !valid {
                return Err(document.invalid(
                    text.span(),
                    "aws.source_identity",
                    format!("{:?} is not a valid source identity", text.get_ref()),
                    "use \"caller\" (the home caller's name) or 2 to 64 letters, digits or +=,.@_-",
                ));
            }
            Some(SourceIdentity::Fixed(text.into_inner()))
        }
    };
    if let Some(url) = &raw.endpoint_url
        && !(url.get_ref().starts_with("http://") || url.get_ref().starts_with("https://"))
    {
        return Err(document.invalid(
            url.span(),
            "aws.endpoint_url",
            format!("{:?} is not an http(s) URL", url.get_ref()),
            "write the endpoint as http://host:port or https://host",
        ));
    }
    if let Some(principal) = &raw.home_principal
        && parse_arn(principal.get_ref())
            .is_none_or(|arn| arn.service != "iam" && arn.service != "sts")
    {
        return Err(document.invalid(
            principal.span(),
            "aws.home_principal",
            format!("{:?} is not an IAM principal ARN", principal.get_ref()),
            "use the ARN of the home role or user, e.g. arn:aws:iam::123456789012:role/xacct",
        ));
    }
    let retry_mode = match raw
        .retry_mode
        .as_ref()
        .map(|m| (m.get_ref().as_str(), m.span()))
    {
        None | Some(("standard", _)) => RetryMode::Standard,
        Some(("adaptive", _)) => RetryMode::Adaptive,
        Some((other, span)) => {
            return Err(document.invalid(
                span,
                "aws.retry_mode",
                format!("{other:?} is not a retry mode"),
                "use \"standard\" (the default) or \"adaptive\"",
            ));
        }
    };
    let ranged = |value: Option<Spanned<i64>>,
                  key: &str,
                  range: std::ops::RangeInclusive<i64>,
                  fix: &str| {
        match value {
            None => Ok(None),
            Some(n) if range.contains(n.get_ref()) => Ok(u64::try_from(*n.get_ref()).ok()),
            Some(n) => Err(document.invalid(
                n.span(),
                format!("aws.{key}"),
                format!("{} is out of range", n.get_ref()),
                fix.to_owned(),
            )),
        }
    };
    let max_attempts = ranged(
        raw.max_attempts,
        "max_attempts",
        1..=50,
        "set max_attempts to 1..=50 (the first attempt included)",
    )?
    .map_or(DEFAULT_MAX_ATTEMPTS, |n| n as u32);
    let multipart_copy_threshold = ranged(
        raw.multipart_copy_threshold_mib,
        "multipart_copy_threshold_mib",
        5..=5120,
        "set it to 5..=5120 MiB (S3's smallest part and largest CopyObject)",
    )?
    .map_or(COPY_OBJECT_LIMIT, |mib| mib << 20);
    let throttle_budget = ranged(
        raw.throttle_budget_secs,
        "throttle_budget_secs",
        0..=3600,
        "set throttle_budget_secs to 0..=3600 seconds (0: the SDK's attempts only)",
    )?
    .map_or(DEFAULT_THROTTLE_BUDGET, Duration::from_secs);
    Ok(AwsConfig {
        retry_mode,
        max_attempts,
        multipart_copy_threshold,
        throttle_budget,
        region: raw.region.map(Spanned::into_inner),
        session_tags: raw.session_tags.unwrap_or(false),
        source_identity,
        profile: raw.profile,
        endpoint_url: raw.endpoint_url.map(Spanned::into_inner),
        home_principal: raw.home_principal.map(Spanned::into_inner),
    })
}

fn read_organization(
    document: &Document<'_>,
    raw: Spanned<RawOrganization>,
    has_aws: bool,
) -> Result<OrganizationConfig, ConfigError> {
    let span = raw.span();
    let raw = raw.into_inner();
    if !has_aws {
        return Err(document.invalid(
            span,
            "organization",
            "accounts are listed from AWS Organizations, but there is no [aws] section",
            "add an [aws] section (the home identity lists the accounts), or remove [organization]",
        ));
    }
    let role = match raw.role {
        None => DEFAULT_ORGANIZATION_ROLE.to_owned(),
        Some(role) if is_role_name(role.get_ref()) && !role.get_ref().starts_with("arn:") => {
            role.into_inner()
        }
        Some(role) => {
            return Err(document.invalid(
                role.span(),
                "organization.role",
                format!("{:?} is not a role name", role.get_ref()),
                "give the name of the role every member account has, e.g. \"OrganizationAccountAccessRole\"",
            ));
        }
    };
    let via_role = match raw.via_role {
        None => None,
        Some(arn)
            if parse_arn(arn.get_ref())
                .is_some_and(|a| a.service == "iam" && a.resource.starts_with("role/")) =>
        {
            Some(arn.into_inner())
        }
        Some(arn) => {
            return Err(document.invalid(
                arn.span(),
                "organization.via_role",
                format!("{:?} is not a role ARN", arn.get_ref()),
                "use the ARN of a role in the management or delegated-administrator account",
            ));
        }
    };
    let ous = |list: Vec<Spanned<String>>, key: &str| {
        list.into_iter()
            .map(|ou| {
                let text = ou.get_ref();
                let valid = text.starts_with("ou-") || text.starts_with("r-") || text.starts_with('/');
                if valid {
                    Ok(ou.into_inner())
                } else {
                    Err(document.invalid(
                        ou.span(),
                        format!("organization.{key}"),
                        format!("{text:?} is neither an OU id nor an OU path"),
                        "use an id (\"ou-ab12-cdef3456\", or the root \"r-ab12\") or a path from the root (\"/Prod/Apps\")",
                    ))
                }
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let include_ous = ous(raw.include_ous, "include_ous")?;
    let exclude_ous = ous(raw.exclude_ous, "exclude_ous")?;
    let exclude_accounts = raw
        .exclude_accounts
        .into_iter()
        .map(|id| {
            if is_account_id(id.get_ref()) {
                Ok(id.into_inner())
            } else {
                Err(document.invalid(
                    id.span(),
                    "organization.exclude_accounts",
                    format!("{:?} is not a 12-digit account id", id.get_ref()),
                    "list account ids as 12 digits in quotes",
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(OrganizationConfig {
        role,
        via_role,
        include_ous,
        exclude_ous,
        exclude_accounts,
        include_management: raw.include_management,
        list_tags: true,
    })
}

/// Whether a grant selects accounts by tag (so listed accounts need their tags).
fn reads_tags(core: &CoreConfig) -> bool {
    core.plugins
        .values()
        .filter_map(|plugin| plugin.grant.as_ref())
        .flat_map(|grant| &grant.accounts)
        .any(|selector| matches!(selector, AccountSelector::Tag(..)))
}

/// Checks a region code.
fn check_region(
    document: &Document<'_>,
    region: &Spanned<String>,
    key: &str,
) -> Result<(), ConfigError> {
    if is_region_code(region.get_ref()) {
        return Ok(());
    }
    Err(document.invalid(
        region.span(),
        key,
        format!("{:?} is not an AWS region code", region.get_ref()),
        "use a region code such as \"us-east-1\" or \"eu-west-1\"",
    ))
}

#[cfg(test)]
mod tests;
