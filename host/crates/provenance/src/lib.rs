//! Plugin provenance for xacct: which plugin file runs, who signed it, and what it asks for.
//!
//! - **Digest**: the sha256 of the file as it lies ([`Digest`]), what the host pins
//!   (`[plugin.NAME] sha256`) and records.
//! - **Signatures**: SSH signatures (OpenSSH's PROTOCOL.sshsig, namespace `xacct-plugin`,
//!   ed25519 keys), interchangeable with `ssh-keygen -Y sign` / `-Y verify`. Detached in
//!   `PLUGIN.wasm.sig` over the whole file, or embedded in the file's last section
//!   (`xacct-signature`) over every byte before it ([`sign_embedded`], [`embed_signature`]).
//! - **Trust**: `[trust] signers` keys and git's `allowed_signers` files ([`TrustedSigners`]).
//! - **Declared grant**: an `xacct-grant` section of TOML in the shape of a
//!   `[plugin.NAME]` section ([`Declaration`], [`annotate`]), and how far a grant exceeds it
//!   ([`excess`]).
//! - **Metadata**: the standard name, version, authors, … and producers ([`Metadata`]).
//!
//! Every file is untrusted input: each rule ends in a typed error, nothing panics, and no
//! read is sized by what a section claims.

pub mod declaration;
mod error;
mod glob;
pub mod grant;
mod key;
pub mod layout;
pub mod metadata;
mod plugin;
mod rewrite;
pub mod signature;
pub mod trust;

pub use declaration::{Declaration, DeclarationError, Declared, Mode};
pub use error::Error;
pub use grant::{AccountSelector, Action, Excess, GrantSpec, S3RuleSpec, excess};
pub use layout::{GRANT_SECTION, Kind, LayoutError, Place, SIGNATURE_SECTION};
pub use metadata::{Metadata, MetadataError};
pub use plugin::{
    Carrier, Checked, Digest, DigestError, NotTrusted, PluginFile, SignatureRefusal, SignedBy,
    Verification,
};
pub use rewrite::{Annotated, annotate, embed_signature, sign_embedded};
pub use signature::{
    KeyError, NAMESPACE, PublicKey, Signature, SignatureError, SigningKey, sign, verify,
};
pub use trust::{Origin, Refusal, Signer, TrustError, TrustedSigners, Untrusted};
