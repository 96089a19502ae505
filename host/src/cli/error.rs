//! What a command fails with.

/// A failure to report with exit code 2: bad config or usage.
pub struct UsageError(pub anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for UsageError {
    fn from(err: E) -> Self {
        UsageError(err.into())
    }
}
