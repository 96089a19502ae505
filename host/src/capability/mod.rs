//! Stage 5 of the pipeline: **capability**. The host side of the WIT `accounts` and `s3`
//! interfaces: what a plugin can reach, and the only way it reaches anything.
//!
//! Every call goes scope check → backend → typed result. A plugin holds handles (an
//! account's client, an upload, a stream), never the credentials or clients behind them,
//! and every message it gets back was written by the host.

pub mod aws;
pub mod backend;
pub mod local;
mod upload;

use std::sync::Arc;

use wasmtime::component::{HasData, Resource, ResourceTable, ResourceTableError};
use wasmtime_wasi::p2::pipe::AsyncReadStream;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream};

use crate::bindings::s3::{
    self, Bucket, ByteRange, DeleteResult, ListObjectsPage, ListObjectsRequest, ObjectBody,
    ObjectMeta, PutOptions, PutResult, Tag,
};
use crate::bindings::xacct::plugin::{accounts, types};
use crate::bindings::{Account, S3Error};
use crate::plan::Scope;
pub use backend::Backend;
use backend::denied_by_xacct;
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

/// What one invocation may reach: the accounts in its scope, through one backend.
pub struct Capability {
    backend: Arc<dyn Backend>,
    scope: Scope,
    puts: PutTasks,
}

impl Capability {
    pub fn new(backend: Arc<dyn Backend>, scope: Scope) -> Self {
        Capability {
            backend,
            scope,
            puts: PutTasks::default(),
        }
    }

    /// The invocation's puts, to wait for once it has ended.
    pub fn put_tasks(&self) -> PutTasks {
        self.puts.clone()
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

impl CapabilityView<'_> {
    /// The account behind a client handle, and the backend to reach it with.
    fn client(
        &self,
        client: &Resource<ClientHandle>,
    ) -> wasmtime::Result<(Arc<dyn Backend>, Account)> {
        let handle = self.table.get(client)?;
        Ok((self.capability.backend.clone(), handle.account.clone()))
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
            return Ok(Err(denied_by_xacct(format!(
                "account {account_id:?} is not in this invocation's scope"
            ))));
        };
        let handle = ClientHandle {
            account: account.clone(),
        };
        Ok(Ok(self.table.push(handle)?))
    }

    async fn account(&mut self, client: Resource<ClientHandle>) -> wasmtime::Result<Account> {
        Ok(self.table.get(&client)?.account.clone())
    }

    async fn list_buckets(&mut self, client: Resource<ClientHandle>) -> HostResult<Vec<Bucket>> {
        let (backend, account) = self.client(&client)?;
        Ok(backend.list_buckets(&account).await)
    }

    async fn list_objects(
        &mut self,
        client: Resource<ClientHandle>,
        request: ListObjectsRequest,
    ) -> HostResult<ListObjectsPage> {
        let (backend, account) = self.client(&client)?;
        Ok(backend.list_objects(&account, request).await)
    }

    async fn head_object(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
    ) -> HostResult<ObjectMeta> {
        let (backend, account) = self.client(&client)?;
        Ok(backend.head_object(&account, &bucket, &key).await)
    }

    async fn get_object(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
        range: Option<ByteRange>,
    ) -> HostResult<ObjectBody> {
        let (backend, account) = self.client(&client)?;
        let object = match backend.get_object(&account, &bucket, &key, range).await {
            Ok(object) => object,
            Err(err) => return Ok(Err(err)),
        };
        // Not a child of the client: a stream stays readable after its client is dropped.
        let stream: DynInputStream = Box::new(AsyncReadStream::new(object.body));
        Ok(Ok(ObjectBody {
            meta: object.meta,
            content_length: object.content_length,
            body: self.table.push(stream)?,
        }))
    }

    async fn put_object(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
        options: PutOptions,
    ) -> HostResult<Resource<UploadHandle>> {
        let (backend, account) = self.client(&client)?;
        let upload = UploadHandle::start(&self.capability.puts, |body| async move {
            backend
                .put_object(&account, &bucket, &key, options, body)
                .await
        });
        Ok(Ok(self.table.push(upload)?))
    }

    async fn delete_object(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
    ) -> HostResult<()> {
        let (backend, account) = self.client(&client)?;
        Ok(backend.delete_object(&account, &bucket, &key).await)
    }

    async fn delete_objects(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        keys: Vec<String>,
    ) -> HostResult<DeleteResult> {
        let (backend, account) = self.client(&client)?;
        Ok(backend.delete_objects(&account, &bucket, keys).await)
    }

    async fn copy_object(
        &mut self,
        client: Resource<ClientHandle>,
        source_bucket: String,
        source_key: String,
        target_bucket: String,
        target_key: String,
    ) -> HostResult<PutResult> {
        let (backend, account) = self.client(&client)?;
        Ok(backend
            .copy_object(
                &account,
                (&source_bucket, &source_key),
                (&target_bucket, &target_key),
            )
            .await)
    }

    async fn get_object_tagging(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
    ) -> HostResult<Vec<Tag>> {
        let (backend, account) = self.client(&client)?;
        Ok(backend.get_object_tagging(&account, &bucket, &key).await)
    }

    async fn put_object_tagging(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
        tags: Vec<Tag>,
    ) -> HostResult<()> {
        let (backend, account) = self.client(&client)?;
        Ok(backend
            .put_object_tagging(&account, &bucket, &key, tags)
            .await)
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
        Ok(Ok(self.table.push_child(stream, &upload)?))
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
