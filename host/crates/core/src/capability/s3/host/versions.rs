//! Object versions for plugins: a page of versions and delete markers (`versions` on the
//! prefix, as a listing), one version read (`versions` on the key) and one version or
//! delete marker deleted for good (`delete-versions` on the key). A version id longer
//! than S3 takes is refused before the audit log; one no S3 version id looks like is
//! refused as the call runs, so the audit log records it as S3 would answer it
//! (`400 InvalidArgument`), on every backend alike.

use std::sync::Arc;

use wasmtime::component::Resource;

use super::HostResult;
use crate::bindings::s3::{ByteRange, ListVersionsPage, ListVersionsRequest, ObjectMeta};
use crate::bindings::{Account, S3Error};
use crate::capability::gate::Moved;
use crate::capability::invocation::CapabilityView;
use crate::capability::s3::actions::{
    DELETE_OBJECT_VERSION, GET_OBJECT_VERSION, HEAD_OBJECT_VERSION, LIST_OBJECT_VERSIONS, Operation,
};
use crate::capability::s3::backend::{Backend, ObjectStream};
use crate::capability::s3::call::{
    MAX_VERSION_ID_BYTES, S3Call, S3Target, check_length, check_version_id, list_versions_request,
};
use crate::capability::s3::handles::ClientHandle;
use crate::capability::s3::names::{BucketName, ObjectKey};

impl CapabilityView<'_> {
    pub(super) async fn versions_page(
        &mut self,
        client: &Resource<ClientHandle>,
        request: ListVersionsRequest,
    ) -> HostResult<ListVersionsPage> {
        let request = match list_versions_request(request) {
            Ok(request) => request,
            Err(malformed) => return Ok(Err(malformed)),
        };
        let bucket = request.listing.bucket.clone();
        let prefix = request.listing.prefix.clone().unwrap_or_default();
        let grant = self.capability.s3.grant.clone();
        let granted = grant.check_list_versions(bucket.as_str(), &prefix);
        let call = S3Call {
            operation: &LIST_OBJECT_VERSIONS,
            target: S3Target {
                bucket: Some(bucket.to_string()),
                prefix: Some(prefix),
                ..S3Target::default()
            },
        };
        self.perform(client, call, granted, None, |backend, account| async move {
            let mut page = backend.list_object_versions(&account, &request).await?;
            grant.filter_versions_page(bucket.as_str(), &mut page);
            Ok(page)
        })
        .await
    }

    /// A call on one version: its id bounded before the audit log, checked as the call
    /// runs, then [`Self::on_object_version`].
    async fn on_version<T, F>(
        &mut self,
        client: &Resource<ClientHandle>,
        operation: &'static Operation,
        object: (String, String),
        version_id: String,
        planned: Option<T>,
        work: impl FnOnce(Arc<dyn Backend>, Account, BucketName, ObjectKey, String) -> F
        + Send
        + 'static,
    ) -> HostResult<T>
    where
        T: Moved + Send + 'static,
        F: Future<Output = Result<T, S3Error>> + Send + 'static,
    {
        if let Err(malformed) =
            check_length("a version id", Some(&version_id), MAX_VERSION_ID_BYTES)
        {
            return Ok(Err(malformed));
        }
        let named = version_id.clone();
        self.on_object_version(
            client,
            operation,
            object,
            Some(&named),
            planned,
            |backend, account, bucket, key| async move {
                check_version_id(&version_id)?;
                work(backend, account, bucket, key, version_id).await
            },
        )
        .await
    }

    pub(super) async fn head_version(
        &mut self,
        client: &Resource<ClientHandle>,
        object: (String, String),
        version_id: String,
    ) -> HostResult<ObjectMeta> {
        self.on_version(
            client,
            &HEAD_OBJECT_VERSION,
            object,
            version_id,
            None,
            |backend, account, bucket, key, version_id| async move {
                backend
                    .head_object_version(&account, &bucket, &key, &version_id)
                    .await
            },
        )
        .await
    }

    pub(super) async fn get_version(
        &mut self,
        client: &Resource<ClientHandle>,
        object: (String, String),
        version_id: String,
        range: Option<ByteRange>,
    ) -> HostResult<ObjectStream> {
        self.on_version(
            client,
            &GET_OBJECT_VERSION,
            object,
            version_id,
            None,
            move |backend, account, bucket, key, version_id| async move {
                backend
                    .get_object_version(&account, &bucket, &key, &version_id, range)
                    .await
            },
        )
        .await
    }

    pub(super) async fn delete_version(
        &mut self,
        client: &Resource<ClientHandle>,
        object: (String, String),
        version_id: String,
    ) -> HostResult<()> {
        self.on_version(
            client,
            &DELETE_OBJECT_VERSION,
            object,
            version_id,
            Some(()),
            |backend, account, bucket, key, version_id| async move {
                backend
                    .delete_object_version(&account, &bucket, &key, &version_id)
                    .await
            },
        )
        .await
    }
}
