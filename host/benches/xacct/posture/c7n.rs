//! Cloud Custodian's side: `c7n-org run` of `c7n.yml` over the estate, as an operator
//! runs it (one process, its own worker processes, the home identity's keys in the
//! environment, each account's role assumed through STS), and the findings read back
//! from what it wrote (`OUT/ACCOUNT/REGION/POLICY/resources.json`).
//!
//! What it needs to run against the local endpoints, all through configuration (c7n's
//! code is used as released):
//! - `AWS_ENDPOINT_URL` (botocore's endpoint for every service: STS, S3, IAM, S3
//!   Control) and, as `HTTP_PROXY`, the same address: S3 Control's endpoint rules put the
//!   account id in front of the host (`http://ACCOUNT.127.0.0.1:port`), which no resolver
//!   answers, and botocore sends such a request through the proxy instead (the tally
//!   takes absolute-form requests; moto routes S3 Control by its `/v20180820/` path).
//! - The home identity's keys and `us-east-1` in the environment, and no shared config
//!   or credentials file and no instance metadata, so that nothing of this machine's own
//!   AWS setup leaks in.
//! - A fresh `--cache-path` per run: c7n-org otherwise reuses the bucket inventory it
//!   cached within the last 15 minutes, and a second run would fetch nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{Estate, Findings};
use crate::common::moto::ROLE;
use crate::common::posture_estate::FINDINGS;

/// The policy that holds the bucket half of `no-public-access-block`, and the one that
/// holds the account half: a bucket has the finding when both matched.
const BUCKET_BLOCK: &str = "no-public-access-block";
const ACCOUNT_BLOCK: &str = "account-public-access-block";

const REGION: &str = "us-east-1";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// c7n-org's worker processes: `XACCT_BENCH_C7N_PARALLEL`, else c7n-org's default (four
/// per CPU), said explicitly so that the report can name it.
pub fn parallelism() -> usize {
    std::env::var("XACCT_BENCH_C7N_PARALLEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| 4 * std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The policy file: `XACCT_BENCH_C7N_POLICIES`, else `c7n.yml` beside this file. Its
/// policies must keep the names (and finding codes) of `c7n.yml`.
fn policies() -> PathBuf {
    std::env::var_os("XACCT_BENCH_C7N_POLICIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("host/benches/xacct/posture/c7n.yml"))
}

fn c7n_org() -> PathBuf {
    let path = workspace().join(".venv-c7n/bin/c7n-org");
    assert!(
        path.is_file(),
        "{} is missing: scripts/install-c7n installs Cloud Custodian into .venv-c7n",
        path.display()
    );
    path
}

/// c7n-org's accounts file: each estate account, its role assumed from the home identity.
fn accounts_file(estate: &Estate) -> String {
    let mut text = String::from("accounts:\n");
    for id in &estate.accounts {
        text.push_str(&format!(
            "  - account_id: \"{id}\"\n    name: \"{id}\"\n    regions: [{REGION}]\n    role: arn:aws:iam::{id}:role/{ROLE}\n"
        ));
    }
    text
}

/// What a c7n-org run found, and the processor time it took.
pub struct C7nRun {
    pub findings: Findings,
    /// User and system time of c7n-org and its worker processes.
    pub cpu: Duration,
}

/// User plus system time of this process's children that have been waited for
/// (`cutime` and `cstime` of `/proc/self/stat`, in the kernel's fixed 100 Hz USER_HZ).
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[13].parse::<u64>().unwrap() + fields[14].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// Runs c7n-org over the estate with `parallel` worker processes: what it found, and
/// its processor time. Its accounts file, log and output stay in `target/bench/c7n-org/` for
/// inspection. Panics (with c7n-org's log) if it fails.
pub async fn run(estate: &Estate, parallel: usize) -> C7nRun {
    let dir = crate::common::target_dir().join("bench/c7n-org");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("cache")).unwrap();
    std::fs::write(dir.join("accounts.yml"), accounts_file(estate)).unwrap();
    let log = std::fs::File::create(dir.join("c7n-org.log")).unwrap();
    let endpoint = estate.endpoint();
    let home = &estate.planted.home;
    let mut command = Command::new(c7n_org());
    command
        .args([
            "run",
            "-c",
            "accounts.yml",
            "-s",
            "out",
            "--cache-path",
            "cache",
            "-u",
        ])
        .arg(policies())
        .current_dir(&dir)
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    for variable in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "HTTPS_PROXY",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
        "http_proxy",
    ] {
        command.env_remove(variable);
    }
    command
        .env("AWS_ACCESS_KEY_ID", &home.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &home.secret_access_key)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("HTTP_PROXY", &endpoint)
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("C7N_ORG_PARALLEL", parallel.to_string());
    let (status, cpu) = tokio::task::spawn_blocking(move || {
        let before = children_cpu();
        let status = command.status().unwrap();
        (status, children_cpu() - before)
    })
    .await
    .unwrap();
    let log = std::fs::read_to_string(dir.join("c7n-org.log")).unwrap_or_default();
    assert!(status.success(), "c7n-org failed ({status}):\n{log}");
    C7nRun {
        findings: findings(estate, &dir.join("out")),
        cpu,
    }
}

/// The findings c7n-org wrote: per bucket, the aws.s3 policies that matched it, with
/// the bucket half of the public access block check kept only where the account half
/// matched the bucket's account too.
fn findings(estate: &Estate, out: &Path) -> Findings {
    let matched = |account: &str, policy: &str| -> Vec<serde_json::Value> {
        let path = out
            .join(account)
            .join(REGION)
            .join(policy)
            .join("resources.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("c7n-org wrote no {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    };
    let mut found = Findings::new();
    for account in &estate.accounts {
        let account_unblocked = matched(account, ACCOUNT_BLOCK)
            .iter()
            .any(|resource| resource["account_id"] == account.as_str());
        // The aws.s3 policies of `c7n.yml` are named after the findings they report.
        for policy in FINDINGS {
            if policy == BUCKET_BLOCK && !account_unblocked {
                continue;
            }
            for bucket in matched(account, policy) {
                let name = bucket["Name"].as_str().expect("an S3 resource has a Name");
                found
                    .entry(name.to_owned())
                    .or_default()
                    .insert(policy.to_owned());
            }
        }
    }
    found
}
