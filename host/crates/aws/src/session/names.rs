//! The names a session gives STS: its RoleSessionName and SourceIdentity, kept to what
//! STS accepts.

/// Keeps what RoleSessionName and SourceIdentity allow (`[\w+=,.@-]`), up to 64.
pub(super) fn sts_name(text: &str) -> String {
    let mut cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    cleaned.truncate(64);
    cleaned
}

/// `xacct-<plugin>`, so that CloudTrail shows which plugin acted.
pub fn session_name(plugin: &str) -> String {
    sts_name(&format!("xacct-{plugin}"))
}

/// The source identity derived from the home caller: the last part of its ARN (a user's
/// name, or an assumed role's session name — on SSO, the person).
pub(super) fn source_identity_of(caller_arn: &str) -> String {
    let name = caller_arn.rsplit(['/', ':']).next().unwrap_or("xacct");
    let name = sts_name(name);
    if name.len() < 2 {
        "xacct".to_owned()
    } else {
        name
    }
}
