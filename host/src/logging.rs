//! The log filter of every xacct process, the command line's and the Lambda runtime's.

use tracing_subscriber::EnvFilter;

/// xacct's own events at `info`; the AWS SDK's only when something is wrong. At `info`
/// the SDK logs a line per resolved credential, with its access key id.
pub const LOG_FILTER: &str = "info,aws_config=warn,aws_runtime=warn,aws_smithy_runtime=warn,aws_sdk_sts=warn,aws_sdk_s3=warn,aws_sdk_s3control=warn,aws_sdk_organizations=warn";

/// `RUST_LOG` if set, else [`LOG_FILTER`].
pub fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(LOG_FILTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every AWS crate the host links that logs at `info` (the SDK clients name access
    /// key ids there) is held to `warn`, in every process: the command line's filter once
    /// lacked the Organizations client the Lambda's had.
    #[test]
    fn every_aws_client_the_host_links_is_quiet_below_warn() {
        let manifest = include_str!("../crates/aws/Cargo.toml");
        let clients: Vec<String> = manifest
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .filter(|name| name.starts_with("aws-sdk-") || *name == "aws-config")
            .map(|name| name.replace('-', "_"))
            .collect();
        assert!(clients.len() >= 4, "{clients:?}");
        for client in clients {
            assert!(
                LOG_FILTER.contains(&format!(",{client}=warn")),
                "{client} is not held to warn in {LOG_FILTER}"
            );
        }
    }
}
