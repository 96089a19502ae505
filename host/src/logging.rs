//! The log filter of every xacct process, the command line's and the Lambda runtime's.

use tracing_subscriber::EnvFilter;

/// xacct's own events at `info`; the AWS SDK's only when something is wrong. At `info`
/// the SDK logs a line per resolved credential, with its access key id.
pub const LOG_FILTER: &str = "info,aws_config=warn,aws_runtime=warn,aws_smithy_runtime=warn,aws_sdk_sts=warn,aws_sdk_s3=warn,aws_sdk_organizations=warn";

/// `RUST_LOG` if set, else [`LOG_FILTER`].
pub fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(LOG_FILTER))
}
