//! The plugin author's side: the sample plugins against known data, `xacct new`'s
//! projects, the errors an author reads, and developing without a config.

mod author_errors;
mod compatibility;
mod configless;
mod posture;
mod samples;
mod scaffold;
mod scaffold_quoting;
