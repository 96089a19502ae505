//! What provenance costs per plugin load, for the Rust, Python and JavaScript components
//! `scripts/build-guests` makes, against the sha256 every load already computes (the
//! baseline, measured in the same run):
//!
//! ```sh
//! cargo run --release -p xacct-provenance --example verify_cost [ROUNDS]
//! ```
//!
//! Each figure is the median of ROUNDS (default 21) timings.

// Example code states what it expects with unwrap (the workspace denies it in code that
// ships).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use xacct_provenance::{
    Digest, PluginFile, SigningKey, TrustedSigners, annotate, sign, sign_embedded,
};

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../target"))
}

fn median(rounds: usize, mut run: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[rounds / 2]
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("ROUNDS is a number"))
        .unwrap_or(21);
    // A fixed key: the cost does not depend on which.
    let keypair = ssh_key::private::Ed25519Keypair::from_seed(&[7; 32]);
    let private = ssh_key::PrivateKey::new(keypair.into(), "bench").unwrap();
    let text = private.to_openssh(ssh_key::LineEnding::LF).unwrap();
    let key = SigningKey::from_openssh(&text).unwrap();
    let mut trusted = TrustedSigners::new();
    trusted
        .add_signer(&private.public_key().to_openssh().unwrap(), "trust.signers")
        .unwrap();
    let grant =
        "format = 1\naccounts = [\"*\"]\ns3 = [{ buckets = \"*\", actions = [\"list\"] }]\n";

    println!(
        "| component | size | sha256 (baseline) | layout | embedded verify | ratio | detached verify | ratio | metadata + declaration |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, path) in [
        ("Rust hello", "wasm32-wasip2/release/hello.wasm"),
        ("Python hello-py", "guests/hello-py.wasm"),
        ("JavaScript hello-js", "guests/hello-js.wasm"),
    ] {
        let path = target_dir().join(path);
        let original = std::fs::read(&path).unwrap_or_else(|err| {
            panic!("{}: {err}; run scripts/build-guests first", path.display())
        });
        let annotated = annotate(&original, grant).unwrap().bytes;
        let signed = sign_embedded(&annotated, &key).unwrap();
        let detached = sign(&annotated, &key).unwrap();

        let sha256 = median(rounds, || {
            std::hint::black_box(Digest::of(&signed));
        });
        let layout = median(rounds, || {
            std::hint::black_box(PluginFile::parse(&signed).unwrap());
        });
        let embedded = median(rounds, || {
            let plugin = PluginFile::parse(&signed).unwrap();
            let verification = plugin.verify(None, &trusted, SystemTime::now()).unwrap();
            assert!(verification.trusted_signer().is_ok());
        });
        let detached_time = median(rounds, || {
            let plugin = PluginFile::parse(&annotated).unwrap();
            let verification = plugin
                .verify(Some(&detached), &trusted, SystemTime::now())
                .unwrap();
            assert!(verification.trusted_signer().is_ok());
        });
        let read = median(rounds, || {
            let plugin = PluginFile::parse(&signed).unwrap();
            std::hint::black_box(plugin.metadata().unwrap());
            std::hint::black_box(plugin.declaration().unwrap());
        });
        let ratio = |d: Duration| d.as_secs_f64() / sha256.as_secs_f64();
        println!(
            "| {name} | {:.1} MB | {} | {} | {} | {:.2}× | {} | {:.2}× | {} |",
            signed.len() as f64 / 1e6,
            ms(sha256),
            ms(layout),
            ms(embedded),
            ratio(embedded),
            ms(detached_time),
            ratio(detached_time),
            ms(read),
        );
    }
}
