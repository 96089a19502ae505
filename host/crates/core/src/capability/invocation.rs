//! What one invocation may reach: the accounts of its scope, through each capability,
//! within the plugin's grant and the invocation's budgets; and the view of the store the
//! host functions of every WIT interface work on (the `Ctx`/`View` split of
//! wasmtime-wasi: state lives in the store, the view borrows what it needs).

use std::sync::{Arc, Mutex};

use wasmtime::component::{HasData, Resource, ResourceTable};

use super::budget::{Budget, BudgetExhausted, Usage};
use super::gate::{Gate, Planned, RunContext};
use super::grant::Grant;
use super::inflight::InFlight;
use super::s3::backend::Backend;
use super::s3::budget::S3Budget;
use super::s3::state::S3State;
use crate::bindings::Account;
use crate::bindings::xacct::plugin::{accounts, invocation, types};
use crate::config::limits::Limits;
use crate::plan::Scope;

/// One invocation's capabilities.
pub struct Capability {
    pub(crate) gate: Gate,
    pub(crate) scope: Scope,
    /// Table slots of the handles this invocation opened (clients, uploads, streams).
    handles: Mutex<Vec<u32>>,
    pub(crate) s3: S3State,
}

impl Capability {
    pub fn new(
        backend: Arc<dyn Backend>,
        scope: Scope,
        grant: Arc<Grant>,
        limits: &Limits,
        run: Arc<RunContext>,
    ) -> Self {
        let budget = Arc::new(Budget::new(&limits.budget));
        let s3_budget = S3Budget::new(budget.clone(), limits.budget, limits.host_buffer());
        Capability {
            gate: Gate::new(run, budget),
            scope,
            handles: Mutex::new(Vec::new()),
            s3: S3State::new(backend, grant.s3.clone(), s3_budget),
        }
    }

    /// The invocation's backend calls, to wait for once it has ended.
    pub fn in_flight(&self) -> InFlight {
        self.gate.in_flight().clone()
    }

    /// The invocation's budgets and what it spent.
    pub fn budget(&self) -> Arc<Budget> {
        self.gate.budget().clone()
    }

    /// What the invocation uses, readable after the invocation's store is gone (calls
    /// that outlived it still spend).
    pub fn meter(&self) -> Meter {
        Meter {
            budget: self.gate.budget().clone(),
            s3: self.s3.budget.clone(),
        }
    }

    /// The mutations a dry run planned, so far.
    pub fn planned(&self) -> Planned {
        self.gate.planned()
    }
}

/// Reads what an invocation used.
pub struct Meter {
    budget: Arc<Budget>,
    s3: Arc<S3Budget>,
}

impl Meter {
    /// Calls made and refused, and the bytes each capability moved.
    pub fn usage(&self) -> Usage {
        let (bytes_read, bytes_written) = self.s3.transferred();
        Usage {
            bytes_read,
            bytes_written,
            ..self.budget.usage()
        }
    }
}

/// The view of the store the capabilities' host functions work on.
pub struct CapabilityView<'a> {
    pub capability: &'a Capability,
    pub table: &'a mut ResourceTable,
}

/// Names [`CapabilityView`] for `bindgen!`'s `add_to_linker`.
pub struct CapabilityData;

impl HasData for CapabilityData {
    type Data<'a> = CapabilityView<'a>;
}

impl CapabilityView<'_> {
    /// Puts a handle in the table if the handle budget allows one more.
    pub(crate) fn push_handle<T: Send + 'static>(
        &mut self,
        value: T,
    ) -> wasmtime::Result<Resource<T>> {
        self.admit_handle()?;
        let resource = self.table.push(value)?;
        self.held(resource.rep());
        Ok(resource)
    }

    /// Puts a handle in the table as a child of `parent` (which cannot go before it).
    pub(crate) fn push_child_handle<T: Send + 'static, P: 'static>(
        &mut self,
        value: T,
        parent: &Resource<P>,
    ) -> wasmtime::Result<Resource<T>> {
        self.admit_handle()?;
        let resource = self.table.push_child(value, parent)?;
        self.held(resource.rep());
        Ok(resource)
    }

    fn admit_handle(&mut self) -> Result<(), BudgetExhausted> {
        let mut handles = self
            .capability
            .handles
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Handles the guest dropped have left the table.
        handles.retain(|rep| self.table.get_any_mut(*rep).is_ok());
        self.capability.gate.budget().admit_handle(handles.len())
    }

    fn held(&self, rep: u32) {
        self.capability
            .handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(rep);
    }
}

impl types::Host for CapabilityView<'_> {}

impl accounts::Host for CapabilityView<'_> {
    async fn in_scope(&mut self) -> wasmtime::Result<Vec<Account>> {
        Ok(self.capability.scope.to_vec())
    }
}

impl invocation::Host for CapabilityView<'_> {
    async fn dry_run(&mut self) -> wasmtime::Result<bool> {
        Ok(self.capability.gate.run().dry_run)
    }
}
