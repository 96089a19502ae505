//! A plugin built against the previous contract, `xacct:plugin@0.1.0` (its WIT is kept
//! here, `wit/xacct.wit`, exactly as it was released), with wit-bindgen alone: it must
//! load and run unchanged on a host serving 0.1.1. Per account in scope: the buckets it
//! may see, and for each the keys and the first object's body and tags (a read, a
//! listing, a head and a tagging call through the old bindings), plus one put and one
//! delete when the input names a bucket to write to.

// The component ABI glue wit-bindgen generates is `unsafe` FFI; the workspace denies
// `unsafe` everywhere else.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    path: "wit",
    world: "xacct:plugin/plugin",
    generate_all,
});

use wasi::io::streams::StreamError;
use xacct::plugin::accounts::in_scope;
use xacct::plugin::s3::{Client, ListObjectsRequest, PutOptions, Upload};

struct Old;

fn read_all(stream: &wasi::io::streams::InputStream) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => bytes.extend(chunk),
            Err(StreamError::Closed) => return Ok(bytes),
            Err(err) => return Err(format!("{err:?}")),
        }
    }
}

fn quoted(text: &str) -> String {
    format!("{text:?}")
}

fn account_line(client: &Client, write_to: Option<&str>) -> Result<String, String> {
    let mut buckets = Vec::new();
    for bucket in client.list_buckets().map_err(|e| format!("{e:?}"))? {
        let page = client
            .list_objects(&ListObjectsRequest {
                bucket: bucket.name.clone(),
                prefix: None,
                delimiter: None,
                max_keys: None,
                continuation_token: None,
                start_after: None,
            })
            .map_err(|e| format!("{e:?}"))?;
        let keys: Vec<String> = page.objects.iter().map(|o| quoted(&o.key)).collect();
        let first = match page.objects.first() {
            Some(object) => {
                let body = client
                    .get_object(&bucket.name, &object.key, None)
                    .map_err(|e| format!("{e:?}"))?;
                let bytes = read_all(&body.body)?;
                let size = client
                    .head_object(&bucket.name, &object.key)
                    .map_err(|e| format!("{e:?}"))?
                    .size;
                let tags = client
                    .get_object_tagging(&bucket.name, &object.key)
                    .map_err(|e| format!("{e:?}"))?;
                format!(
                    "{{\"body\":{},\"size\":{size},\"tags\":{}}}",
                    quoted(&String::from_utf8_lossy(&bytes)),
                    tags.len()
                )
            }
            None => "null".to_owned(),
        };
        buckets.push(format!(
            "{{\"name\":{},\"keys\":[{}],\"first\":{first}}}",
            quoted(&bucket.name),
            keys.join(",")
        ));
    }
    let wrote = match write_to {
        Some(bucket) => {
            let upload = client
                .put_object(
                    bucket,
                    "old-plugin.txt",
                    &PutOptions {
                        content_type: None,
                        metadata: Vec::new(),
                    },
                )
                .map_err(|e| format!("{e:?}"))?;
            let body = upload.body().map_err(|e| format!("{e:?}"))?;
            body.blocking_write_and_flush(b"written by a 0.1.0 plugin")
                .map_err(|e| format!("{e:?}"))?;
            drop(body);
            let stored = Upload::finish(upload).map_err(|e| format!("{e:?}"))?;
            client
                .delete_object(bucket, "old-plugin.txt")
                .map_err(|e| format!("{e:?}"))?;
            stored.size.to_string()
        }
        None => "null".to_owned(),
    };
    Ok(format!(
        "{{\"account\":{},\"dry_run\":{},\"buckets\":[{}],\"wrote\":{wrote}}}",
        quoted(&client.account().id),
        xacct::plugin::invocation::dry_run(),
        buckets.join(",")
    ))
}

impl Guest for Old {
    /// Input: empty, or a bucket name to put (and delete) one object in.
    fn run(input: String) -> Result<String, String> {
        let write_to = input.trim().trim_matches('"');
        let write_to = (!write_to.is_empty() && write_to != "{}").then_some(write_to);
        let mut lines = Vec::new();
        for account in in_scope() {
            let client = Client::open(&account.id).map_err(|e| format!("{e:?}"))?;
            lines.push(account_line(&client, write_to)?);
        }
        Ok(format!("[{}]", lines.join(",")))
    }
}

export!(Old);
