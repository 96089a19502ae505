//! Stage 5 of the pipeline: **capability**. The host side of the WIT `accounts` and `s3`
//! interfaces: what a plugin can reach, and the only way it reaches anything.
//!
//! Every call goes scope and grant check → budget → backend → typed result. A refused
//! call never reaches the backend. A plugin holds handles (an account's client, an
//! upload, a stream), never the credentials or clients behind them, and every message it
//! gets back was written by the host.

pub mod aws;
pub mod backend;
pub mod budget;
pub mod local;
mod upload;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use wasmtime::component::{HasData, Resource, ResourceTable, ResourceTableError};
use wasmtime_wasi::p2::pipe::AsyncReadStream;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream};

use crate::audit::{AuditEvent, AuditLog, timestamp};
use crate::bindings::s3::{
    self, Bucket, ByteRange, DeleteResult, ListObjectsPage, ListObjectsRequest, ObjectBody,
    ObjectMeta, PutOptions, PutResult, Tag,
};
use crate::bindings::xacct::plugin::{accounts, invocation, types};
use crate::bindings::{Account, S3Error};
use crate::config::Limits;
use crate::plan::Scope;
use crate::policy::{Action, Grant};
pub use backend::Backend;
use backend::{ObjectStream, denied_by_xacct};
use budget::{Budget, MeteredReader};
pub use upload::{PutTasks, UploadHandle};

/// The text of an S3 error, for the host's own reports.
pub fn error_message(err: &S3Error) -> String {
    match err {
        S3Error::AccessDenied(denied) => denied.message.clone(),
        S3Error::NotFound(message)
        | S3Error::Throttled(message)
        | S3Error::InvalidInput(message)
        | S3Error::LimitExceeded(message)
        | S3Error::Unavailable(message)
        | S3Error::Other(message) => message.clone(),
    }
}

/// What every invocation of one run shares: who is running, and how.
pub struct RunContext {
    pub plugin: String,
    /// sha256 of the plugin's component.
    pub sha256: String,
    /// Mutations are planned, not executed.
    pub dry_run: bool,
    pub audit: Option<Arc<AuditLog>>,
}

/// A mutation a dry run did not execute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedOperation {
    pub operation: &'static str,
    pub bucket: String,
    pub key: String,
}

/// What one invocation may reach: the accounts in its scope, through one backend, within
/// the plugin's grant and the invocation's budgets.
pub struct Capability {
    backend: Arc<dyn Backend>,
    scope: Scope,
    grant: Arc<Grant>,
    run: Arc<RunContext>,
    budget: Arc<Budget>,
    puts: PutTasks,
    /// Table slots of the handles this capability opened (clients, uploads, streams).
    handles: Mutex<Vec<u32>>,
    planned: Mutex<Vec<PlannedOperation>>,
}

impl Capability {
    pub fn new(
        backend: Arc<dyn Backend>,
        scope: Scope,
        grant: Arc<Grant>,
        limits: Limits,
        run: Arc<RunContext>,
    ) -> Self {
        Capability {
            backend,
            scope,
            grant,
            run,
            budget: Budget::new(limits),
            puts: PutTasks::default(),
            handles: Mutex::new(Vec::new()),
            planned: Mutex::new(Vec::new()),
        }
    }

    /// The invocation's puts, to wait for once it has ended.
    pub fn put_tasks(&self) -> PutTasks {
        self.puts.clone()
    }

    /// The invocation's budgets and what it spent.
    pub fn budget(&self) -> Arc<Budget> {
        self.budget.clone()
    }

    /// The mutations a dry run planned, so far.
    pub fn planned(&self) -> Vec<PlannedOperation> {
        self.planned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The host side of a `client` resource: an account of the invocation's scope.
pub struct ClientHandle {
    account: Account,
}

/// The view of the store the capability's host functions work on (the `Ctx`/`View`
/// split of wasmtime-wasi: state lives in the store, the view borrows what it needs).
pub struct CapabilityView<'a> {
    pub capability: &'a Capability,
    pub table: &'a mut ResourceTable,
}

/// Names [`CapabilityView`] for `bindgen!`'s `add_to_linker`.
pub struct CapabilityData;

impl HasData for CapabilityData {
    type Data<'a> = CapabilityView<'a>;
}

type HostResult<T> = wasmtime::Result<Result<T, S3Error>>;

/// What a call needs the grant to allow.
enum Needs {
    ListBuckets,
    List { bucket: String, prefix: String },
    Object(Action, String, String),
}

/// One S3 call, as the grant and the audit log see it.
struct Call {
    operation: &'static str,
    bucket: Option<String>,
    key: Option<String>,
    prefix: Option<String>,
    /// The keys of a batch call.
    keys: Vec<String>,
    needs: Vec<Needs>,
}

impl Call {
    fn object(operation: &'static str, action: Action, bucket: &str, key: &str) -> Call {
        Call {
            operation,
            bucket: Some(bucket.to_owned()),
            key: Some(key.to_owned()),
            prefix: None,
            keys: Vec::new(),
            needs: vec![Needs::Object(action, bucket.to_owned(), key.to_owned())],
        }
    }
}

/// How many object bytes a call's result moved, for the audit log.
trait Moved {
    fn bytes(&self) -> Option<u64> {
        None
    }
}

impl Moved for ObjectStream {
    fn bytes(&self) -> Option<u64> {
        Some(self.content_length)
    }
}

impl Moved for PutResult {
    fn bytes(&self) -> Option<u64> {
        Some(self.size)
    }
}

impl Moved for () {}
impl Moved for Vec<Bucket> {}
impl Moved for ListObjectsPage {}
impl Moved for ObjectMeta {}
impl Moved for DeleteResult {}
impl Moved for Vec<Tag> {}

/// The audit outcome of an error.
fn outcome_of(err: &S3Error) -> &'static str {
    match err {
        S3Error::NotFound(_) => "not-found",
        S3Error::AccessDenied(_) => "access-denied",
        S3Error::Throttled(_) => "throttled",
        S3Error::InvalidInput(_) => "invalid-input",
        S3Error::LimitExceeded(_) => "limit-exceeded",
        S3Error::Unavailable(_) => "unavailable",
        S3Error::Other(_) => "other",
    }
}

/// Records calls of one account to the run's audit log.
#[derive(Clone)]
struct Auditor {
    run: Arc<RunContext>,
    account: String,
}

impl Auditor {
    fn record(&self, call: &Call, outcome: &str, bytes: Option<u64>, started: Instant) {
        let Some(audit) = &self.run.audit else { return };
        audit.record(&AuditEvent {
            time: timestamp(),
            plugin: self.run.plugin.clone(),
            sha256: self.run.sha256.clone(),
            account: self.account.clone(),
            operation: call.operation,
            bucket: call.bucket.clone(),
            key: call.key.clone(),
            prefix: call.prefix.clone(),
            keys: call.keys.clone(),
            bytes,
            outcome: outcome.to_owned(),
            duration_ms: started.elapsed().as_millis() as u64,
        });
    }
}

/// Where an admitted call goes.
enum Route {
    /// Refused by the grant: the guest gets this error.
    Denied(S3Error),
    /// A dry run's mutation: planned, not executed.
    Planned,
    Execute(Arc<dyn Backend>, Account),
}

impl CapabilityView<'_> {
    /// Checks a call against the grant and spends one S3 call of the budget (an overspent
    /// budget traps); in a dry run, a mutation is planned instead. Refusals and planned
    /// mutations are audited here.
    fn route(
        &mut self,
        client: &Resource<ClientHandle>,
        call: &Call,
        mutates: bool,
    ) -> wasmtime::Result<(Route, Auditor)> {
        let started = Instant::now();
        let account = self.table.get(client)?.account.clone();
        let auditor = Auditor {
            run: self.capability.run.clone(),
            account: account.id.clone(),
        };
        let grant = &self.capability.grant;
        for need in &call.needs {
            let checked = match need {
                Needs::ListBuckets => grant.check_list_buckets(),
                Needs::List { bucket, prefix } => grant.check_list(bucket, prefix),
                Needs::Object(action, bucket, key) => grant.check(*action, bucket, key),
            };
            if let Err(denied) = checked {
                self.capability.budget.note_denied()?;
                auditor.record(call, "denied", None, started);
                return Ok((Route::Denied(denied), auditor));
            }
        }
        if mutates && self.capability.run.dry_run {
            auditor.record(call, "planned", None, started);
            let keys = match &call.key {
                Some(key) => std::slice::from_ref(key),
                None => &call.keys[..],
            };
            let mut planned = self
                .capability
                .planned
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            planned.extend(keys.iter().map(|key| PlannedOperation {
                operation: call.operation,
                bucket: call.bucket.clone().unwrap_or_default(),
                key: key.clone(),
            }));
            return Ok((Route::Planned, auditor));
        }
        self.capability.budget.spend_call()?;
        Ok((
            Route::Execute(self.capability.backend.clone(), account),
            auditor,
        ))
    }

    /// Runs a call: routed, executed on the backend, audited. A mutation gives the
    /// answer a dry run returns instead (`planned`); a read gives `None`.
    async fn perform<T: Moved, F>(
        &mut self,
        client: &Resource<ClientHandle>,
        call: Call,
        planned: Option<T>,
        op: impl FnOnce(Arc<dyn Backend>, Account) -> F,
    ) -> wasmtime::Result<Result<T, S3Error>>
    where
        F: Future<Output = Result<T, S3Error>>,
    {
        let started = Instant::now();
        let (route, auditor) = self.route(client, &call, planned.is_some())?;
        Ok(match (route, planned) {
            (Route::Denied(denied), _) => Err(denied),
            (Route::Planned, Some(planned)) => Ok(planned),
            (Route::Planned, None) => unreachable!("only mutations are planned"),
            (Route::Execute(backend, account), _) => {
                let result = op(backend, account).await;
                match &result {
                    Ok(value) => auditor.record(&call, "ok", value.bytes(), started),
                    Err(err) => auditor.record(&call, outcome_of(err), None, started),
                }
                result
            }
        })
    }

    /// Puts a handle in the table if the handle budget allows one more.
    fn push_handle<T: Send + 'static>(
        &mut self,
        value: T,
        parent: Option<&Resource<UploadHandle>>,
    ) -> wasmtime::Result<Resource<T>> {
        let mut handles = self
            .capability
            .handles
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Handles the guest dropped have left the table.
        handles.retain(|rep| self.table.get_any_mut(*rep).is_ok());
        self.capability.budget.admit_handle(handles.len())?;
        let resource = match parent {
            Some(parent) => self.table.push_child(value, parent)?,
            None => self.table.push(value)?,
        };
        handles.push(resource.rep());
        Ok(resource)
    }
}

/// What a dry run answers for a mutation it did not execute.
fn planned_put(size: u64) -> PutResult {
    PutResult {
        etag: "\"dry-run\"".to_owned(),
        size,
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
        Ok(self.capability.run.dry_run)
    }
}

impl s3::Host for CapabilityView<'_> {}

impl s3::HostClient for CapabilityView<'_> {
    async fn open(&mut self, account_id: String) -> HostResult<Resource<ClientHandle>> {
        let Some(account) = self.capability.scope.iter().find(|a| a.id == account_id) else {
            self.capability.budget.note_denied()?;
            return Ok(Err(denied_by_xacct(format!(
                "account {account_id:?} is not in this invocation's scope"
            ))));
        };
        let handle = ClientHandle {
            account: account.clone(),
        };
        Ok(Ok(self.push_handle(handle, None)?))
    }

    async fn account(&mut self, client: Resource<ClientHandle>) -> wasmtime::Result<Account> {
        Ok(self.table.get(&client)?.account.clone())
    }

    async fn list_buckets(&mut self, client: Resource<ClientHandle>) -> HostResult<Vec<Bucket>> {
        let call = Call {
            operation: "ListBuckets",
            bucket: None,
            key: None,
            prefix: None,
            keys: Vec::new(),
            needs: vec![Needs::ListBuckets],
        };
        let grant = self.capability.grant.clone();
        self.perform(&client, call, None, |backend, account| async move {
            let mut buckets = backend.list_buckets(&account).await?;
            buckets.retain(|bucket| grant.shows_bucket(&bucket.name));
            Ok(buckets)
        })
        .await
    }

    async fn list_objects(
        &mut self,
        client: Resource<ClientHandle>,
        request: ListObjectsRequest,
    ) -> HostResult<ListObjectsPage> {
        let prefix = request.prefix.clone().unwrap_or_default();
        let call = Call {
            operation: "ListObjectsV2",
            bucket: Some(request.bucket.clone()),
            key: None,
            prefix: Some(prefix.clone()),
            keys: Vec::new(),
            needs: vec![Needs::List {
                bucket: request.bucket.clone(),
                prefix,
            }],
        };
        let grant = self.capability.grant.clone();
        self.perform(&client, call, None, |backend, account| async move {
            let bucket = request.bucket.clone();
            let mut page = backend.list_objects(&account, request).await?;
            grant.filter_page(&bucket, &mut page);
            Ok(page)
        })
        .await
    }

    async fn head_object(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
    ) -> HostResult<ObjectMeta> {
        let call = Call::object("HeadObject", Action::Read, &bucket, &key);
        self.perform(&client, call, None, |backend, account| async move {
            backend.head_object(&account, &bucket, &key).await
        })
        .await
    }

    async fn get_object(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
        range: Option<ByteRange>,
    ) -> HostResult<ObjectBody> {
        if let Some(ByteRange {
            first,
            last: Some(last),
        }) = range
            && last < first
        {
            // S3 would ignore such a Range header and send the whole object.
            return Ok(Err(S3Error::InvalidInput(format!(
                "range {first}-{last} ends before it starts"
            ))));
        }
        let call = Call::object("GetObject", Action::Read, &bucket, &key);
        let object = self
            .perform(&client, call, None, |backend, account| async move {
                backend.get_object(&account, &bucket, &key, range).await
            })
            .await?;
        let object = match object {
            Ok(object) => object,
            Err(err) => return Ok(Err(err)),
        };
        let body = MeteredReader::new(object.body, self.capability.budget.clone());
        // Not a child of the client: a stream stays readable after its client is dropped.
        let stream: DynInputStream = Box::new(AsyncReadStream::new(body));
        Ok(Ok(ObjectBody {
            meta: object.meta,
            content_length: object.content_length,
            body: self.push_handle(stream, None)?,
        }))
    }

    async fn put_object(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
        options: PutOptions,
    ) -> HostResult<Resource<UploadHandle>> {
        let call = Call::object("PutObject", Action::Write, &bucket, &key);
        let started = Instant::now();
        let (route, auditor) = self.route(&client, &call, true)?;
        let budget = self.capability.budget.clone();
        // The put ends when the guest finishes the upload; it is audited then.
        let upload = match route {
            Route::Denied(denied) => return Ok(Err(denied)),
            Route::Planned => {
                UploadHandle::start(&self.capability.puts, budget, |mut body| async move {
                    let mut size = 0;
                    while let Some(chunk) = body.next_chunk().await {
                        size += chunk.len() as u64;
                    }
                    Ok(planned_put(size))
                })
            }
            Route::Execute(backend, account) => {
                UploadHandle::start(&self.capability.puts, budget, |body| async move {
                    let result = backend
                        .put_object(&account, &bucket, &key, options, body)
                        .await;
                    match &result {
                        Ok(stored) => auditor.record(&call, "ok", Some(stored.size), started),
                        Err(err) => auditor.record(&call, outcome_of(err), None, started),
                    }
                    result
                })
            }
        };
        Ok(Ok(self.push_handle(upload, None)?))
    }

    async fn delete_object(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
    ) -> HostResult<()> {
        let call = Call::object("DeleteObject", Action::Delete, &bucket, &key);
        self.perform(&client, call, Some(()), |backend, account| async move {
            backend.delete_object(&account, &bucket, &key).await
        })
        .await
    }

    async fn delete_objects(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        keys: Vec<String>,
    ) -> HostResult<DeleteResult> {
        if let Err(too_many) = backend::check_delete_batch(&keys) {
            return Ok(Err(too_many));
        }
        // As on S3, keys the grant refuses fail one by one; the rest go in one call.
        let grant = self.capability.grant.clone();
        let (allowed, refused): (Vec<String>, Vec<String>) = keys
            .into_iter()
            .partition(|key| grant.check(Action::Delete, &bucket, key).is_ok());
        let mut failed = Vec::new();
        for key in refused {
            let call = Call::object("DeleteObjects", Action::Delete, &bucket, &key);
            if let (Route::Denied(denied), _) = self.route(&client, &call, true)? {
                failed.push((key, denied));
            }
        }
        if allowed.is_empty() {
            return Ok(Ok(DeleteResult {
                deleted: Vec::new(),
                failed,
            }));
        }
        let call = Call {
            operation: "DeleteObjects",
            bucket: Some(bucket.clone()),
            key: None,
            prefix: None,
            keys: allowed.clone(),
            needs: Vec::new(),
        };
        let planned = DeleteResult {
            deleted: allowed.clone(),
            failed: Vec::new(),
        };
        let result = self
            .perform(
                &client,
                call,
                Some(planned),
                |backend, account| async move {
                    backend.delete_objects(&account, &bucket, allowed).await
                },
            )
            .await?;
        Ok(result.map(|mut result| {
            result.failed.extend(failed);
            result
        }))
    }

    async fn copy_object(
        &mut self,
        client: Resource<ClientHandle>,
        source_bucket: String,
        source_key: String,
        target_bucket: String,
        target_key: String,
    ) -> HostResult<PutResult> {
        let call = Call {
            operation: "CopyObject",
            bucket: Some(target_bucket.clone()),
            key: Some(target_key.clone()),
            prefix: None,
            keys: Vec::new(),
            needs: vec![
                Needs::Object(Action::Read, source_bucket.clone(), source_key.clone()),
                Needs::Object(Action::Write, target_bucket.clone(), target_key.clone()),
            ],
        };
        self.perform(
            &client,
            call,
            Some(planned_put(0)),
            |backend, account| async move {
                let source = (source_bucket.as_str(), source_key.as_str());
                let target = (target_bucket.as_str(), target_key.as_str());
                backend.copy_object(&account, source, target).await
            },
        )
        .await
    }

    async fn get_object_tagging(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
    ) -> HostResult<Vec<Tag>> {
        let call = Call::object("GetObjectTagging", Action::Tag, &bucket, &key);
        self.perform(&client, call, None, |backend, account| async move {
            backend.get_object_tagging(&account, &bucket, &key).await
        })
        .await
    }

    async fn put_object_tagging(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
        tags: Vec<Tag>,
    ) -> HostResult<()> {
        let call = Call::object("PutObjectTagging", Action::Tag, &bucket, &key);
        self.perform(&client, call, Some(()), |backend, account| async move {
            backend
                .put_object_tagging(&account, &bucket, &key, tags)
                .await
        })
        .await
    }

    async fn drop(&mut self, client: Resource<ClientHandle>) -> wasmtime::Result<()> {
        self.table.delete(client)?;
        Ok(())
    }
}

impl s3::HostUpload for CapabilityView<'_> {
    async fn body(
        &mut self,
        upload: Resource<UploadHandle>,
    ) -> HostResult<Resource<DynOutputStream>> {
        let Some(sink) = self.table.get_mut(&upload)?.take_body() else {
            return Ok(Err(S3Error::InvalidInput(
                "the upload's body was already taken".into(),
            )));
        };
        let stream: DynOutputStream = Box::new(sink);
        // A child of the upload: `finish` can tell whether the guest closed it.
        Ok(Ok(self.push_handle(stream, Some(&upload))?))
    }

    async fn finish(&mut self, upload: Resource<UploadHandle>) -> HostResult<PutResult> {
        let borrowed = Resource::<UploadHandle>::new_borrow(upload.rep());
        match self.table.delete(upload) {
            Ok(handle) => Ok(handle.finish().await),
            Err(ResourceTableError::HasChildren) => {
                // The guest gave the upload up; end it now rather than at invocation end.
                self.table.get_mut(&borrowed)?.abort();
                Ok(Err(S3Error::InvalidInput(
                    "finish called while the body stream is still open: drop the stream \
                     first; the upload was aborted"
                        .into(),
                )))
            }
            Err(err) => Err(err.into()),
        }
    }

    async fn drop(&mut self, upload: Resource<UploadHandle>) -> wasmtime::Result<()> {
        let borrowed = Resource::<UploadHandle>::new_borrow(upload.rep());
        match self.table.delete(upload) {
            // Dropping the handle drops the commit sender: the backend aborts the put.
            Ok(_) => Ok(()),
            Err(ResourceTableError::HasChildren) => {
                self.table.get_mut(&borrowed)?.abort();
                Ok(())
            }
            Err(err) => Err(err.into()),
        }
    }
}
