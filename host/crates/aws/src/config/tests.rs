use super::*;
use std::path::Path;
use xacct_core::config::file::Invalid;

/// The core's sections and the AWS ones, as the command line reads them.
fn parse(text: &str) -> Result<(CoreConfig, AwsSettings), ConfigError> {
    let path = Path::new("/etc/xacct/xacct.toml");
    let mut document = Document::parse(text, path)?;
    let sections = Sections::take(&mut document)?;
    let mut config = CoreConfig::read(&mut document, &sections)?;
    let settings = sections.finish(&document, &mut config)?;
    Ok((config, settings))
}

fn invalid(text: &str) -> Invalid {
    match parse(text) {
        Err(ConfigError::Invalid(invalid)) => invalid,
        other => panic!("expected an invalid config, got {other:?}"),
    }
}

const AWS: &str = r#"
[aws]
region = "eu-west-1"
endpoint_url = "http://127.0.0.1:5000"

[[account]]
id = "111111111111"
alias = "dev"
role = "xacct-target"
external_id = "ext-1"
session_duration = 3600

[[account]]
id = "222222222222"
alias = "prod"
region = "us-east-2"
role = "arn:aws:iam::222222222222:role/ops/xacct"
"#;

#[test]
fn aws_accounts_expand_role_names_and_inherit_the_home_region() {
    let (config, settings) = parse(AWS).unwrap();
    let aws = settings.aws.as_ref().unwrap();
    assert_eq!(aws.region.as_deref(), Some("eu-west-1"));
    assert_eq!(aws.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
    let dev = settings.role_of("111111111111").unwrap();
    assert_eq!(dev.role_arn, "arn:aws:iam::111111111111:role/xacct-target");
    assert_eq!(dev.external_id.as_deref(), Some("ext-1"));
    assert_eq!(dev.session_duration, Some(Duration::from_secs(3600)));
    assert_eq!(config.accounts[0].region, "eu-west-1");
    let prod = settings.role_of("222222222222").unwrap();
    assert_eq!(prod.role_arn, "arn:aws:iam::222222222222:role/ops/xacct");
    assert_eq!(config.accounts[1].region, "us-east-2");
}

#[test]
fn aws_account_errors_name_line_key_and_fix() {
    let err = invalid(&AWS.replace(
        "arn:aws:iam::222222222222:role",
        "arn:aws:iam::333333333333:role",
    ));
    assert_eq!((err.line, err.key.as_str()), (17, "account[1].role"));
    assert!(err.problem.contains("in account 333333333333"), "{err}");
    let err = invalid(&AWS.replace("3600", "600"));
    assert_eq!(
        (err.line, err.key.as_str()),
        (11, "account[0].session_duration")
    );
    assert!(err.fix.contains("900..=43200"));
    let err = invalid(&AWS.replace("43200", "x").replace("3600", "43201"));
    assert_eq!(err.key, "account[0].session_duration");
    let err = invalid(&AWS.replace("role = \"xacct-target\"\n", ""));
    assert_eq!(err.key, "account[0].role");
    let err = invalid(&AWS.replace("region = \"eu-west-1\"", "region = \"EU West (Ireland)\""));
    assert_eq!(err.key, "aws.region");
    assert!(
        err.problem.contains("not an AWS region code"),
        "{}",
        err.problem
    );
    let err = invalid(&AWS.replace("region = \"us-east-2\"", "region = \"Ohio\""));
    assert!(err.key.ends_with(".region"), "{}", err.key);
    let err = invalid(&AWS.replace("external_id = \"ext-1\"", "external_id = \"a b\""));
    assert_eq!(err.key, "account[0].external_id");
    let err = invalid(&AWS.replace("xacct-target", "bad role!"));
    assert_eq!(err.key, "account[0].role");
    let err = invalid(&format!("{AWS}\n[local]\nroot = \"x\"\n"));
    assert_eq!(err.key, "aws");
    let err = invalid(&AWS.replace("http://127.0.0.1:5000", "127.0.0.1:5000"));
    assert_eq!(err.key, "aws.endpoint_url");
}

#[test]
fn the_home_region_may_come_from_outside_the_file() {
    let (mut config, mut settings) = parse(&AWS.replace("region = \"eu-west-1\"\n", "")).unwrap();
    assert_eq!(settings.aws.as_ref().unwrap().region, None);
    settings.set_home_region(&mut config, "ap-south-1");
    let regions: Vec<&str> = config.accounts.iter().map(|a| a.region.as_str()).collect();
    assert_eq!(regions, ["ap-south-1", "us-east-2"], "own regions are kept");
}

#[test]
fn a_role_is_checked_on_the_local_backend_too_and_accounts_keep_their_keys() {
    let (_, settings) =
        parse("[[account]]\nid = \"111111111111\"\nalias = \"a\"\nrole = \"r\"\n").unwrap();
    assert_eq!(
        settings.role_of("111111111111").unwrap().role_arn,
        "arn:aws:iam::111111111111:role/r"
    );
    let err = invalid("[[account]]\nid = \"111111111111\"\nalias = \"a\"\nregion = \"Ohio\"\n");
    assert_eq!((err.line, err.key.as_str()), (4, "account[0].region"));
}

#[test]
fn a_grant_whose_session_policy_is_too_large_is_refused_on_aws_only() {
    let rules: Vec<String> = (0..40)
        .map(|i| format!("{{ buckets = \"bucket-number-{i}\", prefix = \"some/prefix/\", actions = [\"read\", \"list\"] }}"))
        .collect();
    let grant = format!(
        "[plugin.big]\naccounts = [\"*\"]\ns3 = [{}]\n",
        rules.join(", ")
    );
    let err = invalid(&format!("{AWS}\n{grant}"));
    assert_eq!(err.key, "plugin.big.s3");
    assert!(err.problem.contains("STS accepts 2048"), "{}", err.problem);
    parse(&format!("[local]\nroot = \"x\"\n{grant}")).unwrap();
}

#[test]
fn the_copy_threshold_and_the_throttle_budget_are_checked() {
    let with = |keys: &str| AWS.replace("[aws]\n", &format!("[aws]\n{keys}\n"));
    let err = invalid(&with("throttle_budget_secs = 7200"));
    assert_eq!(err.key, "aws.throttle_budget_secs");
    let err = invalid(&with("multipart_copy_threshold_mib = 1"));
    assert_eq!(err.key, "aws.multipart_copy_threshold_mib");
    let (_, settings) = parse(&with(
        "multipart_copy_threshold_mib = 5\nthrottle_budget_secs = 0",
    ))
    .unwrap();
    let aws = settings.aws.unwrap();
    assert_eq!(aws.multipart_copy_threshold, 5 << 20);
    assert_eq!(aws.throttle_budget, Duration::ZERO);
    let (_, settings) = parse(AWS).unwrap();
    let aws = settings.aws.unwrap();
    assert_eq!(aws.multipart_copy_threshold, 5 << 30, "CopyObject's 5 GB");
    assert_eq!(aws.throttle_budget, Duration::from_secs(60));
}

#[test]
fn session_tags_count_against_the_session_policy_limit() {
    let grant = |filler: usize| {
        format!(
            "[plugin.big]\naccounts = [\"*\"]\ns3 = [{{ buckets = \"b\", prefix = \"{}/\", actions = [\"read\"] }}]\n",
            "x".repeat(filler)
        )
    };
    // The largest grant that fits without tags.
    let fits = (0..2048)
        .rev()
        .map(grant)
        .find(|grant| parse(&format!("{AWS}\n{grant}")).is_ok())
        .unwrap();
    let tagged = AWS.replace("[aws]\n", "[aws]\nsession_tags = true\n");
    let err = invalid(&format!("{tagged}\n{fits}"));
    assert_eq!(err.key, "plugin.big.s3");
    assert!(err.problem.contains("session tags"), "{}", err.problem);
}
