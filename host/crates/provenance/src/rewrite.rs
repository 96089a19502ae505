//! The two rewrites xacct makes of a plugin file: embedding a signature (`xacct sign`)
//! and declaring a grant (`xacct plugin annotate`).

use std::ops::Range;

use crate::declaration::Declaration;
use crate::error::Error;
use crate::layout::{
    GRANT_SECTION, Layout, LayoutError, MAX_GRANT_BYTES, Place, SIGNATURE_SECTION, encode_custom,
};
use crate::plugin::PluginFile;
use crate::signature::{Signature, SigningKey, sign};

/// The file signed with `key`, the signature embedded as its last section; an embedded
/// signature it had is replaced.
pub fn sign_embedded(bytes: &[u8], key: &SigningKey) -> Result<Vec<u8>, Error> {
    let file = PluginFile::parse(bytes)?;
    let signature = sign(file.unsigned_bytes(), key)?;
    with_signature(file.unsigned_bytes(), &signature)
}

/// The file with `signature` — made over the file without any embedded signature, e.g.
/// by `ssh-keygen -Y sign` — embedded as its last section. A signature that does not
/// match is refused rather than embedded.
pub fn embed_signature(bytes: &[u8], signature: &Signature) -> Result<Vec<u8>, Error> {
    let file = PluginFile::parse(bytes)?;
    signature.check(file.unsigned_bytes())?;
    with_signature(file.unsigned_bytes(), signature)
}

fn with_signature(unsigned: &[u8], signature: &Signature) -> Result<Vec<u8>, Error> {
    let mut signed = unsigned.to_vec();
    signed.extend(encode_custom(
        SIGNATURE_SECTION,
        signature.to_armored().as_bytes(),
    ));
    // What xacct writes, xacct must read back.
    Layout::parse(&signed)?;
    Ok(signed)
}

/// A file rewritten with a declared grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotated {
    pub bytes: Vec<u8>,
    /// The file had an embedded signature: it is gone (it covered other bytes), and the
    /// file must be signed again.
    pub dropped_signature: bool,
    /// The file declares a grant from its build as well, which this one replaces.
    pub replaces_built: bool,
}

/// The file with `grant_text` as its declared grant, in a top-level section after every
/// other one; a top-level declaration it had is replaced, and its embedded signature
/// dropped (a signature over other bytes would only be a refusal at load).
pub fn annotate(bytes: &[u8], grant_text: &str) -> Result<Annotated, Error> {
    Declaration::parse(grant_text.as_bytes())?;
    if grant_text.len() > MAX_GRANT_BYTES {
        return Err(LayoutError::TooLarge {
            section: GRANT_SECTION,
            size: grant_text.len(),
            cap: MAX_GRANT_BYTES,
        }
        .into());
    }
    let layout = Layout::parse(bytes)?;
    let mut removed: Vec<Range<usize>> = Vec::new();
    if let Some(section) = &layout.grant
        && section.place == Place::TopLevel
    {
        removed.push(section.range.clone());
    }
    if let Some(section) = &layout.signature {
        removed.push(section.range.clone());
    }
    let mut annotated = Vec::with_capacity(bytes.len() + grant_text.len() + 32);
    let mut from = 0;
    for range in removed {
        annotated.extend_from_slice(&bytes[from..range.start]);
        from = range.end;
    }
    annotated.extend_from_slice(&bytes[from..]);
    annotated.extend(encode_custom(GRANT_SECTION, grant_text.as_bytes()));
    Layout::parse(&annotated)?;
    let replaces_built = match (&layout.grant, &layout.replaced_grant) {
        (Some(grant), _) if grant.place != Place::TopLevel => true,
        (_, Some(_)) => true,
        _ => false,
    };
    Ok(Annotated {
        bytes: annotated,
        dropped_signature: layout.signature.is_some(),
        replaces_built,
    })
}
