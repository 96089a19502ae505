//! Which keys may sign plugins: `[trust] signers` entries (public keys as in
//! `authorized_keys`) and `allowed_signers` files, read as git and `ssh-keygen -Y verify`
//! read them, so that one file means the same to all three.
//!
//! An `allowed_signers` line is `principals [options] key`: principals are names for the
//! key (shown, never required); `namespaces="…"` limits the key to signature namespaces
//! (an OpenSSH pattern list that must admit `xacct-plugin`); `valid-after="…"` and
//! `valid-before="…"` bound when it is trusted; `cert-authority` marks a certificate
//! authority, which never vouches for a plain key (and xacct does not take certificates).
//! As in OpenSSH 9, a malformed line makes the whole file an error, and a key listed on
//! several lines is trusted if any one line allows it.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::glob::match_pattern_list;
use crate::key::{NAMESPACE, PublicKey};

/// Where a trusted key was listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Entry `index` (from 0) of the `signers` list at config key `list`.
    Signers { list: String, index: usize },
    /// Line `line` (from 1) of an `allowed_signers` file.
    AllowedSigners { file: String, line: usize },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Signers { list, index } => write!(f, "{list}[{index}]"),
            Origin::AllowedSigners { file, line } => write!(f, "{file}:{line}"),
        }
    }
}

/// The trusted key that made a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub key: PublicKey,
    /// `SHA256:…` as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// The principals of its `allowed_signers` line, or the comment of its `signers` entry.
    pub principals: Vec<String>,
    pub origin: Origin,
}

/// Why a listed key is not trusted for this signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Its `namespaces` option does not admit `xacct-plugin`.
    Namespace { namespaces: String },
    /// It is trusted only from `valid_after` (seconds since the epoch).
    NotYetValid { valid_after: u64 },
    /// It was trusted only until `valid_before`.
    Expired { valid_before: u64 },
    /// It is listed as a certificate authority, which vouches for certificates only.
    CertificateAuthority,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Namespace { namespaces } => {
                write!(f, "namespaces={namespaces:?} does not admit {NAMESPACE}")
            }
            Refusal::NotYetValid { valid_after } => {
                write!(f, "not valid before {}", utc(*valid_after))
            }
            Refusal::Expired { valid_before } => {
                write!(f, "expired at {}", utc(*valid_before))
            }
            Refusal::CertificateAuthority => {
                f.write_str("listed as a cert-authority, which vouches for certificates only")
            }
        }
    }
}

/// Why no trusted key made a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Untrusted {
    #[error(
        "the signer {fingerprint} is not trusted: its key is in no [trust] signers entry or allowed_signers file"
    )]
    NotListed { fingerprint: String },
    #[error("the signer {fingerprint} is not trusted now: {}", refusals.iter().map(|(origin, why)| format!("{origin}: {why}")).collect::<Vec<_>>().join("; "))]
    Refused {
        fingerprint: String,
        refusals: Vec<(Origin, Refusal)>,
    },
}

/// A trust list that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("{list}[{index}]: {reason}")]
    Signer {
        list: String,
        index: usize,
        reason: String,
    },
    #[error("{file}:{line}: {reason}")]
    AllowedSigners {
        file: String,
        line: usize,
        reason: String,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    key: PublicKey,
    principals: Vec<String>,
    certificate_authority: bool,
    namespaces: Option<String>,
    valid_after: Option<u64>,
    valid_before: Option<u64>,
    origin: Origin,
}

/// The keys trusted to sign plugins.
#[derive(Debug, Clone, Default)]
pub struct TrustedSigners {
    entries: Vec<Entry>,
}

impl TrustedSigners {
    pub fn new() -> TrustedSigners {
        TrustedSigners::default()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds the next entry of the `signers` list at config key `list` (e.g.
    /// `trust.signers`, named in messages): an ed25519 public key as in `authorized_keys`,
    /// `ssh-ed25519 AAAA… comment`, the comment naming the signer.
    pub fn add_signer(&mut self, line: &str, list: &str) -> Result<(), TrustError> {
        let index = self
            .entries
            .iter()
            .filter(|entry| matches!(&entry.origin, Origin::Signers { list: l, .. } if l == list))
            .count();
        let error = |reason: String| TrustError::Signer {
            list: list.to_owned(),
            index,
            reason,
        };
        let key = ssh_key::PublicKey::from_openssh(line.trim()).map_err(|err| {
            error(format!(
                "not a public key line `ssh-ed25519 AAAA… comment` ({err})"
            ))
        })?;
        if key.algorithm() != ssh_key::Algorithm::Ed25519 {
            return Err(error(format!(
                "an {} key; xacct accepts ed25519 signers only",
                key.algorithm()
            )));
        }
        let comment = key.comment().trim();
        self.entries.push(Entry {
            key: PublicKey::from_openssh(line).map_err(error)?,
            principals: if comment.is_empty() {
                Vec::new()
            } else {
                vec![comment.to_owned()]
            },
            certificate_authority: false,
            namespaces: None,
            valid_after: None,
            valid_before: None,
            origin: Origin::Signers {
                list: list.to_owned(),
                index,
            },
        });
        Ok(())
    }

    /// Adds the lines of an `allowed_signers` file; `file` names it in messages.
    pub fn add_allowed_signers(&mut self, text: &str, file: &str) -> Result<(), TrustError> {
        let mut entries = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let origin = Origin::AllowedSigners {
                file: file.to_owned(),
                line: index + 1,
            };
            let parsed = parse_line(line, origin).map_err(|reason| TrustError::AllowedSigners {
                file: file.to_owned(),
                line: index + 1,
                reason,
            })?;
            entries.extend(parsed);
        }
        self.entries.extend(entries);
        Ok(())
    }

    /// The trusted signer `key` is at time `at`, or why it is not one.
    pub fn authorize(&self, key: &PublicKey, at: SystemTime) -> Result<Signer, Untrusted> {
        let now = at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let mut refusals = Vec::new();
        for entry in self.entries.iter().filter(|entry| entry.key == *key) {
            let refusal = if entry.certificate_authority {
                Some(Refusal::CertificateAuthority)
            } else if let Some(namespaces) = &entry.namespaces
                && match_pattern_list(NAMESPACE, namespaces) != Some(true)
            {
                Some(Refusal::Namespace {
                    namespaces: namespaces.clone(),
                })
            } else if let Some(valid_after) = entry.valid_after
                && now < valid_after
            {
                Some(Refusal::NotYetValid { valid_after })
            } else if let Some(valid_before) = entry.valid_before
                && now > valid_before
            {
                Some(Refusal::Expired { valid_before })
            } else {
                None
            };
            match refusal {
                Some(refusal) => refusals.push((entry.origin.clone(), refusal)),
                None => {
                    return Ok(Signer {
                        key: entry.key.clone(),
                        fingerprint: entry.key.fingerprint(),
                        principals: entry.principals.clone(),
                        origin: entry.origin.clone(),
                    });
                }
            }
        }
        let fingerprint = key.fingerprint();
        Err(if refusals.is_empty() {
            Untrusted::NotListed { fingerprint }
        } else {
            Untrusted::Refused {
                fingerprint,
                refusals,
            }
        })
    }
}

/// One `allowed_signers` line: `None` for a blank or comment line.
fn parse_line(line: &str, origin: Origin) -> Result<Option<Entry>, String> {
    let rest = line.trim_start_matches([' ', '\t']).trim_end();
    if rest.is_empty() || rest.starts_with('#') {
        return Ok(None);
    }
    let (principals, rest) = principals(rest)?;
    let rest = rest.trim_start_matches([' ', '\t']);
    let first = rest.split([' ', '\t']).next().unwrap_or_default();
    let (options, key) = if ssh_key::Algorithm::new(first).is_ok() {
        ("", rest)
    } else {
        let end = options_end(rest)?;
        (&rest[..end], rest[end..].trim_start_matches([' ', '\t']))
    };
    if key.is_empty() {
        return Err("no key after the principals and options".into());
    }
    let key = PublicKey::from_openssh(key)?;
    let mut entry = Entry {
        key,
        principals: principals.split(',').map(str::to_owned).collect(),
        certificate_authority: false,
        namespaces: None,
        valid_after: None,
        valid_before: None,
        origin,
    };
    if !options.is_empty() {
        apply_options(options, &mut entry)?;
    }
    Ok(Some(entry))
}

/// The principals field (in double quotes, or up to the first blank) and the rest.
fn principals(text: &str) -> Result<(&str, &str), String> {
    if let Some(quoted) = text.strip_prefix('"') {
        let end = quoted
            .find('"')
            .ok_or("the principals' closing quote is missing")?;
        let rest = &quoted[end + 1..];
        if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
            return Err("the quoted principals run into what follows".into());
        }
        return Ok((&quoted[..end], rest));
    }
    let end = text.find([' ', '\t']).unwrap_or(text.len());
    if end == text.len() {
        return Err("a principal without a key".into());
    }
    Ok((&text[..end], &text[end..]))
}

/// Where the options end: at the first blank outside double quotes (`\"` is a quote
/// inside a value), as OpenSSH's `sshkey_advance_past_options`.
fn options_end(text: &str) -> Result<usize, String> {
    let bytes = text.as_bytes();
    let (mut i, mut quoted) = (0, false);
    while i < bytes.len() && (quoted || !matches!(bytes[i], b' ' | b'\t')) {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'"') {
            i += 1;
        } else if bytes[i] == b'"' {
            quoted = !quoted;
        }
        i += 1;
    }
    if quoted {
        return Err("an option's closing quote is missing".into());
    }
    Ok(i)
}

/// Applies `cert-authority`, `namespaces="…"`, `valid-after="…"`, `valid-before="…"`
/// (names in any case, each at most once), as OpenSSH's `sshsigopt_parse`.
fn apply_options(mut options: &str, entry: &mut Entry) -> Result<(), String> {
    loop {
        let (name, value, rest) = option(options)?;
        match (name.to_ascii_lowercase().as_str(), value) {
            ("cert-authority", None) => entry.certificate_authority = true,
            ("namespaces", Some(value)) => set_once(&mut entry.namespaces, value, "namespaces")?,
            ("valid-after", Some(value)) => {
                set_once(&mut entry.valid_after, time(&value)?, "valid-after")?
            }
            ("valid-before", Some(value)) => {
                set_once(&mut entry.valid_before, time(&value)?, "valid-before")?
            }
            _ => return Err(format!("unknown option {name:?}")),
        }
        match rest.strip_prefix(',') {
            None if rest.is_empty() => return Ok(()),
            Some(next) if !next.is_empty() => options = next,
            _ => return Err("options must be separated by single commas".into()),
        }
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, name: &str) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("more than one {name} option"));
    }
    *slot = Some(value);
    Ok(())
}

/// One option: its name, its quoted value if it has one (unescaped), and what follows.
fn option(text: &str) -> Result<(&str, Option<String>, &str), String> {
    let name_end = text.find(['=', ',']).unwrap_or(text.len());
    let name = &text[..name_end];
    let Some(quoted) = text[name_end..].strip_prefix('=') else {
        return Ok((name, None, &text[name_end..]));
    };
    let quoted = quoted
        .strip_prefix('"')
        .ok_or_else(|| format!("the value of {name} must be in double quotes"))?;
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((name, Some(value), &quoted[i + 1..])),
            '\\' if quoted[i + 1..].starts_with('"') => {
                chars.next();
                value.push('"');
            }
            c => value.push(c),
        }
    }
    Err(format!("the value of {name} lacks its closing quote"))
}

/// `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, ending in `Z` or `UTC`, as seconds since
/// the epoch. OpenSSH reads a time without the suffix as local time; xacct asks for UTC
/// rather than guess the zone the file was written in.
fn time(text: &str) -> Result<u64, String> {
    let utc_digits = text.strip_suffix(['Z', 'z']).or_else(|| {
        text.len()
            .checked_sub(3)
            .filter(|&at| text.is_char_boundary(at) && text[at..].eq_ignore_ascii_case("utc"))
            .map(|at| &text[..at])
    });
    let digits = utc_digits.unwrap_or(text);
    let invalid = || format!("{text:?} is not a time YYYYMMDD[HHMM[SS]]Z");
    if !matches!(digits.len(), 8 | 12 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    if utc_digits.is_none() {
        return Err(format!(
            "{text:?} is a local time; write it in UTC with a trailing Z (\"{text}Z\"), which ssh-keygen reads the same"
        ));
    }
    let field = |range: std::ops::Range<usize>| -> i64 {
        digits.get(range).and_then(|f| f.parse().ok()).unwrap_or(0)
    };
    let (year, month, day) = (field(0..4), field(4..6), field(6..8));
    let (hour, minute, second) = (field(8..10), field(10..12), field(12..14));
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(invalid());
    }
    // Like timegm, a day past the month's end runs into the next month.
    let days = days_from_civil(year, month, 1) + day - 1;
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
    match u64::try_from(seconds) {
        Ok(seconds) if seconds > 0 => Ok(seconds),
        _ => Err(format!("{text:?} is not after 1970")),
    }
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian calendar (Howard
/// Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `YYYY-MM-DDTHH:MM:SSZ` (Hinnant's `civil_from_days`).
fn utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_seconds() {
        assert_eq!(time("19700102Z"), Ok(86_400));
        assert_eq!(time("20240229Z"), Ok(1_709_164_800));
        assert_eq!(
            time("202402291230Z"),
            Ok(1_709_164_800 + 12 * 3600 + 30 * 60)
        );
        assert_eq!(time("20240229123005UTC"), Ok(1_709_209_805));
        // timegm's normalisation: 30 February 2023 is 2 March.
        assert_eq!(time("20230230Z"), time("20230302Z"));
        assert!(time("20240229").unwrap_err().contains("local time"));
        for bad in [
            "2024022Z",
            "20241301Z",
            "2024-02-29Z",
            "19700101Z",
            "Z",
            "UTC",
            "éUTC",
        ] {
            assert!(time(bad).is_err(), "{bad}");
        }
        assert_eq!(utc(1_709_209_805), "2024-02-29T12:30:05Z");
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
    }

    fn parse(line: &str) -> Result<Option<Entry>, String> {
        let origin = Origin::AllowedSigners {
            file: "allowed_signers".into(),
            line: 1,
        };
        parse_line(line, origin)
    }

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGOwKMsHdTdWiiRgXJL7Kdf57go33d/25yUWMfDJ55LE";

    #[test]
    fn options_follow_openssh() {
        let mut entry = parse(
            r#"a@x,b@y NAMESPACES="git,xacct-*",valid-after="20240101Z",cert-authority ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGOwKMsHdTdWiiRgXJL7Kdf57go33d/25yUWMfDJ55LE c"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(entry.principals, ["a@x", "b@y"]);
        assert_eq!(entry.namespaces.as_deref(), Some("git,xacct-*"));
        assert_eq!(entry.valid_after, Some(1_704_067_200));
        assert!(entry.certificate_authority);
        entry = parse(
            r#""a b" namespaces="x\"y" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGOwKMsHdTdWiiRgXJL7Kdf57go33d/25yUWMfDJ55LE"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(entry.principals, ["a b"]);
        assert_eq!(entry.namespaces.as_deref(), Some("x\"y"));
        for (bad, why) in [
            ("a@x", "without a key"),
            ("a@x ssh-ed25519", "not an OpenSSH public key"),
            ("a@x namespaces=git KEY", "double quotes"),
            ("a@x nope KEY", "unknown option"),
            ("a@x namespaces=\"git KEY", "closing quote"),
            ("a@x namespaces=\"a\",namespaces=\"b\" KEY", "more than one"),
            ("a@x cert-authority, KEY", "single commas"),
            ("\"a@x KEY", "closing quote"),
            ("a@x valid-before=\"2024\" KEY", "not a time"),
            ("a@x namespaces=\"git\"", "no key"),
        ] {
            let err = parse(&bad.replace("KEY", KEY)).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(parse("   # a comment").unwrap().is_none());
        assert!(parse("\t").unwrap().is_none());
    }
}
