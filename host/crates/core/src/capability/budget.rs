//! An invocation's budgets at the gate: calls that reach a backend, calls refused, and
//! handles open at once (a capability's own budgets, such as S3's bytes and host memory,
//! are its own and record their overruns here).
//!
//! Spending past a budget records the reason and ends the invocation: the call that
//! overspent fails (a trap, or a stream error for bytes), the sandbox's epoch check traps
//! the guest at its next tick, and the report says `limit-exceeded` — even if the guest
//! swallowed the error and returned normally.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Serialize;

use crate::config::limits::BudgetLimits;

/// The trap that ends an invocation whose budget is spent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BudgetExhausted(pub String);

/// What an invocation used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// S3 calls that reached the backend.
    pub s3_calls: u64,
    /// Calls the grant refused (they never reached the backend).
    pub denied_calls: u64,
    /// Calls the backend refused: AWS IAM (a policy, a bucket policy, a KMS key), or on
    /// the local backend the file system. An operator fixes these in IAM, not in the
    /// plugin or its grant.
    pub aws_denied_calls: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

/// An invocation's call and handle budgets, what it has spent, and why it overran.
pub struct Budget {
    calls_limit: u64,
    handles_limit: u64,
    audit_limit: u64,
    calls: AtomicU64,
    audit_bytes: AtomicU64,
    denied: AtomicU64,
    backend_denials: Mutex<BackendDenials>,
    spent: AtomicBool,
    reason: Mutex<Option<String>>,
}

/// The calls the backend refused, and the last of them.
#[derive(Default)]
struct BackendDenials {
    count: u64,
    last: Option<AwsDenial>,
}

/// A call the backend refused: the IAM action it needed and the resource it named
/// (`s3:GetObject` on `arn:aws:s3:::bucket/key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AwsDenial {
    pub action: String,
    pub resource: String,
}

impl Budget {
    pub fn new(limits: &BudgetLimits) -> Budget {
        Budget {
            calls_limit: limits.s3_calls,
            handles_limit: limits.handles,
            audit_limit: limits.audit_bytes,
            calls: AtomicU64::new(0),
            audit_bytes: AtomicU64::new(0),
            denied: AtomicU64::new(0),
            backend_denials: Mutex::default(),
            spent: AtomicBool::new(false),
            reason: Mutex::new(None),
        }
    }

    /// Records the first budget overrun; the invocation ends at its next epoch tick.
    pub fn overrun(&self, reason: String) -> BudgetExhausted {
        let mut first = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        let reason = first.get_or_insert(reason).clone();
        self.spent.store(true, Ordering::Release);
        BudgetExhausted(reason)
    }

    /// Cheap enough for every epoch tick.
    pub fn is_spent(&self) -> bool {
        self.spent.load(Ordering::Acquire)
    }

    /// Why the invocation overran, if it did.
    pub fn overrun_reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// One more call is about to reach the backend. Once any budget is overspent the
    /// invocation is ending, and no call reaches the backend any more.
    pub fn spend_call(&self) -> Result<(), BudgetExhausted> {
        self.spend_calls(1)
    }

    /// `n` calls at once: a batch call spends one per key, so that a batch cannot do
    /// (or audit) a thousand times what a call may.
    pub fn spend_calls(&self, n: u64) -> Result<(), BudgetExhausted> {
        if self.is_spent() {
            return Err(BudgetExhausted(self.overrun_reason().unwrap_or_default()));
        }
        let calls = self.calls.fetch_add(n, Ordering::Relaxed).saturating_add(n);
        if calls > self.calls_limit {
            return Err(self.overrun(format!(
                "S3 call budget of {} calls exhausted",
                self.calls_limit
            )));
        }
        Ok(())
    }

    /// A call's audit line of at most `bytes`, charged before the call is made: past
    /// `audit_mib` the call is not made and the invocation ends, so one invocation's
    /// audit log stays bounded and holds every line of the calls it made.
    pub fn spend_audit(&self, bytes: u64) -> Result<(), BudgetExhausted> {
        let written = self.audit_bytes.fetch_add(bytes, Ordering::Relaxed);
        if written.saturating_add(bytes) > self.audit_limit {
            // Not written: the charge is given back, so the count stays what the log holds.
            self.audit_bytes.fetch_sub(bytes, Ordering::Relaxed);
            return Err(self.overrun(format!(
                "audit budget of {} MiB exhausted (audit_mib): the call's audit line would pass it",
                self.audit_limit >> 20
            )));
        }
        Ok(())
    }

    /// One more call was refused by the grant. Refusals are bounded like calls: each
    /// costs an audit line.
    pub fn note_denied(&self) -> Result<(), BudgetExhausted> {
        let denied = self.denied.fetch_add(1, Ordering::Relaxed) + 1;
        if denied > self.calls_limit {
            return Err(self.overrun(format!(
                "refused-call budget of {} calls exhausted",
                self.calls_limit
            )));
        }
        Ok(())
    }

    /// The backend refused a call (it had reached the backend, so it was counted as a
    /// call already): counted apart, and kept as the invocation's last such refusal.
    pub fn note_backend_denial(&self, denial: AwsDenial) {
        let mut denials = self
            .backend_denials
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        denials.count += 1;
        denials.last = Some(denial);
    }

    /// The last call the backend refused, if any.
    pub fn last_backend_denial(&self) -> Option<AwsDenial> {
        let denials = self
            .backend_denials
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        denials.last.clone()
    }

    /// A handle is about to open while `open` are open already.
    pub fn admit_handle(&self, open: usize) -> Result<(), BudgetExhausted> {
        if open as u64 >= self.handles_limit {
            return Err(self.overrun(format!(
                "handle budget of {} open handles exhausted",
                self.handles_limit
            )));
        }
        Ok(())
    }

    /// The calls made and refused (bytes are the capabilities' to add).
    pub fn usage(&self) -> Usage {
        Usage {
            s3_calls: self.calls.load(Ordering::Relaxed),
            denied_calls: self.denied.load(Ordering::Relaxed),
            aws_denied_calls: (self.backend_denials.lock())
                .unwrap_or_else(|e| e.into_inner())
                .count,
            ..Usage::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> BudgetLimits {
        BudgetLimits {
            s3_calls: 2,
            handles: 1,
            ..BudgetLimits::default()
        }
    }

    #[test]
    fn overspending_records_the_first_reason() {
        let budget = Budget::new(&limits());
        budget.spend_call().unwrap();
        budget.spend_call().unwrap();
        assert!(!budget.is_spent());
        let err = budget.spend_call().unwrap_err();
        assert_eq!(err.0, "S3 call budget of 2 calls exhausted");
        assert!(budget.is_spent());
        let _ = budget.overrun("write budget of 10 bytes exhausted".into());
        assert_eq!(
            budget.overrun_reason().unwrap(),
            "S3 call budget of 2 calls exhausted"
        );
        assert_eq!(budget.usage().s3_calls, 3);
    }

    #[test]
    fn handles_are_admitted_up_to_the_budget() {
        let budget = Budget::new(&limits());
        budget.admit_handle(0).unwrap();
        assert!(budget.admit_handle(1).is_err());
    }

    #[test]
    fn backend_refusals_are_counted_apart_and_the_last_kept() {
        let budget = Budget::new(&limits());
        budget.note_denied().unwrap();
        let denial = |key: &str| AwsDenial {
            action: "s3:GetObject".into(),
            resource: format!("arn:aws:s3:::b/{key}"),
        };
        budget.note_backend_denial(denial("first"));
        budget.note_backend_denial(denial("second"));
        let usage = budget.usage();
        assert_eq!((usage.denied_calls, usage.aws_denied_calls), (1, 2));
        assert_eq!(budget.last_backend_denial(), Some(denial("second")));
    }

    #[test]
    fn refusals_have_a_budget_too() {
        let budget = Budget::new(&limits());
        budget.note_denied().unwrap();
        budget.note_denied().unwrap();
        assert_eq!(
            budget.note_denied().unwrap_err().0,
            "refused-call budget of 2 calls exhausted"
        );
    }
}
