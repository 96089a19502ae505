//! SSH signatures (OpenSSH's PROTOCOL.sshsig) in the `xacct-plugin` namespace: what
//! `ssh-keygen -Y sign -n xacct-plugin -f KEY FILE` writes to `FILE.sig`, and what
//! `ssh-keygen -Y verify` checks against an `allowed_signers` file.
//!
//! ed25519 only: it is what `ssh-keygen -t ed25519` makes and what git signing guides
//! recommend, its signatures are deterministic, and a single algorithm leaves nothing to
//! negotiate. A signature by any other key type is refused by name, never ignored.

use std::fmt;
use std::time::SystemTime;

use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, SshSig};

pub use crate::key::{NAMESPACE, PublicKey};
use crate::trust::{Signer, TrustedSigners, Untrusted};

/// An armored signature larger than this is refused unread.
pub const MAX_ARMORED_BYTES: usize = crate::layout::MAX_SIGNATURE_BYTES;

/// Why a private key cannot sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "not an OpenSSH private key ({0}); make one with ssh-keygen -t ed25519 (a key in PEM or PKCS#8 form can be converted with ssh-keygen -p -f KEY)"
    )]
    Malformed(String),
    #[error(
        "the key is protected by a passphrase: sign with ssh-keygen -Y sign -n {NAMESPACE} -f KEY PLUGIN.wasm (it asks for the passphrase, or uses your agent), then embed PLUGIN.wasm.sig with xacct sign --signature, or leave it beside the plugin"
    )]
    Encrypted,
    #[error("the key is {0}; xacct signs with ed25519 keys only (ssh-keygen -t ed25519)")]
    Unsupported(String),
}

/// An unencrypted ed25519 private key, as `ssh-keygen -t ed25519 -N ""` writes it.
///
/// A key with a passphrase, in an agent or on a hardware token signs through `ssh-keygen
/// -Y sign`, whose signature xacct reads: xacct never asks for a passphrase.
pub struct SigningKey(PrivateKey);

impl SigningKey {
    /// Reads an OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`).
    pub fn from_openssh(text: &str) -> Result<SigningKey, KeyError> {
        let key = PrivateKey::from_openssh(text.trim())
            .map_err(|err| KeyError::Malformed(err.to_string()))?;
        if key.is_encrypted() {
            return Err(KeyError::Encrypted);
        }
        if key.algorithm() != Algorithm::Ed25519 {
            return Err(KeyError::Unsupported(key.algorithm().to_string()));
        }
        Ok(SigningKey(key))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.public_key().key_data().clone())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.public_key().fingerprint())
    }
}

/// Why a signature proves nothing about a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("not an SSH signature ({0})")]
    Malformed(String),
    #[error("the signature is {size} bytes, over the {MAX_ARMORED_BYTES} a signature may take")]
    TooLarge { size: usize },
    #[error(
        "the signature is for namespace {found:?}, not {NAMESPACE:?} (sign with ssh-keygen -Y sign -n {NAMESPACE})"
    )]
    WrongNamespace { found: String },
    #[error("the signature is made with {0}; xacct accepts ed25519 keys only")]
    UnsupportedAlgorithm(String),
    #[error(
        "the signature by {fingerprint} does not match these bytes: the file was changed after signing, or the signature is another file's"
    )]
    Mismatch { fingerprint: String },
    #[error("{0}")]
    Untrusted(#[from] Untrusted),
    #[error("cannot sign: {0}")]
    Signing(String),
}

/// An SSH signature in the `xacct-plugin` namespace, parsed but not yet checked.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature {
    sig: SshSig,
    armored: String,
}

impl Signature {
    /// Parses the armored form (`-----BEGIN SSH SIGNATURE-----` …), as in a `.sig` file or
    /// an embedded section.
    pub fn from_armored(text: &[u8]) -> Result<Signature, SignatureError> {
        if text.len() > MAX_ARMORED_BYTES {
            return Err(SignatureError::TooLarge { size: text.len() });
        }
        let text = std::str::from_utf8(text)
            .map_err(|_| SignatureError::Malformed("it is not text".into()))?;
        let armored = format!("{}\n", text.trim());
        let sig =
            SshSig::from_pem(&armored).map_err(|err| SignatureError::Malformed(err.to_string()))?;
        if sig.namespace() != NAMESPACE {
            return Err(SignatureError::WrongNamespace {
                found: sig.namespace().to_owned(),
            });
        }
        if sig.algorithm() != Algorithm::Ed25519 {
            return Err(SignatureError::UnsupportedAlgorithm(
                sig.algorithm().to_string(),
            ));
        }
        Ok(Signature { sig, armored })
    }

    /// The armored form: as read, or (for a signature made here) byte for byte what
    /// `ssh-keygen -Y sign` writes.
    pub fn to_armored(&self) -> &str {
        &self.armored
    }

    /// The key the signature claims to be made with (not yet checked).
    pub fn key(&self) -> PublicKey {
        PublicKey(self.sig.public_key().clone())
    }

    /// Checks the signature over `message` cryptographically, and returns the key that
    /// made it. Says nothing of whether that key is trusted: see [`verify`].
    pub fn check(&self, message: &[u8]) -> Result<PublicKey, SignatureError> {
        let key = ssh_key::PublicKey::from(self.sig.public_key().clone());
        key.verify(NAMESPACE, message, &self.sig)
            .map_err(|_| SignatureError::Mismatch {
                fingerprint: self.key().fingerprint(),
            })?;
        Ok(self.key())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(by {})", self.key())
    }
}

/// Signs `message` as `ssh-keygen -Y sign -n xacct-plugin` does (SHA-512 of the message).
pub fn sign(message: &[u8], key: &SigningKey) -> Result<Signature, SignatureError> {
    let signing = |err: ssh_key::Error| SignatureError::Signing(err.to_string());
    let sig = key
        .0
        .sign(NAMESPACE, HashAlg::Sha512, message)
        .map_err(signing)?;
    let armored = sig.to_pem(LineEnding::LF).map_err(signing)?;
    Ok(Signature { sig, armored })
}

/// Checks `signature` over `message` and that its key is trusted at time `at`.
pub fn verify(
    message: &[u8],
    signature: &Signature,
    trusted: &TrustedSigners,
    at: SystemTime,
) -> Result<Signer, SignatureError> {
    let key = signature.check(message)?;
    Ok(trusted.authorize(&key, at)?)
}
