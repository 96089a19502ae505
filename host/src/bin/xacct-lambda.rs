//! `bootstrap` of the xacct Lambda function: the host on Lambda's custom runtime
//! (see `xacct::lambda`).

/// As the CLI's: xacct's events at `info`, the AWS SDK's (which name access key ids at
/// `info`) only when something is wrong.
const LOG_FILTER: &str = "info,aws_config=warn,aws_runtime=warn,aws_smithy_runtime=warn,aws_sdk_sts=warn,aws_sdk_s3=warn,aws_sdk_organizations=warn";

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // CloudWatch keeps one event per line and shows no colour.
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(LOG_FILTER)),
        )
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    xacct::lambda::serve().await
}
