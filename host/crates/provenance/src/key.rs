//! A signer's public key and the namespace its plugin signatures are made in: what both
//! signatures and the trusted set name (a leaf, so that neither imports the other for it).

use std::fmt;

use ssh_key::HashAlg;

/// The SSHSIG namespace of plugin signatures: a signature made for git commits, files or
/// any other purpose never passes for a plugin's.
pub const NAMESPACE: &str = "xacct-plugin";

/// A public key of a signer: what `ssh-keygen -l` fingerprints.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(pub(crate) ssh_key::public::KeyData);

impl PublicKey {
    /// An OpenSSH public key line, `ssh-ed25519 AAAA… [comment]` (the comment is dropped).
    pub fn from_openssh(line: &str) -> Result<PublicKey, String> {
        ssh_key::PublicKey::from_openssh(line.trim())
            .map(|key| PublicKey(key.key_data().clone()))
            .map_err(|err| format!("not an OpenSSH public key ({err})"))
    }

    /// `SHA256:…`, exactly as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        self.0.fingerprint(HashAlg::Sha256).to_string()
    }

    /// `ssh-ed25519 AAAA…`, without a comment.
    pub fn to_openssh(&self) -> String {
        ssh_key::PublicKey::from(self.0.clone())
            .to_openssh()
            .unwrap_or_else(|err| format!("<unencodable key: {err}>"))
    }

    /// The key type, e.g. `ssh-ed25519`.
    pub fn algorithm(&self) -> String {
        self.0.algorithm().to_string()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} {})", self.algorithm(), self.fingerprint())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} key {}", self.algorithm(), self.fingerprint())
    }
}
