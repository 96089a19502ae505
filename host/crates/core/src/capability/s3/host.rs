//! The host side of the WIT `s3` interface: what a plugin's S3 calls do. Each checks
//! its request (a malformed one — a bad bucket name, a key longer than S3 takes — is
//! refused before anything proportional to it is stored or logged), asks the grant, and
//! passes the gate ([`crate::capability::gate`]) to the backend. A plugin holds handles
//! (an account's client, an upload, a stream), never the credentials or clients behind
//! them, and every message it gets back was written by the host.
//!
//! Objects are served here; bucket configuration in [`config`], object versions in
//! [`versions`].

mod config;
mod versions;

use std::sync::Arc;

use wasmtime::component::{Resource, ResourceTableError};
use wasmtime_wasi::p2::pipe::AsyncReadStream;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream};

use super::actions::{
    Action, COPY_OBJECT, DELETE_OBJECT, DELETE_OBJECTS, GET_OBJECT, GET_OBJECT_TAGGING,
    HEAD_OBJECT, LIST_BUCKETS, LIST_OBJECTS, Operation, PUT_OBJECT, PUT_OBJECT_TAGGING,
};
use super::backend::{Backend, ObjectStream, SettingChange};
use super::budget::{MeteredReader, SlotKind};
use super::call::{
    S3Call, S3Target, check_put_options, check_tags, delete_batch, list_request, planned_put,
};
use super::handles::{ClientHandle, UploadHandle};
use super::names::{BucketName, ObjectKey};
use super::upload::Upload;
use crate::bindings::s3::{
    self, Bucket, BucketConfig, BucketSetting, ByteRange, DefaultEncryption, DeleteResult,
    ListObjectsPage, ListObjectsRequest, ListVersionsPage, ListVersionsRequest, ObjectBody,
    ObjectMeta, PublicAccessBlock, PutOptions, PutResult, Tag, VersioningStatus,
};
use crate::bindings::{Account, S3Error};
use crate::capability::gate::{Admission, Moved};
use crate::capability::invocation::CapabilityView;

/// What the `wasi:io` input-stream around a body holds on the host: wasmtime's reader
/// task keeps one 64 KiB read in flight and one ready for the guest.
const GUEST_STREAM_BUFFER_BYTES: u64 = 128 << 10;

type HostResult<T> = wasmtime::Result<Result<T, S3Error>>;

impl CapabilityView<'_> {
    fn client_account(&self, client: &Resource<ClientHandle>) -> wasmtime::Result<Account> {
        Ok(self.table.get(client)?.account.clone())
    }

    /// Passes a checked call through the gate with the grant's verdict, and runs `work`
    /// on the backend if it is admitted. A mutation gives the answer a dry run returns
    /// instead (`planned`); a read gives `None`.
    async fn perform<T, F>(
        &mut self,
        client: &Resource<ClientHandle>,
        call: S3Call,
        granted: Result<(), S3Error>,
        planned: Option<T>,
        work: impl FnOnce(Arc<dyn Backend>, Account) -> F,
    ) -> HostResult<T>
    where
        T: Moved + Send + 'static,
        F: Future<Output = Result<T, S3Error>> + Send + 'static,
    {
        let account = self.client_account(client)?;
        let gate = &self.capability.gate;
        Ok(match (gate.admit(&account.id, &call, granted)?, planned) {
            (Admission::Denied(denied), _) => Err(denied),
            (Admission::Planned, Some(planned)) => Ok(planned),
            (Admission::Planned, None) => Err(S3Error::Other(
                "the host planned a call that changes nothing".into(),
            )),
            (Admission::Execute, _) => {
                let id = account.id.clone();
                let work = work(self.capability.s3.backend.clone(), account);
                gate.execute(&id, call, work).await
            }
        })
    }

    /// A call on one object: `bucket` and `key` checked, then the grant's `action` for
    /// `operation`, then the gate.
    async fn on_object<T, F>(
        &mut self,
        client: &Resource<ClientHandle>,
        operation: &'static Operation,
        object: (String, String),
        planned: Option<T>,
        work: impl FnOnce(Arc<dyn Backend>, Account, BucketName, ObjectKey) -> F,
    ) -> HostResult<T>
    where
        T: Moved + Send + 'static,
        F: Future<Output = Result<T, S3Error>> + Send + 'static,
    {
        self.on_object_version(client, operation, object, None, planned, work)
            .await
    }

    /// [`Self::on_object`] on one version of the object, when `version_id` names one:
    /// the audit line records it.
    async fn on_object_version<T, F>(
        &mut self,
        client: &Resource<ClientHandle>,
        operation: &'static Operation,
        (bucket, key): (String, String),
        version_id: Option<&str>,
        planned: Option<T>,
        work: impl FnOnce(Arc<dyn Backend>, Account, BucketName, ObjectKey) -> F,
    ) -> HostResult<T>
    where
        T: Moved + Send + 'static,
        F: Future<Output = Result<T, S3Error>> + Send + 'static,
    {
        let (bucket, key) =
            match BucketName::new(bucket).and_then(|b| Ok((b, ObjectKey::new(key)?))) {
                Ok(checked) => checked,
                Err(malformed) => return Ok(Err(malformed)),
            };
        let call = match version_id {
            Some(version_id) => S3Call::version(operation, &bucket, &key, version_id),
            None => S3Call::object(operation, &bucket, &key),
        };
        let granted =
            self.capability
                .s3
                .grant
                .check(operation.action, bucket.as_str(), key.as_str());
        self.perform(client, call, granted, planned, |backend, account| {
            work(backend, account, bucket, key)
        })
        .await
    }

    /// An object read from the backend, handed to the guest as a `wasi:io` stream. The
    /// stream holds host memory until the guest drops it: it must fit the invocation's
    /// limits, or the guest is told and nothing stays open.
    fn guest_body(&mut self, object: Result<ObjectStream, S3Error>) -> HostResult<ObjectBody> {
        let object = match object {
            Ok(object) => object,
            Err(err) => return Ok(Err(err)),
        };
        let budget = &self.capability.s3.budget;
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
            body: self.push_handle(stream)?,
        }))
    }
}

/// Refuses a range that ends before it starts: S3 would ignore such a Range header and
/// send the whole object.
fn check_range(range: Option<ByteRange>) -> Result<(), S3Error> {
    match range {
        Some(ByteRange {
            first,
            last: Some(last),
        }) if last < first => Err(S3Error::InvalidInput(format!(
            "range {first}-{last} ends before it starts"
        ))),
        _ => Ok(()),
    }
}

impl s3::Host for CapabilityView<'_> {}

impl s3::HostClient for CapabilityView<'_> {
    async fn open(&mut self, account_id: String) -> HostResult<Resource<ClientHandle>> {
        let Some(account) = self.capability.scope.iter().find(|a| a.id == account_id) else {
            self.capability.gate.budget().note_denied()?;
            return Ok(Err(S3Error::denied_by_xacct(format!(
                "account {account_id:?} is not in this invocation's scope"
            ))));
        };
        let handle = ClientHandle {
            account: account.clone(),
        };
        Ok(Ok(self.push_handle(handle)?))
    }

    async fn account(&mut self, client: Resource<ClientHandle>) -> wasmtime::Result<Account> {
        self.client_account(&client)
    }

    async fn list_buckets(&mut self, client: Resource<ClientHandle>) -> HostResult<Vec<Bucket>> {
        let granted = self.capability.s3.grant.check_list_buckets();
        let grant = self.capability.s3.grant.clone();
        let call = S3Call::new(&LIST_BUCKETS);
        self.perform(
            &client,
            call,
            granted,
            None,
            |backend, account| async move {
                let mut buckets = backend.list_buckets(&account).await?;
                buckets.retain(|bucket| grant.shows_bucket(&bucket.name));
                Ok(buckets)
            },
        )
        .await
    }

    async fn list_objects(
        &mut self,
        client: Resource<ClientHandle>,
        request: ListObjectsRequest,
    ) -> HostResult<ListObjectsPage> {
        let request = match list_request(request) {
            Ok(request) => request,
            Err(malformed) => return Ok(Err(malformed)),
        };
        let prefix = request.prefix.clone().unwrap_or_default();
        let grant = self.capability.s3.grant.clone();
        let granted = grant.check_list(request.bucket.as_str(), &prefix);
        let call = S3Call {
            operation: &LIST_OBJECTS,
            target: S3Target {
                bucket: Some(request.bucket.to_string()),
                prefix: Some(prefix),
                ..S3Target::default()
            },
        };
        self.perform(
            &client,
            call,
            granted,
            None,
            |backend, account| async move {
                let mut page = backend.list_objects(&account, &request).await?;
                grant.filter_page(request.bucket.as_str(), &mut page);
                Ok(page)
            },
        )
        .await
    }

    async fn head_object(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
    ) -> HostResult<ObjectMeta> {
        self.on_object(
            &client,
            &HEAD_OBJECT,
            (bucket, key),
            None,
            |backend, account, bucket, key| async move {
                backend.head_object(&account, &bucket, &key).await
            },
        )
        .await
    }

    async fn get_object(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
        range: Option<ByteRange>,
    ) -> HostResult<ObjectBody> {
        if let Err(malformed) = check_range(range) {
            return Ok(Err(malformed));
        }
        let object = self
            .on_object(
                &client,
                &GET_OBJECT,
                (bucket, key),
                None,
                |backend, account, bucket, key| async move {
                    backend.get_object(&account, &bucket, &key, range).await
                },
            )
            .await?;
        self.guest_body(object)
    }

    async fn put_object(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
        options: PutOptions,
    ) -> HostResult<Resource<UploadHandle>> {
        let checked = check_put_options(&options)
            .and_then(|()| BucketName::new(bucket))
            .and_then(|bucket| Ok((bucket, ObjectKey::new(key)?)));
        let (bucket, key) = match checked {
            Ok(checked) => checked,
            Err(malformed) => return Ok(Err(malformed)),
        };
        let account = self.client_account(&client)?;
        let call = S3Call::object(&PUT_OBJECT, &bucket, &key);
        let granted = self
            .capability
            .s3
            .grant
            .check(Action::Write, bucket.as_str(), key.as_str());
        let gate = &self.capability.gate;
        let admission = gate.admit(&account.id, &call, granted)?;
        if let Admission::Denied(denied) = admission {
            return Ok(Err(denied));
        }
        let budget = self.capability.s3.budget.clone();
        let slot = match budget.slot(SlotKind::Upload) {
            Ok(slot) => slot,
            Err(err) => return Ok(Err(err)),
        };
        let in_flight = gate.in_flight();
        // The put ends when the guest finishes the upload; it is audited then.
        let upload = match admission {
            Admission::Execute => {
                let backend = self.capability.s3.backend.clone();
                let id = account.id.clone();
                Upload::start(in_flight, budget, slot, |body| {
                    gate.audited(&id, call, async move {
                        backend
                            .put_object(&account, &bucket, &key, options, body)
                            .await
                    })
                })
            }
            _ => Upload::start(in_flight, budget, slot, |mut body| async move {
                let mut size = 0;
                while let Some(chunk) = body.next_chunk().await {
                    size += chunk.bytes.len() as u64;
                }
                Ok(planned_put(size))
            }),
        };
        Ok(Ok(self.push_handle(UploadHandle(upload))?))
    }

    async fn delete_object(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
    ) -> HostResult<()> {
        self.on_object(
            &client,
            &DELETE_OBJECT,
            (bucket, key),
            Some(()),
            |backend, account, bucket, key| async move {
                backend.delete_object(&account, &bucket, &key).await
            },
        )
        .await
    }

    async fn delete_objects(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        keys: Vec<String>,
    ) -> HostResult<DeleteResult> {
        let checked = BucketName::new(bucket).and_then(|bucket| Ok((bucket, delete_batch(keys)?)));
        let (bucket, keys) = match checked {
            Ok(checked) => checked,
            Err(malformed) => return Ok(Err(malformed)),
        };
        let account = self.client_account(&client)?;
        // As on S3, keys the grant refuses fail one by one; the rest go in one call.
        let grant = &self.capability.s3.grant;
        let (allowed, refused): (Vec<ObjectKey>, Vec<ObjectKey>) =
            keys.into_iter().partition(|key| {
                grant
                    .check(Action::Delete, bucket.as_str(), key.as_str())
                    .is_ok()
            });
        let mut failed = Vec::new();
        for key in refused {
            let call = S3Call::object(&DELETE_OBJECTS, &bucket, &key);
            let verdict = grant.check(Action::Delete, bucket.as_str(), key.as_str());
            if let Admission::Denied(denied) =
                self.capability.gate.admit(&account.id, &call, verdict)?
            {
                failed.push((key.into_string(), denied));
            }
        }
        if allowed.is_empty() {
            return Ok(Ok(DeleteResult {
                deleted: Vec::new(),
                failed,
            }));
        }
        let call = S3Call {
            operation: &DELETE_OBJECTS,
            target: S3Target {
                bucket: Some(bucket.to_string()),
                keys: allowed.iter().map(ToString::to_string).collect(),
                ..S3Target::default()
            },
        };
        let planned = DeleteResult {
            deleted: call.target.keys.clone(),
            failed: Vec::new(),
        };
        let result = self
            .perform(
                &client,
                call,
                Ok(()),
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
        let checked = (|| {
            let source = (BucketName::new(source_bucket)?, ObjectKey::new(source_key)?);
            let target = (BucketName::new(target_bucket)?, ObjectKey::new(target_key)?);
            Ok((source, target))
        })();
        let (source, target) = match checked {
            Ok(checked) => checked,
            Err(malformed) => return Ok(Err(malformed)),
        };
        let grant = &self.capability.s3.grant;
        let granted = grant
            .check(Action::Read, source.0.as_str(), source.1.as_str())
            .and_then(|()| grant.check(COPY_OBJECT.action, target.0.as_str(), target.1.as_str()));
        let call = S3Call::object(&COPY_OBJECT, &target.0, &target.1);
        let budget = self.capability.s3.budget.clone();
        self.perform(
            &client,
            call,
            granted,
            Some(planned_put(0)),
            |backend, account| async move {
                // A copy moves bytes the guest never handles: its size is spent from the
                // read and write budgets before it runs, and the copy is of that version.
                let meta = backend.head_object(&account, &source.0, &source.1).await?;
                budget
                    .spend_copy(meta.size)
                    .map_err(|spent| S3Error::LimitExceeded(spent.0))?;
                backend
                    .copy_object(
                        &account,
                        (&source.0, &source.1),
                        &meta,
                        (&target.0, &target.1),
                    )
                    .await
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
        self.on_object(
            &client,
            &GET_OBJECT_TAGGING,
            (bucket, key),
            None,
            |backend, account, bucket, key| async move {
                backend.get_object_tagging(&account, &bucket, &key).await
            },
        )
        .await
    }

    async fn put_object_tagging(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
        tags: Vec<Tag>,
    ) -> HostResult<()> {
        // The tag set is checked as the call runs: a refused set is a call made, as on
        // S3, and the audit log says why it failed.
        self.on_object(
            &client,
            &PUT_OBJECT_TAGGING,
            (bucket, key),
            Some(()),
            |backend, account, bucket, key| async move {
                check_tags(&tags)?;
                backend
                    .put_object_tagging(&account, &bucket, &key, tags)
                    .await
            },
        )
        .await
    }

    async fn get_bucket_config(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        settings: Vec<BucketSetting>,
    ) -> HostResult<BucketConfig> {
        self.bucket_config(&client, bucket, settings).await
    }

    async fn get_account_public_access_block(
        &mut self,
        client: Resource<ClientHandle>,
    ) -> HostResult<Option<PublicAccessBlock>> {
        self.account_public_access_block(&client).await
    }

    async fn put_public_access_block(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        block: PublicAccessBlock,
    ) -> HostResult<()> {
        let change = SettingChange::PublicAccessBlock(block);
        self.put_setting(&client, bucket, change).await
    }

    async fn put_bucket_encryption(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        encryption: DefaultEncryption,
    ) -> HostResult<()> {
        let change = SettingChange::Encryption(encryption);
        self.put_setting(&client, bucket, change).await
    }

    async fn put_bucket_versioning(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        status: VersioningStatus,
    ) -> HostResult<()> {
        let change = SettingChange::Versioning(status);
        self.put_setting(&client, bucket, change).await
    }

    async fn put_bucket_tagging(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        tags: Vec<Tag>,
    ) -> HostResult<()> {
        self.put_setting(&client, bucket, SettingChange::Tags(tags))
            .await
    }

    async fn list_object_versions(
        &mut self,
        client: Resource<ClientHandle>,
        request: ListVersionsRequest,
    ) -> HostResult<ListVersionsPage> {
        self.versions_page(&client, request).await
    }

    async fn head_object_version(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
        version_id: String,
    ) -> HostResult<ObjectMeta> {
        self.head_version(&client, (bucket, key), version_id).await
    }

    async fn get_object_version(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
        version_id: String,
        range: Option<ByteRange>,
    ) -> HostResult<ObjectBody> {
        if let Err(malformed) = check_range(range) {
            return Ok(Err(malformed));
        }
        let object = self
            .get_version(&client, (bucket, key), version_id, range)
            .await?;
        self.guest_body(object)
    }

    async fn delete_object_version(
        &mut self,
        client: Resource<ClientHandle>,
        bucket: String,
        key: String,
        version_id: String,
    ) -> HostResult<()> {
        self.delete_version(&client, (bucket, key), version_id)
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
        let Some(sink) = self.table.get_mut(&upload)?.0.take_body() else {
            return Ok(Err(S3Error::InvalidInput(
                "the upload's body was already taken".into(),
            )));
        };
        let stream: DynOutputStream = Box::new(sink);
        // A child of the upload: `finish` can tell whether the guest closed it.
        Ok(Ok(self.push_child_handle(stream, &upload)?))
    }

    async fn finish(&mut self, upload: Resource<UploadHandle>) -> HostResult<PutResult> {
        let borrowed = Resource::<UploadHandle>::new_borrow(upload.rep());
        match self.table.delete(upload) {
            Ok(handle) => Ok(handle.0.finish().await),
            Err(ResourceTableError::HasChildren) => {
                // The guest gave the upload up; end it now rather than at invocation end.
                self.table.get_mut(&borrowed)?.0.abort();
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
                self.table.get_mut(&borrowed)?.0.abort();
                Ok(())
            }
            Err(err) => Err(err.into()),
        }
    }
}
