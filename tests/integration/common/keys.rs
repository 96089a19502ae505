//! Signing keys for the provenance tests and the bench: ed25519 keys as `ssh-keygen -t
//! ed25519` writes them, made from a one-byte seed so that every run signs alike.

use xacct::provenance::SigningKey;

/// The key of `seed`, its comment `comment`.
pub fn ed25519(seed: u8, comment: &str) -> ssh_key::PrivateKey {
    let pair = ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]);
    ssh_key::PrivateKey::new(pair.into(), comment).unwrap()
}

/// The private key file's text, as `ssh-keygen -t ed25519 -N ""` writes it.
pub fn openssh(key: &ssh_key::PrivateKey) -> String {
    key.to_openssh(ssh_key::LineEnding::LF).unwrap().to_string()
}

/// The key as xacct signs with it, and its `ssh-ed25519 AAAA… comment` line.
pub fn signer(seed: u8, comment: &str) -> (SigningKey, String) {
    let key = ed25519(seed, comment);
    (
        SigningKey::from_openssh(&openssh(&key)).unwrap(),
        key.public_key().to_openssh().unwrap(),
    )
}
