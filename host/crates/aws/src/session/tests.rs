use super::*;

#[test]
fn session_names_identify_the_plugin_within_sts_limits() {
    assert_eq!(session_name("hello"), "xacct-hello");
    assert_eq!(session_name("a b/c"), "xacct-a-b-c");
    assert_eq!(session_name(&"x".repeat(100)).len(), 64);
}

#[test]
fn role_sessions_are_told_from_users() {
    assert!(is_role_session(
        "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin/jane"
    ));
    assert!(is_role_session(
        "arn:aws-cn:sts::123456789012:assumed-role/r/i-1"
    ));
    assert!(!is_role_session("arn:aws:iam::123456789012:user/ci"));
    assert!(!is_role_session("arn:aws:iam::123456789012:root"));
}

#[test]
fn the_source_identity_is_the_callers_name() {
    assert_eq!(
        source_identity_of(
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin/jane@example.com"
        ),
        "jane@example.com"
    );
    assert_eq!(
        source_identity_of("arn:aws:iam::123456789012:user/ci bot"),
        "ci-bot"
    );
    assert_eq!(source_identity_of(""), "xacct");
}
