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

use wasmtime::component::{HasData, Resource, ResourceTable, ResourceTableError};
use wasmtime_wasi::p2::pipe::AsyncReadStream;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream};

use crate::bindings::s3::{
    self, Bucket, ByteRange, DeleteResult, ListObjectsPage, ListObjectsRequest, ObjectBody,
    ObjectMeta, PutOptions, PutResult, Tag,
};
use crate::bindings::xacct::plugin::{accounts, types};
use crate::bindings::{Account, S3Error};
use crate::config::Limits;
use crate::plan::Scope;
use crate::policy::{Action, Grant};
pub use backend::Backend;
use backend::denied_by_xacct;
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

/// What one invocation may reach: the accounts in its scope, through one backend, within
/// the plugin's grant and the invocation's budgets.
pub struct Capability {
    backend: Arc<dyn Backend>,
    scope: Scope,
    grant: Arc<Grant>,
    budget: Arc<Budget>,
    puts: PutTasks,
    /// Table slots of the handles this capability opened (clients, uploads, streams).
    handles: Mutex<Vec<u32>>,
}

impl Capability {
    pub fn new(backend: Arc<dyn Backend>, scope: Scope, grant: Arc<Grant>, limits: Limits) -> Self {
        Capability {
            backend,
            scope,
            grant,
            budget: Budget::new(limits),
            puts: PutTasks::default(),
            handles: Mutex::new(Vec::new()),
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
enum Needs<'a> {
    ListBuckets,
    List { bucket: &'a str, prefix: &'a str },
    Object(Action, &'a str, &'a str),
}

/// A call that passed its checks: the backend and the account to call it for.
type Admitted = Result<(Arc<dyn Backend>, Account), S3Error>;

impl CapabilityView<'_> {
    /// Checks a call against the grant, then spends one S3 call of the budget. A refusal
    /// is the guest's access-denied (`Ok(Err)`); an overspent budget traps (`Err`).
    fn admit(
        &mut self,
        client: &Resource<ClientHandle>,
        needs: &[Needs<'_>],
    ) -> wasmtime::Result<Admitted> {
        let account = self.table.get(client)?.account.clone();
        let grant = &self.capability.grant;
        for need in needs {
            let checked = match need {
                Needs::ListBuckets => grant.check_list_buckets(),
                Needs::List { bucket, prefix } => grant.check_list(bucket, prefix),
                Needs::Object(action, bucket, key) => grant.check(*action, bucket, key),
            };
            if let Err(denied) = checked {
                self.capability.budget.note_denied();
                return Ok(Err(denied));
            }
        }
        self.capability.budget.spend_call()?;
        Ok(Ok((self.capability.backend.clone(), account)))
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

/// Runs an admitted call.
async fn call<T, F>(
    admitted: Admitted,
    op: impl FnOnce(Arc<dyn Backend>, Account) -> F,
) -> HostResult<T>
where
    F: Future<Output = Result<T, S3Error>>,
{
    match admitted {
        Ok((backend, account)) => Ok(op(backend, account).await),
        Err(denied) => Ok(Err(denied)),
    }
}

impl types::Host for CapabilityView<'_> {}

impl accounts::Host for CapabilityView<'_> {
    async fn in_scope(&mut self) -> wasmtime::Result<Vec<Account>> {
        Ok(self.capability.scope.to_vec())
    }
}

impl s3::Host for CapabilityView<'_> {}

impl s3::HostClient for CapabilityView<'_> {
    async fn open(&mut self, account_id: String) -> HostResult<Resource<ClientHandle>> {
        let Some(account) = self.capability.scope.iter().find(|a| a.id == account_id) else {
            self.capability.budget.note_denied();
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
        let admitted = self.admit(&client, &[Needs::ListBuckets])?;
        let grant = self.capability.grant.clone();
        call(admitted, |backend, account| async move {
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
        let needs = [Needs::List {
            bucket: &request.bucket,
            prefix: &prefix,
        }];
        let admitted = self.admit(&client, &needs)?;
        let grant = self.capability.grant.clone();
        call(admitted, |backend, account| async move {
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
        let admitted = self.admit(&client, &[Needs::Object(Action::Read, &bucket, &key)])?;
        call(admitted, |backend, account| async move {
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
        let admitted = self.admit(&client, &[Needs::Object(Action::Read, &bucket, &key)])?;
        let object = match call(admitted, |backend, account| async move {
            backend.get_object(&account, &bucket, &key, range).await
        })
        .await?
        {
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
        let (backend, account) =
            match self.admit(&client, &[Needs::Object(Action::Write, &bucket, &key)])? {
                Ok(admitted) => admitted,
                Err(denied) => return Ok(Err(denied)),
            };
        let budget = self.capability.budget.clone();
        let upload = UploadHandle::start(&self.capability.puts, budget, |body| async move {
            backend
                .put_object(&account, &bucket, &key, options, body)
                .await
        });
        Ok(Ok(self.push_handle(upload, None)?))
    }

    async fn delete_object(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
    ) -> HostResult<()> {
        let admitted = self.admit(&client, &[Needs::Object(Action::Delete, &bucket, &key)])?;
        call(admitted, |backend, account| async move {
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
        // Keys outside the grant fail one by one; the rest go in one call.
        let grant = self.capability.grant.clone();
        let (allowed, refused): (Vec<String>, Vec<String>) = keys
            .into_iter()
            .partition(|key| grant.check(Action::Delete, &bucket, key).is_ok());
        let failed: Vec<(String, S3Error)> = refused
            .into_iter()
            .map(|key| {
                self.capability.budget.note_denied();
                let denied = grant.check(Action::Delete, &bucket, &key).unwrap_err();
                (key, denied)
            })
            .collect();
        if allowed.is_empty() {
            self.table.get(&client)?;
            return Ok(Ok(DeleteResult {
                deleted: Vec::new(),
                failed,
            }));
        }
        let admitted = self.admit(&client, &[])?;
        call(admitted, |backend, account| async move {
            let mut result = backend.delete_objects(&account, &bucket, allowed).await?;
            result.failed.extend(failed);
            Ok(result)
        })
        .await
    }

    async fn copy_object(
        &mut self,
        client: Resource<ClientHandle>,
        source_bucket: String,
        source_key: String,
        target_bucket: String,
        target_key: String,
    ) -> HostResult<PutResult> {
        let needs = [
            Needs::Object(Action::Read, &source_bucket, &source_key),
            Needs::Object(Action::Write, &target_bucket, &target_key),
        ];
        let admitted = self.admit(&client, &needs)?;
        call(admitted, |backend, account| async move {
            let (source, target) = (
                (source_bucket.as_str(), source_key.as_str()),
                (target_bucket.as_str(), target_key.as_str()),
            );
            backend.copy_object(&account, source, target).await
        })
        .await
    }

    async fn get_object_tagging(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
    ) -> HostResult<Vec<Tag>> {
        let admitted = self.admit(&client, &[Needs::Object(Action::Tag, &bucket, &key)])?;
        call(admitted, |backend, account| async move {
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
        let admitted = self.admit(&client, &[Needs::Object(Action::Tag, &bucket, &key)])?;
        call(admitted, |backend, account| async move {
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
