//! m. A signed plugin's warm load against the same plugin unsigned (issue 21 item 7): with
//! the compile cache warm, the signature check is remembered with the digest, so a signed
//! load should cost within a few milliseconds of an unsigned one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{self, keys};
use crate::measure::*;
use xacct::provenance::{TrustedSigners, sign_embedded};
use xacct::sandbox::{
    CacheLocation, LoadOptions, ProvenanceOptions, Sandbox, SignatureCheck, TrustPolicy,
};

/// Loads of each kind measured, after one warm-up load each: in pairs, each pair in the
/// other order than the last, so that neither kind always follows the other.
const LOADS: usize = 31;
/// Signed loads measured with the signature check made again (it is slow on purpose).
const CHECKED_LOADS: usize = 7;

/// The same component from each toolchain.
const COMPONENTS: [(&str, &str); 3] = [
    ("Rust", "hello"),
    ("Python", "hello-py"),
    ("JavaScript", "hello-js"),
];

pub(crate) fn signed_load(results: &mut Results) {
    let scratch = tempfile::tempdir().unwrap();
    let cache_dir = scratch.path().join("cache");
    let (key, public) = keys::signer(1, "release@example");
    let mut signers = TrustedSigners::new();
    signers.add_signer(&public, "trust.signers").unwrap();
    let options = LoadOptions {
        cache: Some(CacheLocation {
            dir: cache_dir.clone(),
            key_file: scratch.path().join("state/cache.key"),
        }),
        provenance: ProvenanceOptions {
            trust: TrustPolicy {
                key: "trust".into(),
                signers,
                require_signed: false,
                strict_grants: false,
            },
            ..ProvenanceOptions::default()
        },
        ..LoadOptions::default()
    };
    let sandbox = Sandbox::with_options(options, 4).unwrap();
    let mut measured = Vec::new();
    let mut data = serde_json::Map::new();
    let mut worst_extra_ms: f64 = 0.0;
    for (language, guest) in COMPONENTS {
        let unsigned = std::fs::read(common::guest(guest)).unwrap();
        let signed = sign_embedded(&unsigned, &key).unwrap();
        let unsigned = write(scratch.path(), "unsigned", guest, &unsigned);
        let signed = write(scratch.path(), "signed", guest, &signed);
        let load = |path: &Path| {
            let started = Instant::now();
            let plugin = sandbox.load(guest, path).unwrap();
            (started.elapsed(), plugin.provenance.signature_check)
        };
        // Warm-up: each compiled once, the signed one's check done once.
        load(&unsigned);
        load(&signed);
        let (mut unsigned_loads, mut signed_loads) = (Vec::new(), Vec::new());
        for pair in 0..LOADS {
            if pair % 2 == 0 {
                unsigned_loads.push(load(&unsigned).0);
            }
            let (elapsed, check) = load(&signed);
            assert_eq!(check, SignatureCheck::Remembered, "{guest}");
            signed_loads.push(elapsed);
            if pair % 2 == 1 {
                unsigned_loads.push(load(&unsigned).0);
            }
        }
        // What remembering saves: the same signed loads with the check made every time.
        let checked_loads: Vec<Duration> = (0..CHECKED_LOADS)
            .map(|_| {
                forget_signature_checks(&cache_dir);
                let (elapsed, check) = load(&signed);
                assert_eq!(check, SignatureCheck::Checked, "{guest}");
                elapsed
            })
            .collect();
        let (unsigned_ms, signed_ms) = (median_ms(unsigned_loads), median_ms(signed_loads));
        let checked_ms = median_ms(checked_loads);
        let ratio = signed_ms / unsigned_ms;
        worst_extra_ms = worst_extra_ms.max(signed_ms - unsigned_ms);
        measured.push(format!(
            "{language} {guest} ({:.1} MB): unsigned {unsigned_ms:.1} ms, signed {signed_ms:.1} ms ({ratio:.2}×, {:+.1} ms; checked on every load: {checked_ms:.1} ms)",
            std::fs::metadata(&unsigned).unwrap().len() as f64 / 1e6,
            signed_ms - unsigned_ms
        ));
        data.insert(
            guest.to_owned(),
            json!({"unsigned_ms": unsigned_ms, "signed_ms": signed_ms, "ratio": ratio, "checked_every_load_ms": checked_ms}),
        );
    }
    results.add(
        "m. warm plugin load, signed against unsigned",
        measured.join("; "),
        target(
            worst_extra_ms <= 5.0,
            "a signed load within 5 ms of the unsigned one",
        ),
        serde_json::Value::Object(data),
    );
}

fn write(dir: &Path, kind: &str, guest: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(kind).join(format!("{guest}.wasm"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Removes the cache's remembered signature checks (the `.signers` entries).
fn forget_signature_checks(cache_dir: &Path) {
    for entry in std::fs::read_dir(cache_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "signers") {
            std::fs::remove_file(path).unwrap();
        }
    }
}

fn median_ms(samples: Vec<Duration>) -> f64 {
    median_p99(samples).0 / 1000.0
}
