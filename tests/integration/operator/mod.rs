//! The operator's side of the `xacct` command: choosing accounts and running across many,
//! the terminal, stopping a run, config mistakes (the `configs/` corpus), sharding, and
//! plugin output in the host's log.

mod config_mistakes;
mod install;
mod kept_files;
mod live_logs;
mod report_page;
mod report_page_files;
mod runs;
mod sharding;
mod stopping;
mod tampered_merges;
mod terminal;
