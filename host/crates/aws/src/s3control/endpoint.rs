//! The interceptor that keeps a custom endpoint's host for S3 Control (why: see the
//! parent module). A leaf: the session builds its S3 Control client with it.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Drops the `ACCOUNT.` the endpoint rules put in front of a custom endpoint's host.
#[derive(Debug)]
pub struct KeepEndpointHost {
    prefix: String,
}

impl KeepEndpointHost {
    pub fn new(account_id: &str) -> Self {
        KeepEndpointHost {
            prefix: format!("{account_id}."),
        }
    }

    /// `uri` with the account prefix taken off its host, if it has one.
    fn unprefixed(&self, uri: &str) -> Option<String> {
        let (scheme, rest) = uri.split_once("://")?;
        let rest = rest.strip_prefix(&self.prefix)?;
        Some(format!("{scheme}://{rest}"))
    }
}

impl Intercept for KeepEndpointHost {
    fn name(&self) -> &'static str {
        "KeepEndpointHost"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        if let Some(uri) = self.unprefixed(request.uri()) {
            request.set_uri(uri.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_accounts_own_prefix_is_taken_off() {
        let keep = KeepEndpointHost::new("920000000000");
        assert_eq!(
            keep.unprefixed(
                "http://920000000000.127.0.0.1:4566/v20180820/configuration/publicAccessBlock"
            )
            .as_deref(),
            Some("http://127.0.0.1:4566/v20180820/configuration/publicAccessBlock")
        );
        assert_eq!(keep.unprefixed("http://127.0.0.1:4566/v20180820/x"), None);
        assert_eq!(keep.unprefixed("http://111111111111.127.0.0.1/"), None);
    }
}
