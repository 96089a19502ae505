//! The audit log (part of the report stage): one JSON line per S3 call a plugin made —
//! refused, planned (dry run) or executed — appended to a file the operator names.
//!
//! Lines are built from the call's own fields (plugin, account, operation, bucket, key,
//! bytes, outcome), never from anything a backend returned, so no credential can appear.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use aws_smithy_types::date_time::{DateTime, Format};
use serde::Serialize;

use crate::report::private;

/// Why an audit log cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("audit log {}: {source}", path.display())]
pub struct AuditError {
    path: PathBuf,
    source: std::io::Error,
}

/// An append-only JSON-lines file.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

/// One S3 call.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    /// When the call ended, RFC 3339 (UTC).
    pub time: String,
    pub plugin: String,
    /// sha256 of the plugin's component.
    pub sha256: String,
    pub account: String,
    /// The S3 operation, e.g. `GetObject`.
    pub operation: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The keys of a batch (DeleteObjects).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// Object bytes the call moved (a get's body length, a put's or copy's size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// `ok`, `denied` (by the grant; it never reached the backend), `planned` (dry run;
    /// not executed), or the error kind (`not-found`, `access-denied`, ...).
    pub outcome: String,
    pub duration_ms: u64,
}

/// The current time as the audit log writes it.
pub fn timestamp() -> String {
    DateTime::from(SystemTime::now())
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

impl AuditLog {
    /// Opens `path` for appending, creating it if needed; either way it is left readable
    /// by the owner only (see [`private`]).
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let file = private::open(path, OpenOptions::new().create(true).append(true)).map_err(
            |source| AuditError {
                path: path.to_owned(),
                source,
            },
        )?;
        Ok(AuditLog {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// Appends one line. A failure to write is logged, not fatal to the plugin's run.
    pub fn record(&self, event: &AuditEvent) {
        let mut line = serde_json::to_vec(event).expect("audit events serialise");
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(err) = file.write_all(&line) {
            tracing::error!(path = %self.path.display(), "cannot write the audit log: {err}");
        }
    }
}
