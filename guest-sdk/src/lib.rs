//! Write xacct plugins in Rust.
//!
//! A plugin is business logic that runs against many AWS accounts. The xacct host assumes
//! a role in each account and hands the plugin a typed S3 client per account; the plugin
//! never holds an access key, a secret, a session token or a signed URL. This crate wraps
//! the generated bindings of `wit/xacct.wit` in an API that reads like ordinary Rust:
//!
//! - [`accounts`] / [`account`]: the accounts in scope for this invocation;
//! - [`Account::s3`] → [`S3`]: an account's S3, with iterators over listings
//!   ([`S3::list`]), [`std::io::Read`] over object bodies ([`S3::get`]) and
//!   [`std::io::Write`] for puts ([`S3::put`]); every raw call of the WIT client is
//!   reachable through it too (it dereferences to [`Client`]); a bucket's settings with
//!   [`S3::config`];
//! - [`Plugin`] + [`export_plugin!`]: JSON in, JSON out.
//!
//! A complete plugin (`plugins/hello`):
//!
//! ```no_run
//! use xacct_guest::serde_json::{Value, json};
//! use xacct_guest::{Plugin, Result, export_plugin};
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     type Input = Value;
//!     type Output = Value;
//!
//!     fn run(_input: Value) -> Result<Value> {
//!         let account = xacct_guest::account()?;
//!         let buckets: Vec<String> = account.s3()?.buckets()?.into_iter().map(|b| b.name).collect();
//!         Ok(json!({
//!             "greeting": format!("Hello from {} ({})!", account.alias, account.id),
//!             "buckets": buckets,
//!         }))
//!     }
//! }
//!
//! export_plugin!(Hello);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` and drop the `.wasm` into
//! the host's plugin directory.

// The component ABI glue wit-bindgen generates is `unsafe` FFI; the workspace denies
// `unsafe` everywhere else.
#![allow(unsafe_code)]

// Lets the generated bindings name this crate the same way from inside and from a
// plugin crate that expands `export_plugin!`.
extern crate self as xacct_guest;

use std::fmt;
use std::io::{self, Read, Write};
use std::ops::Deref;

pub use serde;
pub use serde_json;

mod config;
mod versions;

/// The raw bindings generated from `wit/xacct.wit`.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "xacct:plugin/plugin",
        with: {
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
        },
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "xacct_guest::bindings",
        runtime_path: "xacct_guest::__private::wit_bindgen::rt",
    });
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}

pub use bindings::xacct::plugin::accounts::Account;
pub use bindings::xacct::plugin::s3::{
    AccessControlList, AclGrant, AclPermission, Bucket, BucketConfig, BucketSetting, ByteRange,
    Client, DefaultEncryption, DeleteResult, Grantee, LifecycleRule, LifecycleTransition,
    ListObjectsPage, ListObjectsRequest, ListVersionsPage, ListVersionsRequest, LoggingConfig,
    ObjectMeta, ObjectOwnership, ObjectSummary, ObjectVersion, PublicAccessBlock, PutOptions,
    PutResult, SseAlgorithm, Tag, Upload, VersioningConfig, VersioningStatus,
};
pub use bindings::xacct::plugin::types::{AccessDenied, DeniedBy, Error as S3Error};
pub use config::{ConfigRequest, block_json, config_json, encryption_json, versioning_status_name};
pub use versions::{ObjectVersionRef, VersionListing};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

/// A plugin's failure: reported as the account's `plugin-error` with this message.
///
/// Any error type converts into it with `?`, as do `String` and `&str` (`.into()`). An
/// S3 error keeps its kind ([`Error::s3`]) and reads as the host wrote it, e.g.
/// `access denied by the xacct grant: read on s3://b/k is not in this plugin's grant
/// (plugin.p); fix: ...`.
pub struct Error {
    message: String,
    s3: Option<S3Error>,
}

impl Error {
    pub fn msg(message: impl fmt::Display) -> Error {
        Error {
            message: message.to_string(),
            s3: None,
        }
    }

    /// The S3 error this is, if it is one: match on its kind.
    pub fn s3(&self) -> Option<&S3Error> {
        self.s3.as_ref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: Into<Box<dyn std::error::Error + Send + Sync>>> From<E> for Error {
    fn from(err: E) -> Error {
        // The generated `Display` of an S3 error is its `Debug`: say it in words instead.
        match err.into().downcast::<S3Error>() {
            Ok(s3) => Error {
                message: s3.describe(),
                s3: Some(*s3),
            },
            Err(other) => Error::msg(other),
        }
    }
}

impl S3Error {
    /// The kind, as the WIT names it: `not-found`, `access-denied`, `throttled`,
    /// `invalid-input`, `limit-exceeded`, `unavailable` or `other`.
    pub fn kind(&self) -> &'static str {
        match self {
            S3Error::NotFound(_) => "not-found",
            S3Error::AccessDenied(_) => "access-denied",
            S3Error::Throttled(_) => "throttled",
            S3Error::InvalidInput(_) => "invalid-input",
            S3Error::LimitExceeded(_) => "limit-exceeded",
            S3Error::Unavailable(_) => "unavailable",
            S3Error::Other(_) => "other",
        }
    }

    /// What the host said.
    pub fn message(&self) -> &str {
        match self {
            S3Error::AccessDenied(denied) => &denied.message,
            S3Error::NotFound(message)
            | S3Error::Throttled(message)
            | S3Error::InvalidInput(message)
            | S3Error::LimitExceeded(message)
            | S3Error::Unavailable(message)
            | S3Error::Other(message) => message,
        }
    }

    /// The kind and the host's message in words, as a report shows them.
    pub fn describe(&self) -> String {
        match self {
            S3Error::AccessDenied(denied) => {
                format!("access denied by {}: {}", denied.by, denied.message)
            }
            other => format!("{}: {}", other.kind().replace('-', " "), other.message()),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `Result` of an S3 call: the host's typed error, which `?` turns into [`Error`].
pub type S3Result<T> = std::result::Result<T, S3Error>;

/// A plugin: typed JSON in, typed JSON out.
pub trait Plugin {
    /// Deserialised from the operator's `--input` (`{}` when none is given).
    type Input: serde::de::DeserializeOwned;
    /// Serialised as this invocation's output in the report.
    type Output: serde::Serialize;

    fn run(input: Self::Input) -> Result<Self::Output>;
}

#[doc(hidden)]
pub fn __run<P: Plugin>(input: String) -> std::result::Result<String, String> {
    let input = serde_json::from_str(&input).map_err(|err| format!("invalid input: {err}"))?;
    let output = P::run(input);
    // Stdout holds a last line without its newline until flushed, and the instance never
    // exits to flush it.
    let _ = io::stdout().flush();
    let output = output.map_err(|err| err.message)?;
    serde_json::to_string(&output).map_err(|err| format!("cannot encode the output: {err}"))
}

/// Exports a [`Plugin`] as the component's `run`.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[doc(hidden)]
        pub struct __XacctPluginExport;

        impl $crate::bindings::Guest for __XacctPluginExport {
            fn run(
                input: ::std::string::String,
            ) -> ::std::result::Result<::std::string::String, ::std::string::String> {
                $crate::__run::<$plugin>(input)
            }
        }

        $crate::bindings::export_world!(__XacctPluginExport with_types_in $crate::bindings);
    };
}

/// Declares the grant the plugin needs, in its file (a custom section `xacct-grant`): TOML
/// in the shape of a `[plugin.NAME]` section, with `format = 1`. `xacct plugins` sets it
/// beside the operator's grant, `xacct grant suggest NAME` prints the section that grants
/// it, and a run warns of a wider grant (refuses it with `strict_grants = true`). Use it
/// once per plugin (two would run together into one section the host refuses); the host
/// checks the text when it loads the plugin.
///
/// ```ignore
/// xacct_guest::declare_grant!(r#"
/// format = 1
/// accounts = ["*"]
/// s3 = [{ buckets = "*", actions = ["list"] }]
/// "#);
/// ```
#[macro_export]
macro_rules! declare_grant {
    ($toml:literal) => {
        const _: () = {
            const TEXT: &str = $toml;
            // A static placed in a custom section of that name: the linker keeps it there,
            // in the core module, where the host reads it (an `xacct plugin annotate` on
            // the built file replaces it).
            #[used]
            #[allow(unsafe_code)]
            #[unsafe(link_section = "xacct-grant")]
            static GRANT: [u8; TEXT.len()] = {
                let bytes = TEXT.as_bytes();
                let mut out = [0; TEXT.len()];
                let mut at = 0;
                while at < out.len() {
                    out[at] = bytes[at];
                    at += 1;
                }
                out
            };
        };
    };
}

impl fmt::Display for DeniedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeniedBy::Xacct => "the xacct grant",
            DeniedBy::Backend => "the backend",
        })
    }
}

/// Whether this is a dry run: puts, deletes, copies and tag writes then succeed without
/// effect (and are reported as planned); report what you would do.
pub fn dry_run() -> bool {
    bindings::xacct::plugin::invocation::dry_run()
}

/// Every account this invocation may touch, in config order.
pub fn accounts() -> Vec<Account> {
    bindings::xacct::plugin::accounts::in_scope()
}

/// The account of a per-account invocation; an error when the invocation sees several
/// (all-accounts mode) or none.
pub fn account() -> Result<Account> {
    let mut accounts = accounts();
    match accounts.len() {
        1 => Ok(accounts.remove(0)),
        n => Err(Error::msg(format!(
            "this plugin runs per account, but the invocation sees {n} accounts"
        ))),
    }
}

/// The account in scope whose id or alias is `name`.
pub fn find_account(name: &str) -> Result<Account> {
    accounts()
        .into_iter()
        .find(|a| a.id == name || a.alias == name)
        .ok_or_else(|| {
            Error::msg(format!(
                "account {name:?} is not in this invocation's scope"
            ))
        })
}

impl Account {
    /// Opens this account's S3.
    pub fn s3(&self) -> S3Result<S3> {
        S3::open(&self.id)
    }
}

/// S3 in one account.
pub struct S3 {
    client: Client,
}

impl Deref for S3 {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl S3 {
    /// Opens the S3 of an account in scope, by id.
    pub fn open(account_id: &str) -> S3Result<S3> {
        Ok(S3 {
            client: Client::open(account_id)?,
        })
    }

    /// The account's buckets.
    pub fn buckets(&self) -> S3Result<Vec<Bucket>> {
        self.client.list_buckets()
    }

    /// A request for settings of `bucket`: name them, then [`ConfigRequest::fetch`], e.g.
    /// `s3.config("b").versioning().encryption().fetch()?`.
    pub fn config(&self, bucket: &str) -> ConfigRequest<'_> {
        ConfigRequest {
            client: &self.client,
            bucket: bucket.to_owned(),
            settings: Vec::new(),
        }
    }

    /// The account's own public access block (S3 Control), if it has one.
    pub fn account_public_access_block(&self) -> S3Result<Option<PublicAccessBlock>> {
        self.client.get_account_public_access_block()
    }

    /// A listing of `bucket`; refine it, then iterate [`Listing::objects`] or
    /// [`Listing::pages`].
    pub fn list(&self, bucket: &str) -> Listing<'_> {
        Listing {
            client: &self.client,
            request: ListObjectsRequest {
                bucket: bucket.to_owned(),
                prefix: None,
                delimiter: None,
                max_keys: None,
                continuation_token: None,
                start_after: None,
            },
        }
    }

    /// Reads an object.
    pub fn get(&self, bucket: &str, key: &str) -> S3Result<ObjectReader> {
        self.get_object(bucket, key, None)
    }

    /// Reads bytes `first..=last` of an object (`last: None`: to the end).
    pub fn get_range(
        &self,
        bucket: &str,
        key: &str,
        first: u64,
        last: Option<u64>,
    ) -> S3Result<ObjectReader> {
        self.get_object(bucket, key, Some(ByteRange { first, last }))
    }

    fn get_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> S3Result<ObjectReader> {
        let object = self.client.get_object(bucket, key, range)?;
        Ok(ObjectReader {
            meta: object.meta,
            content_length: object.content_length,
            stream: object.body,
        })
    }

    /// Starts writing an object; write its bytes, then [`ObjectWriter::finish`].
    pub fn put(&self, bucket: &str, key: &str) -> S3Result<ObjectWriter> {
        self.put_with(
            bucket,
            key,
            PutOptions {
                content_type: None,
                metadata: Vec::new(),
            },
        )
    }

    /// [`S3::put`] with a content type and user metadata.
    pub fn put_with(&self, bucket: &str, key: &str, options: PutOptions) -> S3Result<ObjectWriter> {
        let upload = self.client.put_object(bucket, key, &options)?;
        let stream = upload.body()?;
        Ok(ObjectWriter {
            stream: Some(stream),
            upload: Some(upload),
        })
    }

    /// Stores `bytes` as an object.
    pub fn put_bytes(&self, bucket: &str, key: &str, bytes: &[u8]) -> S3Result<PutResult> {
        self.put(bucket, key)?.copy_from(bytes)
    }
}

/// A listing request being built.
pub struct Listing<'a> {
    client: &'a Client,
    request: ListObjectsRequest,
}

impl<'a> Listing<'a> {
    /// Only keys starting with `prefix`.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.request.prefix = Some(prefix.to_owned());
        self
    }

    /// Roll keys up to the next `delimiter` into common prefixes.
    pub fn delimiter(mut self, delimiter: &str) -> Self {
        self.request.delimiter = Some(delimiter.to_owned());
        self
    }

    /// At most `n` entries per page (1..=1000).
    pub fn page_size(mut self, n: u32) -> Self {
        self.request.max_keys = Some(n);
        self
    }

    /// Start after this key.
    pub fn start_after(mut self, key: &str) -> Self {
        self.request.start_after = Some(key.to_owned());
        self
    }

    /// The pages, fetched as the iterator advances.
    pub fn pages(self) -> Pages<'a> {
        Pages::new(self.client, self.request)
    }

    /// Every object, page after page.
    pub fn objects(self) -> impl Iterator<Item = S3Result<ObjectSummary>> + 'a {
        self.pages().items(|page| page.objects)
    }
}

/// A request answered in pages: how one page is fetched, and how the request moves on to
/// the next.
pub trait Paged: Sized {
    type Page;
    fn fetch(&self, client: &Client) -> S3Result<Self::Page>;
    /// Points the request after `page`; false when `page` was the last.
    fn advance(&mut self, page: &Self::Page) -> bool;
}

impl Paged for ListObjectsRequest {
    type Page = ListObjectsPage;

    fn fetch(&self, client: &Client) -> S3Result<ListObjectsPage> {
        client.list_objects(self)
    }

    fn advance(&mut self, page: &ListObjectsPage) -> bool {
        let Some(token) = &page.next_continuation_token else {
            return false;
        };
        self.continuation_token = Some(token.clone());
        self.start_after = None;
        true
    }
}

/// Pages of a listing; ends after the last page or the first error.
pub struct Pages<'a, R = ListObjectsRequest> {
    client: &'a Client,
    request: Option<R>,
}

impl<'a, R: Paged + 'a> Pages<'a, R> {
    fn new(client: &'a Client, request: R) -> Self {
        Pages {
            client,
            request: Some(request),
        }
    }

    /// Every item of every page (`of` takes them out of a page), page after page.
    fn items<T: 'a>(self, of: fn(R::Page) -> Vec<T>) -> impl Iterator<Item = S3Result<T>> + 'a {
        self.flat_map(move |page| -> Box<dyn Iterator<Item = S3Result<T>>> {
            match page {
                Ok(page) => Box::new(of(page).into_iter().map(Ok)),
                Err(err) => Box::new(std::iter::once(Err(err))),
            }
        })
    }
}

impl<R: Paged> Iterator for Pages<'_, R> {
    type Item = S3Result<R::Page>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut request = self.request.take()?;
        let page = request.fetch(self.client);
        if let Ok(page) = &page
            && request.advance(page)
        {
            self.request = Some(request);
        }
        Some(page)
    }
}

/// An object's bytes, streamed from the host: objects larger than the plugin's memory
/// can be read.
pub struct ObjectReader {
    pub meta: ObjectMeta,
    /// How many bytes this reader yields in all.
    pub content_length: u64,
    stream: InputStream,
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.stream.blocking_read(buf.len() as u64) {
            Ok(bytes) => {
                buf[..bytes.len()].copy_from_slice(&bytes);
                Ok(bytes.len())
            }
            Err(StreamError::Closed) => Ok(0),
            Err(StreamError::LastOperationFailed(err)) => {
                Err(io::Error::other(err.to_debug_string()))
            }
        }
    }
}

/// An object being written. Bytes go to the host as they are written; nothing is stored
/// until [`ObjectWriter::finish`], and dropping the writer unfinished aborts the put.
pub struct ObjectWriter {
    stream: Option<OutputStream>,
    upload: Option<Upload>,
}

impl ObjectWriter {
    /// Stores the object and returns its identity — or, if the host stopped the upload,
    /// the host's reason.
    pub fn finish(mut self) -> S3Result<PutResult> {
        // The host requires the body stream closed before the upload is finished.
        drop(self.stream.take());
        let upload = self.upload.take().expect("finish consumes the writer");
        Upload::finish(upload)
    }

    /// Writes everything `reader` yields, then finishes. A read error aborts the put, so
    /// nothing partial is stored; if the host stops the upload, its reason is returned.
    pub fn copy_from(mut self, mut reader: impl Read) -> S3Result<PutResult> {
        let mut buf = vec![0; 256 << 10];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return self.finish(),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    return Err(S3Error::Other(format!(
                        "reading the body failed ({err}); the put was aborted"
                    )));
                }
            };
            if let Err(err) = self.write_all(&buf[..n]) {
                let stopped = S3Error::Other(format!("the upload stream closed: {err}"));
                return Err(self.finish().err().unwrap_or(stopped));
            }
        }
    }
}

impl Write for ObjectWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let closed = || {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the host stopped this upload; finish() tells why",
            )
        };
        let stream = self.stream.as_ref().ok_or_else(closed)?;
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match stream.check_write() {
                Ok(0) => stream.subscribe().block(),
                Ok(permit) => {
                    let n = buf.len().min(permit as usize);
                    stream.write(&buf[..n]).map_err(|_| closed())?;
                    return Ok(n);
                }
                Err(_) => return Err(closed()),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        // Written bytes are already with the host.
        Ok(())
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        // The stream is a child of the upload: it goes first, then the unfinished upload,
        // which the host aborts.
        drop(self.stream.take());
        drop(self.upload.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_error_keeps_its_kind_and_reads_in_words() {
        let denied = S3Error::AccessDenied(AccessDenied {
            by: DeniedBy::Xacct,
            message: "list of buckets is not in this plugin's grant (plugin.p)".into(),
        });
        let err = Error::from(denied);
        assert_eq!(
            err.to_string(),
            "access denied by the xacct grant: list of buckets is not in this plugin's grant (plugin.p)"
        );
        assert!(matches!(err.s3(), Some(S3Error::AccessDenied(d)) if d.by == DeniedBy::Xacct));
        let missing = Error::from(S3Error::NotFound("s3://b/k".into()));
        assert_eq!(missing.to_string(), "not found: s3://b/k");
        assert_eq!(missing.s3().map(S3Error::kind), Some("not-found"));
        let other = Error::from("plain");
        assert!(other.s3().is_none());
    }
}
