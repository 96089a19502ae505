//! A real STS + S3 + IAM protocol server for the AWS backend's tests: `moto` in server
//! mode on 127.0.0.1, on a free port, one per test, stopped when the test's [`Moto`] is
//! dropped. Accounts, roles and buckets are seeded through the real AWS APIs (the Rust
//! SDK), then moto's IAM enforcement is turned on so that the home identity's
//! `sts:AssumeRole` permission and each role's S3 permissions are really checked. Every
//! request goes through the S3/STS-semantics shim ([`super::shim`]), which holds moto to
//! AWS's rules where moto is lenient.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use serde_json::json;

use super::shim::Shim;

/// moto's default account: the home account A.
pub const HOME_ACCOUNT: &str = "123456789012";
/// The role every target account gets.
pub const ROLE: &str = "xacct-target";

pub struct Moto {
    child: Child,
    /// Where the tests reach moto: through the S3/STS-semantics shim in front of it.
    pub endpoint: String,
    /// moto itself, behind no shim: an S3-compatible endpoint that ignores what moto
    /// ignores (`x-amz-expected-bucket-owner` among it), for the tests of what the host
    /// must hold on such an endpoint by itself.
    pub unshimmed: String,
    shim: Shim,
}

fn moto_server() -> PathBuf {
    let path = std::env::var_os("XACCT_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server")
        });
    assert!(
        path.is_file(),
        "{} is missing: scripts/test installs moto[server] into .venv (or set XACCT_MOTO_SERVER)",
        path.display()
    );
    path
}

impl Moto {
    /// Starts moto and waits until it answers.
    pub fn start() -> Moto {
        let mut child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting moto_server");
        // moto logs every request: keep draining both pipes so it never blocks on them.
        // XACCT_MOTO_LOG=1 shows moto's own log, for debugging a test.
        let echo = std::env::var_os("XACCT_MOTO_LOG").is_some();
        let (lines, announced) = mpsc::channel();
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if echo {
                        eprintln!("moto: {line}");
                    }
                    let _ = lines.send(line);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let port = loop {
            let line = announced
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("moto_server did not say where it listens");
            if let Some(at) = line.find("http://127.0.0.1:") {
                let digits: String = line[at + 17..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                break digits.parse::<u16>().unwrap();
            }
        };
        let upstream = format!("127.0.0.1:{port}");
        let shim = Shim::start(&upstream);
        let moto = Moto {
            child,
            endpoint: shim.endpoint.clone(),
            unshimmed: format!("http://{upstream}"),
            shim,
        };
        while moto.request("GET", "/moto-api/", "").0 != 200 {
            assert!(Instant::now() < deadline, "moto_server never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// A plain HTTP/1.1 request to moto's own API: (status, body).
    fn request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let address = self.endpoint.trim_start_matches("http://");
        let Ok(mut stream) = TcpStream::connect(address) else {
            return (0, String::new());
        };
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut response = String::new();
        if stream.write_all(request.as_bytes()).is_err()
            || stream.read_to_string(&mut response).is_err()
        {
            return (0, String::new());
        }
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, response)
    }

    /// From now on the shim injects these faults.
    pub fn inject(&self, faults: super::shim::Faults) {
        self.shim.inject(faults);
    }

    /// The faults the shim injected so far.
    pub fn injected(&self) -> super::shim::Injected {
        self.shim.injected()
    }

    /// Makes every CopyObject wait `delay` in the shim before it reaches moto.
    pub fn delay_copies(&self, delay: Duration) {
        self.shim.delay_copies(delay);
    }

    /// The S3/STS-semantics shim in front of moto, for the rules a test sets
    /// (`limit_copies`, `flag_large_bucket_quota`, `answer_opt_in_redirects`…).
    pub fn shim(&self) -> &Shim {
        &self.shim
    }

    /// moto's record of every AssumeRole it answered.
    pub fn assumed_roles(&self) -> Vec<serde_json::Value> {
        let (status, response) = self.request("GET", "/moto-api/data.json", "");
        assert_eq!(status, 200, "{response}");
        let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        // Tolerate a chunked body: the JSON object is between the first '{' and last '}'.
        let json = &body[body.find('{').unwrap_or(0)..=body.rfind('}').unwrap_or(0)];
        let data: serde_json::Value = serde_json::from_str(json).expect("moto's data.json");
        data["sts"]["AssumedRole"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Every credential secret in play: the home user's keys and every assumed role's
    /// access key id, secret and session token.
    pub fn secrets(&self, home: &Home) -> Vec<String> {
        let mut secrets = vec![home.access_key_id.clone(), home.secret_access_key.clone()];
        for role in self.assumed_roles() {
            for field in ["access_key_id", "secret_access_key", "session_token"] {
                if let Some(secret) = role[field].as_str() {
                    secrets.push(secret.to_owned());
                }
            }
        }
        secrets
    }

    /// From now on moto authenticates every request and enforces IAM policies.
    pub fn enforce_iam(&self) {
        let (status, response) = self.request("POST", "/moto-api/reset-auth", "0");
        assert_eq!(status, 200, "{response}");
    }

    async fn sdk_config(&self, credentials: Credentials) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(credentials)
            .load()
            .await
    }

    /// Credentials acting in `account`, obtained before IAM is enforced (the seeding
    /// role need not exist then).
    async fn act_in(&self, account: &str) -> aws_config::SdkConfig {
        let bootstrap = Credentials::new("AKIAXACCTBOOTSTRAP00", "bootstrap", None, None, "seed");
        self.assume(bootstrap, &format!("arn:aws:iam::{account}:role/seed"))
            .await
    }

    async fn assume(&self, base: Credentials, role_arn: &str) -> aws_config::SdkConfig {
        let base = self.sdk_config(base).await;
        let assumed = aws_sdk_sts::Client::new(&base)
            .assume_role()
            .role_arn(role_arn)
            .role_session_name("xacct-test")
            .send()
            .await
            .unwrap();
        let credentials = assumed_credentials(&assumed);
        self.sdk_config(credentials).await
    }

    /// An S3 client acting in `account`, for seeding before [`Moto::enforce_iam`].
    pub async fn s3_in(&self, account: &str) -> aws_sdk_s3::Client {
        s3_client(&self.act_in(account).await)
    }

    /// Turns versioning on in `bucket` of `account` (seeding, before
    /// [`Moto::enforce_iam`]).
    pub async fn enable_versioning(&self, account: &str, bucket: &str) {
        let enabled = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
            .build();
        self.s3_in(account)
            .await
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(enabled)
            .send()
            .await
            .unwrap();
    }

    /// Sets the account-level public access block of `account` (S3 Control, seeding
    /// before [`Moto::enforce_iam`]), through the endpoint as xacct reaches it
    /// ([`xacct::aws::s3control::KeepEndpointHost`]).
    pub async fn block_public_access_of_account(&self, account: &str) {
        let config = self.act_in(account).await;
        let control = aws_sdk_s3control::Client::from_conf(
            aws_sdk_s3control::config::Builder::from(&config)
                .interceptor(xacct::aws::s3control::endpoint::KeepEndpointHost::new(
                    account,
                ))
                .build(),
        );
        let all = aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        control
            .put_public_access_block()
            .account_id(account)
            .public_access_block_configuration(all)
            .send()
            .await
            .unwrap();
    }

    /// Creates `bucket` in `region` of `account` (seeding, before [`Moto::enforce_iam`]),
    /// and returns the client of that region, to put its objects.
    pub async fn create_bucket_in(
        &self,
        account: &str,
        region: &str,
        bucket: &str,
    ) -> aws_sdk_s3::Client {
        let s3 = self.s3_in_region(account, region).await;
        let mut create = s3.create_bucket().bucket(bucket);
        // us-east-1 is the one region named by no location constraint.
        if region != "us-east-1" {
            create = create.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(region.into())
                    .build(),
            );
        }
        create.send().await.unwrap();
        s3
    }

    /// The bytes of `bucket/key` in `account`, read through its xacct role as the home
    /// identity.
    pub async fn object_as_home(
        &self,
        home: &Home,
        account: &str,
        (bucket, key): (&str, &str),
    ) -> Vec<u8> {
        object_bytes(&self.s3_as_home(home, account).await, bucket, key).await
    }

    /// An IAM client acting in `account`, for seeding before [`Moto::enforce_iam`].
    pub async fn iam_in(&self, account: &str) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.act_in(account).await)
    }

    /// An Organizations client acting in `account` (the management account when it
    /// creates the organization), for seeding before [`Moto::enforce_iam`].
    pub async fn organizations_in(&self, account: &str) -> aws_sdk_organizations::Client {
        aws_sdk_organizations::Client::new(&self.act_in(account).await)
    }

    /// An S3 client acting in `account` for buckets of `region`, for seeding before
    /// [`Moto::enforce_iam`] (the shim redirects requests signed for another region).
    pub async fn s3_in_region(&self, account: &str, region: &str) -> aws_sdk_s3::Client {
        let config = self.act_in(account).await;
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .region(Region::new(region.to_owned()))
                .force_path_style(true)
                .build(),
        )
    }

    /// The SDK config acting in `account` through its xacct role, as the home identity.
    async fn as_home(&self, home: &Home, account: &str) -> aws_config::SdkConfig {
        let base = Credentials::new(
            &home.access_key_id,
            &home.secret_access_key,
            None,
            None,
            "test-home",
        );
        self.assume(base, &format!("arn:aws:iam::{account}:role/{ROLE}"))
            .await
    }

    /// An S3 client acting in `account` through its xacct role, as the home identity:
    /// for reading back once IAM is enforced.
    pub async fn s3_as_home(&self, home: &Home, account: &str) -> aws_sdk_s3::Client {
        s3_client(&self.as_home(home, account).await)
    }

    /// An IAM client acting in `account` through its xacct role, as the home identity
    /// (only what the role's permissions allow).
    pub async fn iam_as_home(&self, home: &Home, account: &str) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.as_home(home, account).await)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The credentials an AssumeRole returned, as the SDK takes them.
pub fn assumed_credentials(
    assumed: &aws_sdk_sts::operation::assume_role::AssumeRoleOutput,
) -> Credentials {
    let c = assumed
        .credentials()
        .expect("AssumeRole returns credentials");
    Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "assumed",
    )
}

/// Seeds accounts `ids`, each with one bucket (`bucket(i)`), all assumable, all of S3
/// allowed to their role.
pub async fn seed_accounts(moto: &Moto, ids: &[String], bucket: impl Fn(usize) -> String) -> Home {
    let buckets: Vec<[String; 1]> = (0..ids.len()).map(|i| [bucket(i)]).collect();
    let bucket_refs: Vec<[&str; 1]> = buckets.iter().map(|[b]| [b.as_str()]).collect();
    let targets: Vec<Target> = ids
        .iter()
        .zip(&bucket_refs)
        .map(|(id, buckets)| Target {
            id,
            buckets,
            s3_actions: &["s3:*"],
            assumable: true,
        })
        .collect();
    seed(moto, &targets).await
}

/// Seeds accounts `ids` with their xacct roles, all assumable, `s3_actions` allowed, and
/// no bucket.
pub async fn seed_roles(moto: &Moto, ids: &[&str], s3_actions: &[&str]) -> Home {
    let targets: Vec<Target> = ids
        .iter()
        .map(|id| Target {
            id,
            buckets: &[],
            s3_actions,
            assumable: true,
        })
        .collect();
    seed(moto, &targets).await
}

fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

/// What one target account gets.
pub struct Target<'a> {
    pub id: &'a str,
    /// Buckets created in it.
    pub buckets: &'a [&'a str],
    /// S3 actions its role may perform.
    pub s3_actions: &'a [&'a str],
    /// Whether the home identity may assume its role.
    pub assumable: bool,
}

/// The home identity, seeded.
pub struct Home {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Home {
    pub fn provider(&self) -> SharedCredentialsProvider {
        SharedCredentialsProvider::new(Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "test-home",
        ))
    }
}

/// Seeds a role in the home account that the home user may assume and that may assume
/// every target's xacct role: the `role_arn` of a chained (`source_profile`) profile.
pub async fn seed_home_role(moto: &Moto, name: &str) -> String {
    let home_account = moto.act_in(HOME_ACCOUNT).await;
    let iam = aws_sdk_iam::Client::new(&home_account);
    let arn = format!("arn:aws:iam::{HOME_ACCOUNT}:role/{name}");
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{HOME_ACCOUNT}:user/xacct-home")},
        "Action": "sts:AssumeRole",
    }]});
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let permissions = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": format!("arn:aws:iam::*:role/{ROLE}")},
        {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
    ]});
    iam.put_role_policy()
        .role_name(name)
        .policy_name("xacct-assume")
        .policy_document(permissions.to_string())
        .send()
        .await
        .unwrap();
    let may_assume = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn},
    ]});
    iam.put_user_policy()
        .user_name("xacct-home")
        .policy_name("xacct-assume-runner")
        .policy_document(may_assume.to_string())
        .send()
        .await
        .unwrap();
    arn
}

/// Seeds the home user (allowed to assume the assumable targets' roles) and each target's
/// role and buckets, through the real IAM, STS and S3 APIs.
pub async fn seed(moto: &Moto, targets: &[Target<'_>]) -> Home {
    let home_account = moto.act_in(HOME_ACCOUNT).await;
    let iam = aws_sdk_iam::Client::new(&home_account);
    iam.create_user()
        .user_name("xacct-home")
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name("xacct-home")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    let assumable: Vec<String> = targets
        .iter()
        .filter(|t| t.assumable)
        .map(|t| format!("arn:aws:iam::{}:role/{ROLE}", t.id))
        .collect();
    let home_policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": assumable},
        {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
    ]});
    iam.put_user_policy()
        .user_name("xacct-home")
        .policy_name("xacct-assume")
        .policy_document(home_policy.to_string())
        .send()
        .await
        .unwrap();

    for target in targets {
        let config = moto.act_in(target.id).await;
        let iam = aws_sdk_iam::Client::new(&config);
        let trust = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{HOME_ACCOUNT}:user/xacct-home")},
            "Action": "sts:AssumeRole",
        }]});
        iam.create_role()
            .role_name(ROLE)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .unwrap();
        let permissions = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": target.s3_actions, "Resource": "*"},
            {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
        ]});
        iam.put_role_policy()
            .role_name(ROLE)
            .policy_name("xacct-s3")
            .policy_document(permissions.to_string())
            .send()
            .await
            .unwrap();
        let s3 = s3_client(&config);
        for bucket in target.buckets {
            s3.create_bucket().bucket(*bucket).send().await.unwrap();
        }
    }
    Home {
        access_key_id: key.access_key_id().to_owned(),
        secret_access_key: key.secret_access_key().to_owned(),
    }
}

/// The bytes of `bucket/key`, read with `s3`.
pub async fn object_bytes(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    s3.get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .to_vec()
}
