//! Stage 5 of the pipeline: **capability**. The host side of the WIT `accounts` and `s3`
//! interfaces: what a plugin can reach, and the only way it reaches anything.
//!
//! Every call goes request check → scope and grant check → budget → backend → typed
//! result. A malformed request (a key longer than S3 takes, a bad bucket name) is refused
//! before anything proportional to it is stored or logged; a refused call never reaches
//! the backend. A plugin holds handles (an account's client, an upload, a stream), never
//! the credentials or clients behind them, and every message it gets back was written by
//! the host. Every call that reaches the backend runs as a task of the invocation
//! ([`inflight`]) and is audited with its real outcome, even if the guest stopped
//! waiting for it.

pub mod aws;
pub mod backend;
pub mod budget;
mod inflight;
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
use backend::{MAX_KEY_BYTES, ObjectStream, check_bucket_name, check_key, denied_by_xacct};
use budget::{Budget, MeteredReader, SlotKind};
pub use inflight::InFlight;
pub use upload::UploadHandle;

/// What the `wasi:io` input-stream around a body holds on the host: wasmtime's reader
/// task keeps one 64 KiB read in flight and one ready for the guest.
const GUEST_STREAM_BUFFER_BYTES: u64 = 128 << 10;

/// How many planned mutations a dry run keeps for its report; the audit log has them all.
pub const MAX_PLANNED_RECORDS: usize = 1000;

/// The most user metadata S3 stores with an object (keys and values, in bytes).
const MAX_METADATA_BYTES: usize = 2048;

/// Continuation tokens are opaque, but S3's are a few hundred bytes.
const MAX_TOKEN_BYTES: usize = 4096;

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
    in_flight: InFlight,
    /// Table slots of the handles this capability opened (clients, uploads, streams).
    handles: Mutex<Vec<u32>>,
    planned: Mutex<Planned>,
}

/// The mutations a dry run did not execute: the first [`MAX_PLANNED_RECORDS`], and how
/// many more there were.
#[derive(Debug, Default, Clone)]
pub struct Planned {
    pub operations: Vec<PlannedOperation>,
    pub omitted: u64,
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
            in_flight: InFlight::default(),
            handles: Mutex::new(Vec::new()),
            planned: Mutex::new(Planned::default()),
        }
    }

    /// The invocation's backend calls, to wait for once it has ended.
    pub fn in_flight(&self) -> InFlight {
        self.in_flight.clone()
    }

    /// The invocation's budgets and what it spent.
    pub fn budget(&self) -> Arc<Budget> {
        self.budget.clone()
    }

    /// The mutations a dry run planned, so far.
    pub fn planned(&self) -> Planned {
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
    /// A call on one object, once its bucket and key are well-formed.
    fn object(
        operation: &'static str,
        action: Action,
        bucket: &str,
        key: &str,
    ) -> Result<Call, S3Error> {
        check_bucket_name(bucket)?;
        check_key(key)?;
        Ok(Call {
            operation,
            bucket: Some(bucket.to_owned()),
            key: Some(key.to_owned()),
            prefix: None,
            keys: Vec::new(),
            needs: vec![Needs::Object(action, bucket.to_owned(), key.to_owned())],
        })
    }
}

/// Refuses a text field longer than S3 takes, naming the field but not repeating it.
fn check_length(what: &str, value: Option<&str>, max: usize) -> Result<(), S3Error> {
    match value {
        Some(value) if value.len() > max => Err(S3Error::InvalidInput(format!(
            "{what} is at most {max} bytes long; this one has {} bytes",
            value.len()
        ))),
        _ => Ok(()),
    }
}

/// Refuses metadata larger than S3 stores.
fn check_put_options(options: &PutOptions) -> Result<(), S3Error> {
    let size: usize = options
        .metadata
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    if size > MAX_METADATA_BYTES {
        return Err(S3Error::InvalidInput(format!(
            "user metadata is at most {MAX_METADATA_BYTES} bytes; this has {size} bytes"
        )));
    }
    check_length("a content type", options.content_type.as_deref(), 1024)
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
    /// Records a call that reached the backend, with how it ended.
    fn record_result<T: Moved>(&self, call: &Call, result: &Result<T, S3Error>, started: Instant) {
        match result {
            Ok(value) => self.record(call, "ok", value.bytes(), started),
            Err(err) => self.record(call, outcome_of(err), None, started),
        }
    }

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
        // A planned call costs what the executed one would: a dry run cannot be used to
        // make more calls, or keep more of them in memory, than a real run.
        self.capability.budget.spend_call()?;
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
            let room = MAX_PLANNED_RECORDS.saturating_sub(planned.operations.len());
            planned.omitted += keys.len().saturating_sub(room) as u64;
            planned
                .operations
                .extend(keys.iter().take(room).map(|key| PlannedOperation {
                    operation: call.operation,
                    bucket: call.bucket.clone().unwrap_or_default(),
                    key: key.clone(),
                }));
            return Ok((Route::Planned, auditor));
        }
        Ok((
            Route::Execute(self.capability.backend.clone(), account),
            auditor,
        ))
    }

    /// Runs a call: checked, routed, executed on the backend as a task of the
    /// invocation, audited when it ends. A mutation gives the answer a dry run returns
    /// instead (`planned`); a read gives `None`. A malformed request (`call` is an
    /// error) is refused before anything else.
    async fn perform<T, F>(
        &mut self,
        client: &Resource<ClientHandle>,
        call: Result<Call, S3Error>,
        planned: Option<T>,
        op: impl FnOnce(Arc<dyn Backend>, Account) -> F,
    ) -> HostResult<T>
    where
        T: Moved + Send + 'static,
        F: Future<Output = Result<T, S3Error>> + Send + 'static,
    {
        let call = match call {
            Ok(call) => call,
            Err(malformed) => return Ok(Err(malformed)),
        };
        let (route, auditor) = self.route(client, &call, planned.is_some())?;
        Ok(match (route, planned) {
            (Route::Denied(denied), _) => Err(denied),
            (Route::Planned, Some(planned)) => Ok(planned),
            (Route::Planned, None) => unreachable!("only mutations are planned"),
            (Route::Execute(backend, account), _) => {
                let started = Instant::now();
                let executing = op(backend, account);
                self.capability
                    .in_flight
                    .spawn(async move {
                        let result = executing.await;
                        auditor.record_result(&call, &result, started);
                        result
                    })
                    .await
                    .unwrap_or_else(|_| Err(S3Error::Other("the call failed in the host".into())))
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
        let call = Ok(Call {
            operation: "ListBuckets",
            bucket: None,
            key: None,
            prefix: None,
            keys: Vec::new(),
            needs: vec![Needs::ListBuckets],
        });
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
        let call = check_bucket_name(&request.bucket)
            .and_then(|()| check_length("a prefix", request.prefix.as_deref(), MAX_KEY_BYTES))
            .and_then(|()| check_length("a delimiter", request.delimiter.as_deref(), MAX_KEY_BYTES))
            .and_then(|()| {
                check_length("start-after", request.start_after.as_deref(), MAX_KEY_BYTES)
            })
            .and_then(|()| {
                check_length(
                    "a continuation token",
                    request.continuation_token.as_deref(),
                    MAX_TOKEN_BYTES,
                )
            })
            .map(|()| {
                let prefix = request.prefix.clone().unwrap_or_default();
                Call {
                    operation: "ListObjectsV2",
                    bucket: Some(request.bucket.clone()),
                    key: None,
                    prefix: Some(prefix.clone()),
                    keys: Vec::new(),
                    needs: vec![Needs::List {
                        bucket: request.bucket.clone(),
                        prefix,
                    }],
                }
            });
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
        // The stream holds host memory until the guest drops it: it must fit the
        // invocation's limits, or the guest is told and nothing stays open.
        let budget = &self.capability.budget;
        let held = budget.slot(SlotKind::Stream).and_then(|slot| {
            let lease = budget.lease_stream(object.buffer_bytes + GUEST_STREAM_BUFFER_BYTES)?;
            Ok((slot, lease))
        });
        let (slot, lease) = match held {
            Ok(held) => held,
            Err(err) => return Ok(Err(err)),
        };
        let body = MeteredReader::new(object.body, budget.clone()).holding(slot, lease);
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
        let call = match check_put_options(&options)
            .and_then(|()| Call::object("PutObject", Action::Write, &bucket, &key))
        {
            Ok(call) => call,
            Err(malformed) => return Ok(Err(malformed)),
        };
        let started = Instant::now();
        let (route, auditor) = self.route(&client, &call, true)?;
        let budget = self.capability.budget.clone();
        let slot = match route {
            Route::Denied(denied) => return Ok(Err(denied)),
            _ => match budget.slot(SlotKind::Upload) {
                Ok(slot) => slot,
                Err(err) => return Ok(Err(err)),
            },
        };
        let in_flight = &self.capability.in_flight;
        // The put ends when the guest finishes the upload; it is audited then.
        let upload = match route {
            Route::Denied(_) => unreachable!("refused above"),
            Route::Planned => UploadHandle::start(in_flight, budget, slot, |mut body| async move {
                let mut size = 0;
                while let Some(chunk) = body.next_chunk().await {
                    size += chunk.bytes.len() as u64;
                }
                Ok(planned_put(size))
            }),
            Route::Execute(backend, account) => {
                UploadHandle::start(in_flight, budget, slot, |body| async move {
                    let result = backend
                        .put_object(&account, &bucket, &key, options, body)
                        .await;
                    auditor.record_result(&call, &result, started);
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
        let malformed = check_bucket_name(&bucket)
            .and_then(|()| backend::check_delete_batch(&keys))
            .and_then(|()| keys.iter().try_for_each(|key| check_key(key)));
        if let Err(malformed) = malformed {
            return Ok(Err(malformed));
        }
        // As on S3, keys the grant refuses fail one by one; the rest go in one call.
        let grant = self.capability.grant.clone();
        let (allowed, refused): (Vec<String>, Vec<String>) = keys
            .into_iter()
            .partition(|key| grant.check(Action::Delete, &bucket, key).is_ok());
        let mut failed = Vec::new();
        for key in refused {
            let call = Call::object("DeleteObjects", Action::Delete, &bucket, &key)
                .expect("checked above");
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
        let call = Ok(Call {
            operation: "DeleteObjects",
            bucket: Some(bucket.clone()),
            key: None,
            prefix: None,
            keys: allowed.clone(),
            needs: Vec::new(),
        });
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
        let call = check_bucket_name(&source_bucket)
            .and_then(|()| check_key(&source_key))
            .and_then(|()| Call::object("CopyObject", Action::Write, &target_bucket, &target_key))
            .map(|mut call| {
                call.needs.insert(
                    0,
                    Needs::Object(Action::Read, source_bucket.clone(), source_key.clone()),
                );
                call
            });
        let budget = self.capability.budget.clone();
        self.perform(
            &client,
            call,
            Some(planned_put(0)),
            |backend, account| async move {
                // A copy moves bytes the guest never handles: its size is spent from the
                // read and write budgets before it runs, and the copy is of that version.
                let source = (source_bucket.as_str(), source_key.as_str());
                let meta = backend.head_object(&account, source.0, source.1).await?;
                budget
                    .spend_copy(meta.size)
                    .map_err(|spent| S3Error::LimitExceeded(spent.0))?;
                let target = (target_bucket.as_str(), target_key.as_str());
                backend.copy_object(&account, source, &meta, target).await
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
