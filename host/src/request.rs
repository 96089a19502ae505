//! A run as an operator asks for it — from the command line or a Lambda event — made
//! into the pipeline's request the same way for both.

use std::time::Duration;

use xacct_core::pipeline::RunRequest;
use xacct_core::plan::{Mode, Selection};
use xacct_core::shard::Shard;

/// What is asked: a plugin, its input, and how it runs.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    pub plugin: String,
    /// JSON text handed to the plugin's `run`.
    pub input: String,
    /// One invocation that sees every account, instead of one per account.
    pub all_accounts: bool,
    pub selection: Selection,
    pub shard: Option<Shard>,
    pub dry_run: bool,
    /// Replaces the plugin's time limit.
    pub timeout: Option<Duration>,
}

/// An all-accounts run was asked for in shards.
#[derive(Debug, thiserror::Error)]
#[error("an all-accounts run is one invocation: it has no shards")]
pub struct ShardedAllAccounts;

impl Ask {
    pub fn mode(&self) -> Mode {
        if self.all_accounts {
            Mode::AllAccounts
        } else {
            Mode::PerAccount
        }
    }

    /// The pipeline's request (no audit log; a fresh cancellation token).
    pub fn into_request(self) -> Result<RunRequest, ShardedAllAccounts> {
        if self.all_accounts && self.shard.is_some() {
            return Err(ShardedAllAccounts);
        }
        let mut request = RunRequest::new(&self.plugin, &self.input, self.mode());
        request.selection = self.selection;
        request.shard = self.shard;
        request.dry_run = self.dry_run;
        request.timeout = self.timeout;
        Ok(request)
    }
}
