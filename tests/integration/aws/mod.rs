//! The AWS provider against moto (behind the S3/STS-semantics shim): sessions assumed in
//! each account, regions and redirects, Organizations as the account source, AWS's faults,
//! the host deployed as a Lambda function, and the bucket-posture estate.

mod aws_estate;
mod backend;
mod faults;
#[cfg(feature = "lambda")]
pub(crate) mod lambda;
mod organization_aliases;
mod organizations;
mod posture_estate;
