//! Checking a signed plugin's signatures once per build, not once per load: the check (a
//! SHA-512 pass over the file per signature, ~2.5× the sha256 every load computes) is
//! what would make a warm signed run of an 18 MB component 0.1–0.4 s slower than an
//! unsigned one. Its outcome — these signatures hold over these bytes — is kept in the
//! compile cache under the plugin's digest.
//!
//! Only that cryptographic fact is kept. Whether the keys are trusted depends on the
//! config (`[trust]`, `require_signed`) and on the time (`valid-before`), so it is decided
//! afresh on every load by the caller: a change of trust, or a key that expires, takes
//! effect on the next load with no entry to invalidate.
//!
//! An entry is untrusted input like the rest of the cache: it is believed only when this
//! user's key authenticates it as the `signers` entry of this very digest (see
//! [`super::cache`]: a patched entry, or one copied from another plugin, fails), and only
//! for the very signatures it was written for: it holds the digest of the detached
//! signature and the key each signature names, and must equal what the file and its
//! `.sig` name now — a `.sig` swapped, removed or added since is a miss, and is checked.

use serde_json::json;
use sha2::{Digest as _, Sha256};
use xacct_provenance::{
    Carrier, Digest, PluginFile, Signature, SignatureError, SignatureRefusal, SignedBy,
};

use super::cache::{CompileCache, EntryKind};

/// How a load found out which signatures hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    /// The plugin carries no signature.
    Unsigned,
    /// Every signature was checked over the file's bytes by this load.
    Checked,
    /// An authenticated cache entry says these very signatures were checked and hold.
    Remembered,
}

/// The keys whose signatures over the plugin `file` (of digest `digest`) and `detached`
/// hold, from the cache when it remembers them; a signature that does not hold is a
/// refusal (see [`PluginFile::signers`]).
pub(super) fn signers(
    file: &PluginFile<'_>,
    digest: &Digest,
    detached: Option<&Signature>,
    cache: Option<&CompileCache>,
) -> Result<(Vec<SignedBy>, SignatureCheck), SignatureRefusal> {
    let claimed = match claimed(file, detached) {
        Ok(claimed) => claimed,
        // A signature that cannot even be read: the check says why.
        Err(_) => return file.signers(detached).map(|s| (s, SignatureCheck::Checked)),
    };
    if claimed.is_empty() {
        return Ok((claimed, SignatureCheck::Unsigned));
    }
    let entry = entry(&claimed, detached);
    if let Some(cache) = cache
        && cache.get(EntryKind::Signers, &digest.0).as_deref() == Some(entry.as_slice())
    {
        return Ok((claimed, SignatureCheck::Remembered));
    }
    let signed = file.signers(detached)?;
    if let Some(cache) = cache {
        cache.put(EntryKind::Signers, &digest.0, &entry);
    }
    Ok((signed, SignatureCheck::Checked))
}

/// The key each signature the plugin carries names, unchecked, in the order
/// [`PluginFile::signers`] returns them.
fn claimed(
    file: &PluginFile<'_>,
    detached: Option<&Signature>,
) -> Result<Vec<SignedBy>, SignatureError> {
    let embedded = file.embedded_signature()?;
    Ok([
        (Carrier::Embedded, embedded.as_ref()),
        (Carrier::Detached, detached),
    ]
    .into_iter()
    .filter_map(|(carrier, signature)| {
        signature.map(|signature| SignedBy {
            carrier,
            key: signature.key(),
        })
    })
    .collect())
}

/// The cache entry of signatures that hold: the detached signature's digest (the
/// embedded one is part of the plugin's digest, which names the entry) and each key.
fn entry(claimed: &[SignedBy], detached: Option<&Signature>) -> Vec<u8> {
    let detached = detached.map(|signature| hex::encode(Sha256::digest(signature.to_armored())));
    let signed: Vec<_> = claimed
        .iter()
        .map(|signed| {
            json!({
                "carrier": match signed.carrier {
                    Carrier::Embedded => "embedded",
                    Carrier::Detached => "detached",
                },
                "key": signed.key.to_openssh(),
            })
        })
        .collect();
    json!({ "detached": detached, "signed": signed })
        .to_string()
        .into_bytes()
}
