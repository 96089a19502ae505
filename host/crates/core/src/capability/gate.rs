//! The gate every capability call passes, whatever the capability: the request has been
//! checked (a malformed one never gets here), then the grant's verdict → the budget →
//! the dry run → the backend, as a task of the invocation → the audit log, with the
//! call's real outcome.
//!
//! A refused call never reaches the backend; a planned one (dry run) costs what the
//! executed one would; a call that reaches the backend runs as a task of the
//! invocation ([`InFlight`]) and is audited when it ends, even if the guest stopped
//! waiting for it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use super::budget::{AwsDenial, Budget, BudgetExhausted};
use super::inflight::InFlight;
use crate::audit::{AuditEvent, AuditLog, timestamp};
use crate::bindings::{DeniedBy, S3Error};

/// How many planned mutations a dry run keeps for its report; the audit log has them all.
pub const MAX_PLANNED_RECORDS: usize = 1000;

/// What every invocation of one run shares: who is running, and how.
pub struct RunContext {
    pub plugin: String,
    /// sha256 of the plugin's component.
    pub sha256: String,
    /// The fingerprint (`SHA256:…`) of the trusted key that signed it, if one did.
    pub signer: Option<String>,
    /// Mutations are planned, not executed.
    pub dry_run: bool,
    pub audit: Option<Arc<AuditLog>>,
    /// The partition the ARNs of the run's resources name (`aws`, `aws-cn`, …), as its
    /// provider says ([`crate::provider::ProviderRun::arn_partition`]).
    pub arn_partition: &'static str,
}

/// A mutation a dry run did not execute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedOperation {
    pub operation: &'static str,
    pub bucket: String,
    /// Empty for a bucket's setting.
    pub key: String,
    /// A bucket setting's write: its name, its value now (null: not configured) and the
    /// value planned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
}

/// The mutations a dry run did not execute: the first [`MAX_PLANNED_RECORDS`], and how
/// many more there were.
#[derive(Debug, Default, Clone)]
pub struct Planned {
    pub operations: Vec<PlannedOperation>,
    pub omitted: u64,
}

/// One call, as the gate, the audit log and a dry run's report see it.
pub trait Call: Send + Sync + 'static {
    /// What the audit line records of the call besides its operation (flattened into it).
    type Target: Serialize + Send + Sync;

    /// The operation, as the audit log names it.
    fn operation(&self) -> &'static str;
    /// Whether a dry run plans the call rather than running it.
    fn mutates(&self) -> bool;
    fn target(&self) -> &Self::Target;
    /// What a dry run's report lists for the call: one entry per object it would change.
    fn planned(&self) -> Vec<PlannedOperation>;
    /// The IAM action and resource (an ARN in `partition`) the backend refused when it
    /// refuses the call, for the report's `denied_by_aws`.
    fn denial(&self, partition: &str) -> AwsDenial;
    /// Calls of the budget it spends: one, or one per key of a batch.
    fn calls(&self) -> u64 {
        1
    }
}

/// An outcome as long as the longest the audit log writes (`limit-exceeded`, with room):
/// what a line is charged for before its real outcome is known.
const LONGEST_OUTCOME: &str = "________________________________";
/// A timestamp as long as the longest [`timestamp`] writes.
const LONGEST_TIME: &str = "0000-00-00T00:00:00.000000Z";

/// Counts the bytes written to it.
#[derive(Default)]
struct ByteCount(u64);

impl std::io::Write for ByteCount {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How many object bytes a call's result moved, for the audit log.
pub trait Moved {
    fn bytes(&self) -> Option<u64> {
        None
    }
}

impl Moved for () {}

/// Where an admitted call goes.
pub enum Admission {
    /// Refused by the grant: the guest gets this error.
    Denied(S3Error),
    /// A dry run's mutation: planned, not executed.
    Planned,
    /// To the backend.
    Execute,
}

/// One invocation's gate.
pub struct Gate {
    run: Arc<RunContext>,
    budget: Arc<Budget>,
    in_flight: InFlight,
    planned: Mutex<Planned>,
}

impl Gate {
    pub fn new(run: Arc<RunContext>, budget: Arc<Budget>) -> Gate {
        Gate {
            run,
            budget,
            in_flight: InFlight::default(),
            planned: Mutex::new(Planned::default()),
        }
    }

    pub fn run(&self) -> &RunContext {
        &self.run
    }

    pub fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    /// The invocation's backend calls, to wait for once it has ended.
    pub fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    /// The mutations a dry run planned, so far.
    pub fn planned(&self) -> Planned {
        self.planned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Admits a call in `account` that the grant allowed or refused (`granted`): spends
    /// one call of the budget (an overspent budget traps), and in a dry run plans a
    /// mutation instead. Refusals and planned mutations are audited here.
    pub fn admit<C: Call>(
        &self,
        account: &str,
        call: &C,
        granted: Result<(), S3Error>,
    ) -> Result<Admission, BudgetExhausted> {
        let started = Instant::now();
        if let Err(denied) = granted {
            self.budget.note_denied()?;
            self.charge_audit(account, call)?;
            self.record(account, call, "denied", None, started);
            return Ok(Admission::Denied(denied));
        }
        // A planned call costs what the executed one would: a dry run cannot be used to
        // make more calls, or keep more of them in memory, than a real run.
        self.budget.spend_calls(call.calls())?;
        self.charge_audit(account, call)?;
        if call.mutates() && self.run.dry_run {
            self.record(account, call, "planned", None, started);
            let mut planned = self.planned.lock().unwrap_or_else(|e| e.into_inner());
            let operations = call.planned();
            let room = MAX_PLANNED_RECORDS.saturating_sub(planned.operations.len());
            planned.omitted += operations.len().saturating_sub(room) as u64;
            planned.operations.extend(operations.into_iter().take(room));
            return Ok(Admission::Planned);
        }
        Ok(Admission::Execute)
    }

    /// Runs an admitted call's backend work as a task of the invocation, which records
    /// its outcome in the audit log when it ends, whether or not the guest still waits.
    pub async fn execute<C, T, F>(&self, account: &str, call: C, work: F) -> Result<T, S3Error>
    where
        C: Call,
        T: Moved + Send + 'static,
        F: Future<Output = Result<T, S3Error>> + Send + 'static,
    {
        let audited = self.audited(account, call, work);
        self.in_flight
            .spawn(audited)
            .await
            .unwrap_or_else(|_| Err(S3Error::Other("the call failed in the host".into())))
    }

    /// `work`, then its outcome in the audit log: for a call whose work the capability
    /// runs as a task of its own (a put ends when the guest finishes the upload).
    pub fn audited<C, T, F>(
        &self,
        account: &str,
        call: C,
        work: F,
    ) -> impl Future<Output = Result<T, S3Error>> + Send + 'static
    where
        C: Call,
        T: Moved + Send + 'static,
        F: Future<Output = Result<T, S3Error>> + Send + 'static,
    {
        let partition = self.run.arn_partition;
        let auditor = Auditor {
            run: self.run.clone(),
            account: account.to_owned(),
        };
        let budget = self.budget.clone();
        let started = Instant::now();
        async move {
            let result = work.await;
            match &result {
                Ok(value) => auditor.record(&call, "ok", value.bytes(), started),
                Err(err) => {
                    if let S3Error::AccessDenied(denied) = err
                        && denied.by == DeniedBy::Backend
                    {
                        budget.note_backend_denial(call.denial(partition));
                    }
                    auditor.record(&call, err.kind(), None, started)
                }
            }
            result
        }
    }

    /// Charges the invocation's audit budget with the most bytes `call`'s line can take,
    /// whatever its outcome — before the call is made, so that every call made has its
    /// whole line and the log stays within `audit_mib`. Nothing without an audit log.
    fn charge_audit<C: Call>(&self, account: &str, call: &C) -> Result<(), BudgetExhausted> {
        if self.run.audit.is_none() {
            return Ok(());
        }
        let mut line = ByteCount::default();
        let longest = AuditEvent {
            time: LONGEST_TIME.to_owned(),
            plugin: &self.run.plugin,
            sha256: &self.run.sha256,
            signer: self.run.signer.as_deref(),
            account,
            operation: call.operation(),
            target: call.target(),
            bytes: Some(u64::MAX),
            outcome: LONGEST_OUTCOME,
            duration_ms: u64::MAX,
        };
        // A target that does not serialise is not written either (the log says why).
        let _ = serde_json::to_writer(&mut line, &longest);
        self.budget.spend_audit(line.0 + 1)
    }

    fn record<C: Call>(
        &self,
        account: &str,
        call: &C,
        outcome: &str,
        bytes: Option<u64>,
        started: Instant,
    ) {
        Auditor {
            run: self.run.clone(),
            account: account.to_owned(),
        }
        .record(call, outcome, bytes, started);
    }
}

/// Records calls of one account to the run's audit log.
struct Auditor {
    run: Arc<RunContext>,
    account: String,
}

impl Auditor {
    fn record<C: Call>(&self, call: &C, outcome: &str, bytes: Option<u64>, started: Instant) {
        let Some(audit) = &self.run.audit else { return };
        audit.record(&AuditEvent {
            time: timestamp(),
            plugin: &self.run.plugin,
            sha256: &self.run.sha256,
            signer: self.run.signer.as_deref(),
            account: &self.account,
            operation: call.operation(),
            target: call.target(),
            bytes,
            outcome,
            duration_ms: started.elapsed().as_millis() as u64,
        });
    }
}
