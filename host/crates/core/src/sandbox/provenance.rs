//! The loader's provenance step, before anything is compiled: the file's digest against
//! the config's pin, its provenance sections' placement, every signature it carries
//! (embedded, and `PLUGIN.wasm.sig` beside it) and whether a trusted key made one, its
//! declared grant and its standard metadata. A file that fails any of them is refused —
//! that plugin only, with a message naming the file and what is wrong. Which signatures
//! hold is remembered in the compile cache (`verified`); whether their keys are trusted
//! is decided on every load.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use xacct_provenance::signature::MAX_ARMORED_BYTES;
use xacct_provenance::{
    Carrier, Declaration, Digest, LayoutError, Metadata, NotTrusted, PluginFile, Signature,
    SignatureError, SignatureRefusal, Signer, Verification,
};

use super::cache::CompileCache;
use super::load_error::{LoadError, PinMismatch};
use super::open::open_regular;
use super::verified::{SignatureCheck, signers};
use crate::config::Config;
use crate::config::provenance::{DigestPin, TrustPolicy};

/// What the config requires of plugins' provenance.
#[derive(Debug, Clone, Default)]
pub struct ProvenanceOptions {
    /// The config file, named where a refusal points at one of its lines.
    pub config: PathBuf,
    /// `[plugin.NAME] sha256`, by plugin name.
    pub pins: BTreeMap<String, DigestPin>,
    /// `[trust]`.
    pub trust: TrustPolicy,
    /// `[plugin.NAME.trust]` over `[trust]`, by plugin name.
    pub plugin_trust: BTreeMap<String, TrustPolicy>,
}

impl ProvenanceOptions {
    pub fn for_config(config: &Config) -> ProvenanceOptions {
        ProvenanceOptions {
            config: config.path.clone(),
            pins: config
                .plugins
                .iter()
                .filter_map(|(name, plugin)| Some((name.clone(), plugin.pin.clone()?)))
                .collect(),
            trust: config.trust.clone(),
            plugin_trust: config
                .plugins
                .iter()
                .filter_map(|(name, plugin)| Some((name.clone(), plugin.trust.clone()?)))
                .collect(),
        }
    }

    pub fn trust_for(&self, plugin: &str) -> &TrustPolicy {
        self.plugin_trust.get(plugin).unwrap_or(&self.trust)
    }
}

/// What a plugin file says of itself, checked.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// The sha256 of the file as it lies.
    pub digest: Digest,
    /// Whether the config pins the plugin's digest (and this file is one it allows).
    pub pinned: bool,
    /// The first trusted key that signed it.
    pub signer: Option<Signer>,
    /// Why the keys whose signatures over it hold are not trusted (`None` when one is,
    /// or when it is unsigned).
    pub untrusted: Option<NotTrusted>,
    /// Whether its signatures were checked by this load or remembered from an earlier one.
    pub signature_check: SignatureCheck,
    /// The grant its author declares.
    pub declared: Option<Declaration>,
    pub metadata: Metadata,
}

/// The detached signature of `path`: `PLUGIN.wasm.sig` beside it.
pub fn detached_signature_path(path: &Path) -> PathBuf {
    let mut sig = path.as_os_str().to_owned();
    sig.push(".sig");
    PathBuf::from(sig)
}

/// Checks the plugin `name` read from `path` as `bytes`, with the signature checks that
/// `cache` remembers.
pub(super) fn check(
    options: &ProvenanceOptions,
    name: &str,
    path: &Path,
    bytes: &[u8],
    cache: Option<&CompileCache>,
) -> Result<Provenance, LoadError> {
    let refused = |reason: String| LoadError::Provenance {
        path: path.to_owned(),
        reason,
    };
    // The pin first: a file that is not the build the operator pinned is refused for
    // that, whatever else is wrong with it.
    let digest = Digest::of(bytes);
    let pin = options.pins.get(name);
    if let Some(pin) = pin
        && !pin.digests.contains(&digest)
    {
        return Err(LoadError::DigestMismatch(Box::new(PinMismatch {
            path: path.to_owned(),
            plugin: name.to_owned(),
            actual: digest,
            expected: pin.digests.clone(),
            config: options.config.clone(),
            line: pin.line,
        })));
    }
    let file = PluginFile::parse(bytes).map_err(|err| match err {
        LayoutError::Malformed(reason) => LoadError::NotAComponent {
            path: path.to_owned(),
            reason,
        },
        other => refused(other.to_string()),
    })?;
    let detached = read_detached(&detached_signature_path(path)).map_err(|err| {
        refused(
            SignatureRefusal {
                carrier: Carrier::Detached,
                source: err,
            }
            .to_string(),
        )
    })?;
    let trust = options.trust_for(name);
    let (signed, signature_check) = signers(&file, &digest, detached.as_ref(), cache)
        .map_err(|err| refused(err.to_string()))?;
    let verification = Verification::new(signed, &trust.signers, SystemTime::now());
    let (signer, untrusted) = match verification.trusted_signer() {
        Ok(signer) => (Some(signer.clone()), None),
        Err(why) if trust.require_signed => {
            return Err(LoadError::NotTrusted {
                path: path.to_owned(),
                key: trust.key.clone(),
                why,
            });
        }
        Err(NotTrusted::Unsigned) => (None, None),
        Err(why) => (None, Some(why)),
    };
    let declared = file
        .declaration()
        .map_err(|err| refused(err.to_string()))?
        .map(|declared| declared.declaration);
    let metadata = file.metadata().map_err(|err| refused(err.to_string()))?;
    Ok(Provenance {
        digest,
        pinned: pin.is_some(),
        signer,
        untrusted,
        signature_check,
        declared,
        metadata,
    })
}

/// The signature in `path`, if there is such a file; read no further than a signature
/// may be long.
fn read_detached(path: &Path) -> Result<Option<Signature>, SignatureError> {
    let unreadable = |err: std::io::Error| {
        SignatureError::Malformed(format!("cannot read {}: {err}", path.display()))
    };
    let file = match open_regular(path) {
        Ok((file, _)) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(unreadable(err)),
    };
    let mut text = Vec::new();
    file.take(MAX_ARMORED_BYTES as u64 + 1)
        .read_to_end(&mut text)
        .map_err(unreadable)?;
    Signature::from_armored(&text).map(Some)
}
