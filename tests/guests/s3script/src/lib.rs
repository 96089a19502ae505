//! Test-only plugin that runs a script of S3 operations through the WIT interface and
//! reports each one's result or typed error, so tests can check the capability layer
//! and the backends' S3 semantics from inside a real guest.
//!
//! Input: `{"steps": [{"op": "put", "bucket": "b", "key": "k", "body": "text"}, ...]}`.
//! Each step may name an `account` (id or alias); the default is the first in scope.

// The component ABI glue wit-bindgen generates is `unsafe` FFI; the workspace denies
// `unsafe` everywhere else.
#![allow(unsafe_code)]

use serde::Deserialize;
use xacct_guest::serde_json::{Value, json};
use xacct_guest::{
    BucketSetting, DefaultEncryption, ObjectReader, Plugin, PublicAccessBlock, PutOptions, Result,
    S3, S3Error, SseAlgorithm, Tag, Upload, VersioningStatus, accounts, block_json, config_json,
    export_plugin, find_account,
};

struct Script;

#[derive(Deserialize)]
struct Input {
    steps: Vec<Step>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Step {
    op: String,
    account: Option<String>,
    bucket: String,
    key: String,
    to_bucket: String,
    to_key: String,
    body: String,
    prefix: Option<String>,
    delimiter: Option<String>,
    max_keys: Option<u32>,
    token: Option<String>,
    start_after: Option<String>,
    first: Option<u64>,
    last: Option<u64>,
    content_type: Option<String>,
    metadata: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    keys: Vec<String>,
    /// `versions`, `head_version`, `get_version`, `delete_version`: the version id; in
    /// `versions`, the version-id marker (with `token` as the key marker).
    version: Option<String>,
    /// `config`: the settings to read, by their WIT names.
    settings: Vec<String>,
    /// `put_block`: the four switches by name; `put_encryption`: `algorithm` (as S3
    /// writes it), `kms_key_id`, `bucket_key`; `put_versioning`: `Enabled` or `Suspended`.
    value: Value,
    /// `put_abandon`: how many times to write `body`; `leak_clients`, `hoard_streams`,
    /// `hoard_uploads`: how many to open; `delete_many` with `size`: how many batches.
    repeat: usize,
    /// `hoard_uploads`: how many times to write `body` to each upload; `delete_many`: the
    /// number of keys to make up (instead of `keys`).
    size: usize,
}

fn error_json(err: &S3Error) -> Value {
    let (kind, message) = match err {
        S3Error::NotFound(m) => ("not-found", m.clone()),
        S3Error::AccessDenied(d) => ("access-denied", format!("{} (by {})", d.message, d.by)),
        S3Error::Throttled(m) => ("throttled", m.clone()),
        S3Error::InvalidInput(m) => ("invalid-input", m.clone()),
        S3Error::LimitExceeded(m) => ("limit-exceeded", m.clone()),
        S3Error::Unavailable(m) => ("unavailable", m.clone()),
        S3Error::Other(m) => ("other", m.clone()),
    };
    json!({ "kind": kind, "message": message })
}

fn version_json(version: &xacct_guest::ObjectVersion) -> Value {
    json!({
        "key": version.key,
        "id": version.version_id,
        "latest": version.is_latest,
        "marker": version.is_delete_marker,
        "size": version.size,
        "etag": version.etag,
    })
}

fn read_all(mut reader: ObjectReader) -> Value {
    let mut body = Vec::new();
    match std::io::Read::read_to_end(&mut reader, &mut body) {
        Ok(_) => json!({
            "body": String::from_utf8_lossy(&body),
            "content_length": reader.content_length,
            "size": reader.meta.size,
            "content_type": reader.meta.content_type,
        }),
        Err(err) => json!({ "read_error": err.to_string() }),
    }
}

/// An upload and its body stream, through the raw client (no SDK writer in between).
fn raw_upload(
    s3: &S3,
    bucket: &str,
    key: &str,
) -> std::result::Result<(Upload, wasip2::io::streams::OutputStream), S3Error> {
    let options = PutOptions {
        content_type: None,
        metadata: Vec::new(),
    };
    let upload = s3.put_object(bucket, key, &options)?;
    let body = upload.body()?;
    Ok((upload, body))
}

/// A bucket setting by its WIT name.
fn setting(name: &str) -> std::result::Result<BucketSetting, S3Error> {
    Ok(match name {
        "location" => BucketSetting::Location,
        "versioning" => BucketSetting::Versioning,
        "encryption" => BucketSetting::Encryption,
        "public-access-block" => BucketSetting::PublicAccessBlock,
        "policy-status" => BucketSetting::PolicyStatus,
        "policy" => BucketSetting::Policy,
        "ownership-controls" => BucketSetting::OwnershipControls,
        "lifecycle" => BucketSetting::Lifecycle,
        "logging" => BucketSetting::Logging,
        "tags" => BucketSetting::Tags,
        "acl" => BucketSetting::Acl,
        other => return Err(S3Error::Other(format!("unknown setting {other:?}"))),
    })
}

fn block(value: &Value) -> PublicAccessBlock {
    let on = |name: &str| value[name].as_bool().unwrap_or(false);
    PublicAccessBlock {
        block_public_acls: on("block_public_acls"),
        ignore_public_acls: on("ignore_public_acls"),
        block_public_policy: on("block_public_policy"),
        restrict_public_buckets: on("restrict_public_buckets"),
    }
}

fn encryption(value: &Value) -> std::result::Result<DefaultEncryption, S3Error> {
    Ok(DefaultEncryption {
        algorithm: match value["algorithm"].as_str() {
            Some("AES256") => SseAlgorithm::Aes256,
            Some("aws:kms") => SseAlgorithm::AwsKms,
            Some("aws:kms:dsse") => SseAlgorithm::AwsKmsDsse,
            other => return Err(S3Error::Other(format!("unknown algorithm {other:?}"))),
        },
        kms_key_id: value["kms_key_id"].as_str().map(str::to_owned),
        bucket_key: value["bucket_key"].as_bool().unwrap_or(false),
    })
}

fn versioning(value: &Value) -> std::result::Result<VersioningStatus, S3Error> {
    match value.as_str() {
        Some("Enabled") => Ok(VersioningStatus::Enabled),
        Some("Suspended") => Ok(VersioningStatus::Suspended),
        other => Err(S3Error::Other(format!("unknown status {other:?}"))),
    }
}

fn tags(step: &Step) -> Vec<Tag> {
    step.tags
        .iter()
        .map(|(k, v)| Tag {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

fn step(step: &Step) -> std::result::Result<Value, S3Error> {
    let account = match &step.account {
        Some(name) => match find_account(name) {
            Ok(account) => account,
            // Not in scope: ask the host anyway, to see its answer.
            Err(_) => return S3::open(name).map(|_| Value::Null),
        },
        None => accounts()
            .into_iter()
            .next()
            .ok_or_else(|| S3Error::Other("no account in scope".into()))?,
    };
    let s3 = S3::open(&account.id)?;
    let (bucket, key) = (step.bucket.as_str(), step.key.as_str());
    Ok(match step.op.as_str() {
        "buckets" => json!(
            s3.list_buckets()?
                .into_iter()
                .map(|b| b.name)
                .collect::<Vec<_>>()
        ),
        "list" => {
            let page = s3.list_objects(&xacct_guest::ListObjectsRequest {
                bucket: bucket.into(),
                prefix: step.prefix.clone(),
                delimiter: step.delimiter.clone(),
                max_keys: step.max_keys,
                continuation_token: step.token.clone(),
                start_after: step.start_after.clone(),
            })?;
            json!({
                "keys": page.objects.iter().map(|o| &o.key).collect::<Vec<_>>(),
                "sizes": page.objects.iter().map(|o| o.size).collect::<Vec<_>>(),
                "prefixes": page.common_prefixes,
                "token": page.next_continuation_token,
            })
        }
        "list_all" => {
            let mut listing = s3.list(bucket).prefix(step.prefix.as_deref().unwrap_or(""));
            if let Some(d) = &step.delimiter {
                listing = listing.delimiter(d);
            }
            if let Some(n) = step.max_keys {
                listing = listing.page_size(n);
            }
            let (mut keys, mut prefixes, mut pages) = (Vec::new(), Vec::new(), 0);
            for page in listing.pages() {
                let page = page?;
                pages += 1;
                keys.extend(page.objects.into_iter().map(|o| o.key));
                prefixes.extend(page.common_prefixes);
            }
            json!({ "keys": keys, "prefixes": prefixes, "pages": pages })
        }
        "head" => {
            let meta = s3.head_object(bucket, key)?;
            json!({ "size": meta.size, "etag": meta.etag, "content_type": meta.content_type, "metadata": meta.metadata })
        }
        "get" => {
            let reader = match step.first {
                Some(first) => s3.get_range(bucket, key, first, step.last),
                None => s3.get(bucket, key),
            };
            read_all(reader?)
        }
        "put" => {
            let options = PutOptions {
                content_type: step.content_type.clone(),
                metadata: step.metadata.clone(),
            };
            let stored = s3
                .put_with(bucket, key, options)?
                .copy_from(step.body.as_bytes())?;
            json!({ "etag": stored.etag, "size": stored.size })
        }
        "put_abandon" => {
            let mut writer = s3.put(bucket, key)?;
            for _ in 0..step.repeat.max(1) {
                std::io::Write::write_all(&mut writer, step.body.as_bytes())
                    .map_err(|e| S3Error::Other(e.to_string()))?;
            }
            drop(writer);
            Value::Null
        }
        "leak_clients" => {
            // Opens clients and never drops them; reports how many it got.
            let mut opened = 0;
            for _ in 0..step.repeat {
                match S3::open(&account.id) {
                    Ok(client) => {
                        std::mem::forget(client);
                        opened += 1;
                    }
                    Err(err) => return Err(err),
                }
            }
            json!(opened)
        }
        "hoard_streams" => {
            // Opens `repeat` streams of one object and reads none of them, keeping them
            // all open; reports how many it got and the error that stopped it.
            let mut held = Vec::new();
            let mut stopped = Value::Null;
            for _ in 0..step.repeat {
                match s3.get(bucket, key) {
                    Ok(reader) => held.push(reader),
                    Err(err) => {
                        stopped = error_json(&err);
                        break;
                    }
                }
            }
            json!({ "opened": held.len(), "stopped": stopped })
        }
        "hoard_uploads" => {
            // Starts `repeat` uploads, writes `body` to each `size` times over, and
            // finishes none of them.
            let mut held = Vec::new();
            let mut stopped = Value::Null;
            for i in 0..step.repeat {
                let writer = s3.put(bucket, &format!("{key}{i}")).and_then(|mut writer| {
                    for _ in 0..step.size.max(1) {
                        std::io::Write::write_all(&mut writer, step.body.as_bytes())
                            .map_err(|e| S3Error::Other(e.to_string()))?;
                    }
                    Ok(writer)
                });
                match writer {
                    Ok(writer) => held.push(writer),
                    Err(err) => {
                        stopped = error_json(&err);
                        break;
                    }
                }
            }
            json!({ "opened": held.len(), "stopped": stopped })
        }
        "drop_client_then_read" => {
            // The object's stream outlives the client it came from.
            let reader = S3::open(&account.id)?.get(bucket, key)?;
            drop(s3);
            read_all(reader)
        }
        "oversized_write" => {
            // Writes more than check-write permits, as a hostile guest could.
            let (_upload, body) = raw_upload(&s3, bucket, key)?;
            let written = body.write(&vec![0; 4 << 20]);
            json!(written.is_ok())
        }
        "finish_with_open_body" => {
            let (upload, body) = raw_upload(&s3, bucket, key)?;
            let result = Upload::finish(upload);
            drop(body);
            json!(result?.size)
        }
        "delete" => json!(s3.delete_object(bucket, key)?),
        "delete_many" if step.size > 0 => {
            // A batch of `size` keys, `key` followed by a number, sent `repeat` times (at
            // least once): a flood of batch calls from a small input. Answers counts.
            let keys: Vec<String> = (0..step.size).map(|i| format!("{key}{i:06}")).collect();
            let mut sent = 0;
            let mut deleted = 0;
            for _ in 0..step.repeat.max(1) {
                deleted = s3.delete_objects(bucket, &keys)?.deleted.len();
                sent += 1;
            }
            json!({ "batches": sent, "deleted": deleted })
        }
        "delete_many" => {
            let result = s3.delete_objects(bucket, &step.keys)?;
            let failed: Vec<Value> = result
                .failed
                .iter()
                .map(|(k, e)| json!({ "key": k, "error": error_json(e) }))
                .collect();
            json!({ "deleted": result.deleted, "failed": failed })
        }
        "copy" => {
            let stored = s3.copy_object(bucket, key, &step.to_bucket, &step.to_key)?;
            json!({ "etag": stored.etag, "size": stored.size })
        }
        "config" => {
            let settings = step
                .settings
                .iter()
                .map(|name| setting(name))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            config_json(&s3.get_bucket_config(bucket, &settings)?)
        }
        "versions" => {
            let page = s3.list_object_versions(&xacct_guest::ListVersionsRequest {
                bucket: bucket.into(),
                prefix: step.prefix.clone(),
                delimiter: step.delimiter.clone(),
                max_keys: step.max_keys,
                key_marker: step.token.clone(),
                version_id_marker: step.version.clone(),
            })?;
            json!({
                "versions": page.versions.iter().map(version_json).collect::<Vec<_>>(),
                "prefixes": page.common_prefixes,
                "key_marker": page.next_key_marker,
                "version_marker": page.next_version_id_marker,
            })
        }
        "versions_all" => {
            let mut listing = s3
                .list_versions(bucket)
                .prefix(step.prefix.as_deref().unwrap_or(""));
            if let Some(n) = step.max_keys {
                listing = listing.page_size(n);
            }
            let versions = listing
                .versions()
                .map(|version| version.map(|v| version_json(&v)))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            json!(versions)
        }
        "head_version" => {
            let version = step.version.as_deref().unwrap_or_default();
            let meta = s3.object_version(bucket, key, version).head()?;
            json!({ "size": meta.size, "etag": meta.etag, "content_type": meta.content_type, "metadata": meta.metadata })
        }
        "get_version" => {
            let version =
                s3.object_version(bucket, key, step.version.as_deref().unwrap_or_default());
            let reader = match step.first {
                Some(first) => version.get_range(first, step.last),
                None => version.get(),
            };
            read_all(reader?)
        }
        "delete_version" => {
            let version = step.version.as_deref().unwrap_or_default();
            json!(s3.object_version(bucket, key, version).delete()?)
        }
        "account_block" => json!(s3.account_public_access_block()?.as_ref().map(block_json)),
        "put_block" => json!(s3.put_public_access_block(bucket, block(&step.value))?),
        "put_encryption" => json!(s3.put_bucket_encryption(bucket, &encryption(&step.value)?)?),
        "put_versioning" => json!(s3.put_bucket_versioning(bucket, versioning(&step.value)?)?),
        "put_bucket_tags" => json!(s3.put_bucket_tagging(bucket, &tags(step))?),
        "tags_get" => json!(
            s3.get_object_tagging(bucket, key)?
                .into_iter()
                .map(|t| (t.key, t.value))
                .collect::<Vec<_>>()
        ),
        "tags_put" => json!(s3.put_object_tagging(bucket, key, &tags(step))?),
        other => return Err(S3Error::Other(format!("unknown op {other:?}"))),
    })
}

impl Plugin for Script {
    type Input = Input;
    type Output = Value;

    fn run(input: Input) -> Result<Value> {
        let results: Vec<Value> = input
            .steps
            .iter()
            .map(|s| match step(s) {
                Ok(value) => json!({ "ok": value }),
                Err(err) => json!({ "error": error_json(&err) }),
            })
            .collect();
        Ok(json!({ "results": results }))
    }
}

export_plugin!(Script);
