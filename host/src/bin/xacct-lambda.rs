//! `bootstrap` of the xacct Lambda function: the host on Lambda's custom runtime
//! (see `xacct::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // CloudWatch keeps one event per line and shows no colour.
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(xacct::logging::filter())
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    xacct::lambda::serve().await
}
