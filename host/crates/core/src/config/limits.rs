//! Per-invocation limits, by who enforces them: the sandbox ([`GuestLimits`]: memory,
//! time, output), the capability's budgets ([`BudgetLimits`]: calls, bytes, handles,
//! streams, uploads, host buffer) and the plugin loader ([`ComponentLimits`]: what a
//! component may take from the instance pool). `[limits]` and `[plugin.NAME.limits]`
//! set them through one table of keys ([`KEYS`]): name, range, unit, and the field each
//! sets.

use std::collections::BTreeMap;
use std::time::Duration;

use toml::Spanned;

use super::file::{ConfigError, Document};

/// Largest memory limit a plugin may be given; the pooling allocator reserves this much
/// address space per instance slot.
pub const MAX_MEMORY_MIB: u64 = 4096;

/// The smallest default host buffer: one multipart part (8 MiB) and the chunks in flight
/// behind it must fit.
pub const MIN_HOST_BUFFER_BYTES: u64 = 16 << 20;

/// Per-invocation limits and budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub guest: GuestLimits,
    pub budget: BudgetLimits,
    /// What the plugin's component may hold; checked when it loads.
    pub component: ComponentLimits,
}

/// What the sandbox holds one invocation of the guest to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestLimits {
    /// Linear memory of the plugin instance, in bytes.
    pub memory_bytes: u64,
    /// Wall time of one invocation, guest CPU and host waits together.
    pub time: Duration,
    /// Size of the JSON the plugin returns, in bytes.
    pub output_bytes: u64,
}

impl Default for GuestLimits {
    fn default() -> Self {
        GuestLimits {
            memory_bytes: 64 << 20,
            time: Duration::from_secs(60),
            output_bytes: 1 << 20,
        }
    }
}

/// What the capability lets one invocation spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetLimits {
    /// S3 calls that reach the backend; each key of a batch call counts as one.
    pub s3_calls: u64,
    /// Bytes of audit log one invocation may write: each call's line is charged before
    /// the call is made.
    pub audit_bytes: u64,
    /// Object bytes read.
    pub read_bytes: u64,
    /// Object bytes written.
    pub write_bytes: u64,
    /// Handles (clients, uploads, streams) open at once.
    pub handles: u64,
    /// Object streams (gets) open at once: each holds a connection and a read buffer.
    pub streams: u64,
    /// Uploads (puts) unfinished at once: each holds up to a multipart part in memory.
    pub uploads: u64,
    /// Host memory the invocation's open streams and unfinished uploads may buffer
    /// together; `None`: a quarter of the memory limit ([`Limits::host_buffer`]).
    pub host_buffer_bytes: Option<u64>,
}

impl Default for BudgetLimits {
    fn default() -> Self {
        BudgetLimits {
            s3_calls: 100_000,
            audit_bytes: 64 << 20,
            read_bytes: 100 << 30,
            write_bytes: 100 << 30,
            handles: 1_000,
            streams: 32,
            uploads: 8,
            host_buffer_bytes: None,
        }
    }
}

/// What one plugin component may take from the instance pool, checked before it is
/// compiled. Toolchains differ widely: a Rust plugin has 3 core instances, a jco one 4, a
/// componentize-py one 14; each has one memory and two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentLimits {
    /// Core module instances, nested components' included.
    pub core_instances: u32,
    /// Linear memories those instances define: each takes a slot of address space for
    /// every concurrent invocation.
    pub memories: u32,
    /// Tables those instances define.
    pub tables: u32,
}

impl Default for ComponentLimits {
    fn default() -> Self {
        ComponentLimits {
            core_instances: 32,
            memories: 4,
            tables: 8,
        }
    }
}

impl ComponentLimits {
    /// Each limit the larger of the two: what an engine serving both must allow.
    pub fn max(self, other: ComponentLimits) -> ComponentLimits {
        ComponentLimits {
            core_instances: self.core_instances.max(other.core_instances),
            memories: self.memories.max(other.memories),
            tables: self.tables.max(other.tables),
        }
    }
}

impl Limits {
    /// The host memory budget of an invocation. Derived from the memory limit by default,
    /// so that what the host holds for a plugin grows with what the operator gave it.
    /// A quarter: sixteen plugins hoarding at the default limits then peaked at 391 MiB
    /// of host memory, where half reached 579 MiB (BENCHMARKS.md, row f).
    pub fn host_buffer(&self) -> u64 {
        self.budget
            .host_buffer_bytes
            .unwrap_or((self.guest.memory_bytes / 4).max(MIN_HOST_BUFFER_BYTES))
    }
}

/// What a key's number counts.
#[derive(Clone, Copy)]
enum Unit {
    /// Things, or seconds.
    One,
    KiB,
    MiB,
}

impl Unit {
    fn apply(self, number: u64) -> u64 {
        match self {
            Unit::One => number,
            Unit::KiB => number << 10,
            Unit::MiB => number << 20,
        }
    }
}

/// One key of a limits section: its name, its range (from 1), its unit, and the field it
/// sets (given the number in bytes, seconds or things).
struct LimitKey {
    name: &'static str,
    max: u64,
    unit: Unit,
    set: fn(&mut Limits, u64),
}

/// A component limit is at most 1,000, so it fits.
fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Every key of `[limits]` and `[plugin.NAME.limits]`, checked in this order.
#[rustfmt::skip]
const KEYS: &[LimitKey] = &[
    LimitKey { name: "memory_mib", max: MAX_MEMORY_MIB, unit: Unit::MiB, set: |l, n| l.guest.memory_bytes = n },
    LimitKey { name: "time_secs", max: 24 * 3600, unit: Unit::One, set: |l, n| l.guest.time = Duration::from_secs(n) },
    LimitKey { name: "output_kib", max: 1 << 20, unit: Unit::KiB, set: |l, n| l.guest.output_bytes = n },
    LimitKey { name: "s3_calls", max: i64::MAX as u64, unit: Unit::One, set: |l, n| l.budget.s3_calls = n },
    LimitKey { name: "audit_mib", max: 1 << 20, unit: Unit::MiB, set: |l, n| l.budget.audit_bytes = n },
    LimitKey { name: "read_mib", max: 1 << 30, unit: Unit::MiB, set: |l, n| l.budget.read_bytes = n },
    LimitKey { name: "write_mib", max: 1 << 30, unit: Unit::MiB, set: |l, n| l.budget.write_bytes = n },
    LimitKey { name: "handles", max: 1_000_000, unit: Unit::One, set: |l, n| l.budget.handles = n },
    LimitKey { name: "streams", max: 10_000, unit: Unit::One, set: |l, n| l.budget.streams = n },
    LimitKey { name: "uploads", max: 1_000, unit: Unit::One, set: |l, n| l.budget.uploads = n },
    LimitKey { name: "host_buffer_mib", max: 64 << 10, unit: Unit::MiB, set: |l, n| l.budget.host_buffer_bytes = Some(n) },
    LimitKey { name: "core_instances", max: 1_000, unit: Unit::One, set: |l, n| l.component.core_instances = count(n) },
    // Every memory slot of the pool reserves 4 GiB of address space, times the
    // concurrency: 16 memories at 1000 invocations is already 64 TiB.
    LimitKey { name: "memories", max: 16, unit: Unit::One, set: |l, n| l.component.memories = count(n) },
    LimitKey { name: "tables", max: 1_000, unit: Unit::One, set: |l, n| l.component.tables = count(n) },
];

/// A limits section as written: key → number, each where it stands.
pub type RawLimits = BTreeMap<Spanned<String>, Spanned<i64>>;

/// The limits of a section (`key`: `limits` or `plugin.NAME.limits`): `base` with what it
/// sets.
pub fn read_limits(
    document: &Document<'_>,
    raw: Option<RawLimits>,
    base: Limits,
    key: &str,
) -> Result<Limits, ConfigError> {
    let raw = raw.unwrap_or_default();
    if let Some(unknown) = raw
        .keys()
        .find(|name| !KEYS.iter().any(|k| k.name == name.get_ref()))
    {
        let known: Vec<String> = KEYS.iter().map(|k| format!("`{}`", k.name)).collect();
        return Err(document.invalid(
            unknown.span(),
            "",
            format!(
                "unknown field `{}`, expected one of {}",
                unknown.get_ref(),
                known.join(", ")
            ),
            "correct the TOML at that line (see the config reference in README.md)",
        ));
    }
    let mut limits = base;
    for limit in KEYS {
        let Some(value) = raw.get(limit.name) else {
            continue;
        };
        let number = *value.get_ref();
        match u64::try_from(number) {
            Ok(number) if (1..=limit.max).contains(&number) => {
                (limit.set)(&mut limits, limit.unit.apply(number));
            }
            _ => {
                return Err(document.invalid(
                    value.span(),
                    format!("{key}.{}", limit.name),
                    format!("{number} is out of range"),
                    format!(
                        "set {} to a whole number from 1 to {}",
                        limit.name, limit.max
                    ),
                ));
            }
        }
    }
    Ok(limits)
}
