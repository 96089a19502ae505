//! The audit log (part of the report stage): one JSON line per call a plugin made —
//! refused, planned (dry run) or executed — appended to a file the operator names.
//!
//! Lines are built from the call's own fields (plugin, account, operation, bucket, key,
//! bytes, outcome), never from anything a backend returned, so no credential can appear.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

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

/// One call: who made it, in which account, what it named, how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent<'a, T: Serialize> {
    /// When the call ended, RFC 3339 (UTC).
    pub time: String,
    pub plugin: &'a str,
    /// sha256 of the plugin's component.
    pub sha256: &'a str,
    /// The fingerprint (`SHA256:…`) of the trusted key that signed it, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<&'a str>,
    pub account: &'a str,
    /// The operation, e.g. `GetObject`.
    pub operation: &'static str,
    /// What the call named (S3: bucket, key, prefix, the keys of a batch).
    #[serde(flatten)]
    pub target: &'a T,
    /// Object bytes the call moved (a get's body length, a put's or copy's size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// `ok`, `denied` (by the grant; it never reached the backend), `planned` (dry run;
    /// not executed), or the error kind (`not-found`, `access-denied`, ...).
    pub outcome: &'a str,
    pub duration_ms: u64,
}

/// The current time as the audit log writes it: RFC 3339 in UTC, to the microsecond,
/// trailing zeros of the fraction dropped (`2026-11-30T10:04:05.25Z`).
pub fn timestamp() -> String {
    rfc3339(SystemTime::now())
}

fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (days, day_seconds) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        day_seconds / 3600,
        day_seconds / 60 % 60,
        day_seconds % 60
    );
    let micros = since.subsec_micros();
    if micros > 0 {
        let fraction = format!("{micros:06}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// Milliseconds since the Unix epoch of a [`timestamp`] (`YYYY-MM-DDTHH:MM:SS[.fff…]Z`,
/// as xacct writes them); `None` for any other text.
pub fn unix_ms(text: &str) -> Option<u64> {
    let text = text.strip_suffix('Z')?;
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    let field = |range: std::ops::Range<usize>| -> Option<u64> {
        let digits = seconds.get(range)?;
        digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if seconds.len() != 19
        || separators
            .iter()
            .any(|(at, c)| seconds.as_bytes()[*at] != *c)
    {
        return None;
    }
    let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let (hour, minute, second) = (field(11..13)?, field(14..16)?, field(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 9 {
        return None;
    }
    let millis: u64 = format!("{fraction:0<3}")[..3].parse().ok()?;
    let days = days_from_civil(year, month, day)?;
    Some(((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + millis)
}

/// Days from 1970-01-01 to a date (Howard Hinnant's `days_from_civil`); `None` before 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let year = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = year / 400;
    let year_of_era = year % 400;
    let month_from_march = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era).checked_sub(719_468)
}

/// The date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
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

    /// The process's standard output: a Lambda function's log stream, which Lambda
    /// collects (each line written whole, under the log's lock).
    pub fn stdout() -> Result<AuditLog, AuditError> {
        let path = PathBuf::from("standard output");
        let fd = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|source| AuditError {
                path: path.clone(),
                source,
            })?;
        Ok(AuditLog {
            path,
            file: Mutex::new(File::from(fd)),
        })
    }

    /// Appends one line. A failure to write is logged, not fatal to the plugin's run.
    pub fn record<T: Serialize>(&self, event: &AuditEvent<'_, T>) {
        let mut line = match serde_json::to_vec(event) {
            Ok(line) => line,
            Err(err) => {
                tracing::error!(path = %self.path.display(), "cannot write an audit line: {err}");
                return;
            }
        };
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(err) = file.write_all(&line) {
            tracing::error!(path = %self.path.display(), "cannot write the audit log: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc_3339_utc_to_the_microsecond() {
        let at = |secs: u64, micros: u64| {
            rfc3339(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00Z");
        // A leap day, the day after it, a century that is no leap year, one that is.
        assert_eq!(at(1_709_251_199, 250_000), "2024-02-29T23:59:59.25Z");
        assert_eq!(at(1_709_251_200, 1), "2024-03-01T00:00:00.000001Z");
        assert_eq!(at(4_102_444_800, 0), "2100-01-01T00:00:00Z");
        assert_eq!(at(951_782_400, 0), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn timestamps_read_back_to_the_millisecond() {
        for (secs, micros) in [
            (0, 0),
            (1_709_251_199, 250_000),
            (1_709_251_200, 1),
            (4_102_444_800, 999_999),
        ] {
            let text =
                rfc3339(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros));
            assert_eq!(unix_ms(&text), Some(secs * 1000 + micros / 1000), "{text}");
        }
        for bad in [
            "",
            "2024-02-29T23:59:59",
            "2024-13-01T00:00:00Z",
            "2024-02-29 23:59:59Z",
            "2024-02-29T23:59:59.xZ",
            "1969-12-31T23:59:59Z",
            "+024-02-29T23:59:59Z",
        ] {
            assert_eq!(unix_ms(bad), None, "{bad:?}");
        }
    }
}
