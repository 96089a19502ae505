//! A plan's hash from what a report says of its plan (the input by its sha256, the mode
//! by its name): what a run stamps on its report and what a merge recomputes. A leaf, so
//! that the plan (which names shards) and the shard merge (which checks hashes) do not
//! import each other.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The sha256 of an input as JSON (spacing and key order do not count), as a shard's
/// report carries it.
pub fn input_sha256(input: &str) -> String {
    let input = serde_json::from_str::<Value>(input)
        .map(|value| value.to_string())
        .unwrap_or_else(|_| input.to_owned());
    hex::encode(Sha256::digest(input.as_bytes()))
}

/// [`plan_hash`] from what a report says of its plan: the input by its sha256, the mode
/// by its name — what a merge recomputes it from.
pub fn plan_hash_of(
    sha256: Option<&str>,
    input_sha256: &str,
    mode: &str,
    dry_run: bool,
    accounts: &[&str],
) -> String {
    let mut hash = Sha256::new();
    // Each field length-prefixed, so no two plans hash the same bytes.
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    };
    field(b"xacct plan v2");
    field(sha256.unwrap_or_default().as_bytes());
    field(input_sha256.as_bytes());
    field(mode.as_bytes());
    field(&[u8::from(dry_run)]);
    for id in accounts {
        field(id.as_bytes());
    }
    hex::encode(hash.finalize())
}
