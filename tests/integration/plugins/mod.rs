//! The plugin author's side: the sample plugins against known data, `xacct new`'s
//! projects, the errors an author reads, developing without a config, and the toolchains
//! the samples need.

mod author_errors;
mod compatibility;
mod configless;
mod posture;
mod posture_fix;
mod purge_versions;
mod samples;
mod scaffold;
mod scaffold_quoting;
mod toolchains;
