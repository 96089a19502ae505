//! What the operator says of a plugin's provenance: the builds it may be
//! (`[plugin.NAME] sha256`), the keys trusted to sign it (`[trust]`,
//! `[plugin.NAME.trust]`), and whether unsigned plugins and grants wider than a plugin
//! declares are refused.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use xacct_provenance::{Digest, TrustedSigners};

use super::file::{ConfigError, Document};

/// The builds a plugin may be: one digest, or several during a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestPin {
    pub digests: Vec<Digest>,
    /// The line of the config file that pins them, for the refusal.
    pub line: usize,
}

/// How plugins are trusted: globally (`[trust]`) or for one plugin
/// (`[plugin.NAME.trust]`, whose lists replace the global ones).
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// The config key of the section the signers come from (`trust`, `plugin.NAME.trust`).
    pub key: String,
    pub signers: TrustedSigners,
    /// Unsigned plugins, and plugins no trusted key signed, are refused at load.
    pub require_signed: bool,
    /// A grant wider than the plugin's declaration is refused rather than warned of.
    pub strict_grants: bool,
}

/// The keys of a `[trust]` or `[plugin.NAME.trust]` section as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrust {
    signers: Option<Spanned<Vec<String>>>,
    allowed_signers: Option<Spanned<String>>,
    require_signed: Option<Spanned<bool>>,
    strict_grants: Option<Spanned<bool>>,
}

/// Reads `sha256 = "…"` or `sha256 = ["…", …]` of the section at `key`.
pub(super) fn read_pin(
    document: &Document<'_>,
    key: &str,
    written: Spanned<toml::Value>,
) -> Result<DigestPin, ConfigError> {
    let span = written.span();
    let invalid = |problem: String| {
        document.invalid(
            span.clone(),
            format!("{key}.sha256"),
            problem,
            "write the plugin file's sha256 as sha256sum prints it (64 hex digits), or a list of them",
        )
    };
    let texts: Vec<String> = match written.into_inner() {
        toml::Value::String(text) => vec![text],
        toml::Value::Array(values) => values
            .into_iter()
            .map(|value| match value {
                toml::Value::String(text) => Ok(text),
                other => Err(invalid(format!("{other} is not a string"))),
            })
            .collect::<Result<_, _>>()?,
        other => return Err(invalid(format!("{other} is not a string or a list"))),
    };
    if texts.is_empty() {
        return Err(invalid(
            "an empty list would refuse every build of the plugin".into(),
        ));
    }
    let digests = texts
        .iter()
        .map(|text| Digest::parse(text).map_err(|err| invalid(err.to_string())))
        .collect::<Result<_, _>>()?;
    Ok(DigestPin {
        digests,
        line: document.line(span),
    })
}

/// Reads the global `[trust]` section (absent: nothing trusted, nothing required).
pub(super) fn read_global_trust(
    document: &Document<'_>,
    raw: Option<Spanned<RawTrust>>,
) -> Result<TrustPolicy, ConfigError> {
    let global = TrustPolicy {
        key: "trust".into(),
        ..TrustPolicy::default()
    };
    match raw {
        None => Ok(global),
        Some(raw) => read_trust(document, raw, "trust", &global),
    }
}

/// Reads the `[trust]` section at `key` over `inherited` (the global policy, for a
/// plugin's): lists given replace the inherited ones; `require_signed` and
/// `strict_grants` may only be tightened.
pub(super) fn read_trust(
    document: &Document<'_>,
    raw: Spanned<RawTrust>,
    key: &str,
    inherited: &TrustPolicy,
) -> Result<TrustPolicy, ConfigError> {
    let section = raw.span();
    let raw = raw.into_inner();
    let replaces_lists = raw.signers.is_some() || raw.allowed_signers.is_some();
    let signers = if replaces_lists {
        read_signers(document, key, raw.signers, raw.allowed_signers)?
    } else {
        inherited.signers.clone()
    };
    let require_signed = tighten(
        document,
        key,
        "require_signed",
        raw.require_signed,
        inherited.require_signed,
    )?;
    let strict_grants = tighten(
        document,
        key,
        "strict_grants",
        raw.strict_grants,
        inherited.strict_grants,
    )?;
    if require_signed && signers.is_empty() {
        return Err(document.invalid(
            section,
            format!("{key}.require_signed"),
            "signed plugins are required, but no signer is trusted: every plugin would be refused",
            format!(
                "add signers = [\"ssh-ed25519 AAAA… name\"] or allowed_signers = \"FILE\" to [{key}]"
            ),
        ));
    }
    Ok(TrustPolicy {
        key: if replaces_lists {
            key.to_owned()
        } else {
            inherited.key.clone()
        },
        signers,
        require_signed,
        strict_grants,
    })
}

/// A plugin's section may require more than `[trust]`, never less.
fn tighten(
    document: &Document<'_>,
    key: &str,
    name: &str,
    written: Option<Spanned<bool>>,
    inherited: bool,
) -> Result<bool, ConfigError> {
    match written {
        None => Ok(inherited),
        Some(value) if inherited && !*value.get_ref() => Err(document.invalid(
            value.span(),
            format!("{key}.{name}"),
            format!("[trust] sets {name} = true for every plugin; a plugin's section cannot loosen it"),
            format!("remove {name} from [{key}], or set it to false under [trust] and true where it applies"),
        )),
        Some(value) => Ok(*value.get_ref()),
    }
}

fn read_signers(
    document: &Document<'_>,
    key: &str,
    signers: Option<Spanned<Vec<String>>>,
    allowed_signers: Option<Spanned<String>>,
) -> Result<TrustedSigners, ConfigError> {
    let mut trusted = TrustedSigners::new();
    if let Some(signers) = signers {
        let span = signers.span();
        let list = format!("{key}.signers");
        for line in signers.into_inner() {
            trusted.add_signer(&line, &list).map_err(|err| {
                document.invalid(
                    span.clone(),
                    list.clone(),
                    err.to_string(),
                    "give ed25519 public keys as in authorized_keys (the .pub file ssh-keygen -t ed25519 writes)",
                )
            })?;
        }
    }
    if let Some(file) = allowed_signers {
        let path = document.resolve(file.get_ref());
        let refuse = |span: Range<usize>, problem: String| {
            document.invalid(
                span,
                format!("{key}.allowed_signers"),
                problem,
                "name an allowed_signers file as git and ssh-keygen -Y verify read it (relative to the config file)",
            )
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|err| refuse(file.span(), format!("{}: {err}", path.display())))?;
        trusted
            .add_allowed_signers(&text, &path.display().to_string())
            .map_err(|err| refuse(file.span(), err.to_string()))?;
    }
    Ok(trusted)
}
