//! The AWS provider against moto (behind the S3/STS-semantics shim): sessions assumed in
//! each account, regions and redirects, Organizations as the account source, AWS's faults,
//! the host deployed as a Lambda function and its Step Functions run, and the bucket-posture estate. `estate_*`: issue
//! 18's rules of real estates (SSE-KMS, role chaining, partitions, redirects,
//! Organizations…), each test naming the AWS rule it stands for.

mod aws_estate;
mod backend;
mod estate_identity;
#[cfg(feature = "lambda")]
mod estate_lambda;
mod estate_organizations;
mod estate_s3;
mod faults;
#[cfg(feature = "lambda")]
pub(crate) mod lambda;
#[cfg(feature = "lambda")]
mod lambda_containment;
mod organization_aliases;
mod organizations;
mod posture_estate;
#[cfg(feature = "lambda")]
mod step_functions;
