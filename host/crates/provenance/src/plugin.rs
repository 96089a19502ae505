//! A plugin file as a whole: its digest, its signatures and declaration (the rewrites
//! xacct makes of it are in [`crate::rewrite`]).

use std::fmt;
use std::time::SystemTime;

use sha2::{Digest as _, Sha256};

use crate::declaration::{Declaration, DeclarationError, Declared};
use crate::layout::{Kind, Layout, LayoutError};
use crate::metadata::{Metadata, MetadataError};
use crate::signature::{PublicKey, Signature, SignatureError};
use crate::trust::{Signer, TrustedSigners, Untrusted};

/// The sha256 of a plugin file as it lies: what the host pins, records and tags sessions
/// with.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a sha256 digest (64 hexadecimal digits, as sha256sum prints)")]
pub struct DigestError {
    pub text: String,
}

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// 64 hexadecimal digits, in either case.
    pub fn parse(text: &str) -> Result<Digest, DigestError> {
        let mut digest = [0; 32];
        hex::decode_to_slice(text, &mut digest).map_err(|_| DigestError {
            text: text.to_owned(),
        })?;
        Ok(Digest(digest))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// How a signature travels with the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// In the file's last section, over every byte before it.
    Embedded,
    /// In `PLUGIN.wasm.sig` beside it, over the whole file (as `ssh-keygen -Y sign` makes it).
    Detached,
}

impl fmt::Display for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Carrier::Embedded => "embedded signature",
            Carrier::Detached => "detached signature (.sig)",
        })
    }
}

/// A signature that does not hold: the plugin was tampered with, or the signature is bad.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{carrier}: {source}")]
pub struct SignatureRefusal {
    pub carrier: Carrier,
    #[source]
    pub source: SignatureError,
}

/// A key whose signature over the file checked out (trusted or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBy {
    pub carrier: Carrier,
    pub key: PublicKey,
}

/// A valid signature and whether its key is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub carrier: Carrier,
    pub key: PublicKey,
    pub trust: Result<Signer, Untrusted>,
}

/// The file's valid signatures, each with its key's standing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub signatures: Vec<Checked>,
}

/// Why a plugin is not signed by a trusted key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotTrusted {
    #[error(
        "it is not signed (no embedded signature, no .sig file beside it); sign it with xacct sign or ssh-keygen -Y sign -n xacct-plugin"
    )]
    Unsigned,
    #[error("no trusted key signed it: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Untrusted(Vec<Untrusted>),
}

impl Verification {
    /// Decides the standing of keys whose signatures checked out: the part of a
    /// verification that depends on the trust lists and the time, not on the file.
    pub fn new(signed: Vec<SignedBy>, trusted: &TrustedSigners, at: SystemTime) -> Verification {
        Verification {
            signatures: signed
                .into_iter()
                .map(|SignedBy { carrier, key }| Checked {
                    carrier,
                    trust: trusted.authorize(&key, at),
                    key,
                })
                .collect(),
        }
    }

    /// The first trusted signer, or why there is none.
    pub fn trusted_signer(&self) -> Result<&Signer, NotTrusted> {
        if self.signatures.is_empty() {
            return Err(NotTrusted::Unsigned);
        }
        let mut untrusted = Vec::new();
        for checked in &self.signatures {
            match &checked.trust {
                Ok(signer) => return Ok(signer),
                Err(why) => untrusted.push(why.clone()),
            }
        }
        Err(NotTrusted::Untrusted(untrusted))
    }
}

/// A plugin file, its provenance sections found and their placement checked.
#[derive(Debug, Clone)]
pub struct PluginFile<'a> {
    bytes: &'a [u8],
    layout: Layout<'a>,
}

impl<'a> PluginFile<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<PluginFile<'a>, LayoutError> {
        Ok(PluginFile {
            bytes,
            layout: Layout::parse(bytes)?,
        })
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn kind(&self) -> Kind {
        self.layout.kind
    }

    pub fn layout(&self) -> &Layout<'a> {
        &self.layout
    }

    /// The sha256 of the whole file, embedded signature included.
    pub fn digest(&self) -> Digest {
        Digest::of(self.bytes)
    }

    /// What the embedded signature covers: every byte before it (all of them when there
    /// is none).
    pub fn unsigned_bytes(&self) -> &'a [u8] {
        match &self.layout.signature {
            Some(section) => &self.bytes[..section.range.start],
            None => self.bytes,
        }
    }

    pub fn embedded_signature(&self) -> Result<Option<Signature>, SignatureError> {
        self.layout
            .signature
            .as_ref()
            .map(|section| Signature::from_armored(section.data))
            .transpose()
    }

    /// The grant the plugin declares, if any.
    pub fn declaration(&self) -> Result<Option<Declared>, DeclarationError> {
        let Some(section) = &self.layout.grant else {
            return Ok(None);
        };
        Ok(Some(Declared {
            declaration: Declaration::parse(section.data)?,
            place: section.place,
            replaces_built: self.layout.replaced_grant.is_some(),
        }))
    }

    pub fn metadata(&self) -> Result<Metadata, MetadataError> {
        Metadata::read(&self.layout)
    }

    /// Checks every signature the plugin carries — the embedded one over the bytes before
    /// it, `detached` over the whole file — and returns the keys that made them. Any
    /// signature that does not hold refuses the file, trusted key or not: it is evidence
    /// of tampering, not a signature to skip. This is the costly part (a hash of the file
    /// per signature), and depends on nothing but the file and `detached`.
    pub fn signers(&self, detached: Option<&Signature>) -> Result<Vec<SignedBy>, SignatureRefusal> {
        let mut signed = Vec::new();
        let refuse = |carrier| move |source| SignatureRefusal { carrier, source };
        if let Some(embedded) = self
            .embedded_signature()
            .map_err(refuse(Carrier::Embedded))?
        {
            let key = embedded
                .check(self.unsigned_bytes())
                .map_err(refuse(Carrier::Embedded))?;
            signed.push(SignedBy {
                carrier: Carrier::Embedded,
                key,
            });
        }
        if let Some(detached) = detached {
            let key = detached
                .check(self.bytes)
                .map_err(refuse(Carrier::Detached))?;
            signed.push(SignedBy {
                carrier: Carrier::Detached,
                key,
            });
        }
        Ok(signed)
    }

    /// [`PluginFile::signers`], then each key's standing in `trusted` at time `at`.
    pub fn verify(
        &self,
        detached: Option<&Signature>,
        trusted: &TrustedSigners,
        at: SystemTime,
    ) -> Result<Verification, SignatureRefusal> {
        Ok(Verification::new(self.signers(detached)?, trusted, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_read_as_sha256sum_prints_them() {
        let digest = Digest::of(b"abc");
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(digest.to_string(), hex);
        assert_eq!(Digest::parse(hex), Ok(digest));
        assert_eq!(Digest::parse(&hex.to_uppercase()), Ok(digest));
        for bad in [
            "",
            &hex[1..],
            "sha256:ba78",
            &format!("{hex}0"),
            &hex.replace('a', "g"),
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }
}
