//! Property tests over hostile input: every parser answers arbitrary or damaged bytes with
//! a value or a typed error, never a panic; and the glob inclusion behind "declared vs
//! granted" agrees with brute force.
//!
//! Cases come from a seeded generator, the same on every run; `XACCT_FUZZ_SEED=N` explores
//! others, and a failing case prints the seed that replays it.

// Test code states what it expects with unwrap (the workspace denies it in code that
// ships).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::SystemTime;

use common::*;
use xacct_provenance::{
    AccountSelector, Action, Declaration, GRANT_SECTION, GrantSpec, PluginFile, S3RuleSpec,
    Signature, TrustedSigners, excess, sign_embedded,
};

/// Everything a loader would read of a file, each reader's failure being a value.
fn read_everything(bytes: &[u8]) {
    if let Ok(plugin) = PluginFile::parse(bytes) {
        let _ = plugin.metadata();
        let _ = plugin.declaration();
        let _ = plugin.embedded_signature();
        let _ = plugin.verify(None, &trusting(1), SystemTime::now());
        let _ = plugin.digest();
    }
}

/// A signed component with a declaration, nested modules and metadata: the bytes the
/// mutations damage.
fn seed() -> Vec<u8> {
    let unsigned = bytes(vec![
        Part::Custom("authors", b"Alice"),
        Part::Module(module(&[
            ("name", b"\x00\x02\x01m"),
            ("producers", b"\x00"),
        ])),
        Part::Custom(GRANT_SECTION, GRANT.as_bytes()),
        Part::Nested(component(vec![Part::Custom("note", b"inner")])),
        Part::Custom("version", b"1.0.0"),
    ]);
    sign_embedded(&unsigned, &signing_key(1)).unwrap()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

fn mutation(rng: &mut fastrand::Rng) -> Mutation {
    match rng.u8(0..4) {
        0 => Mutation::Flip(rng.usize(..), rng.u8(..)),
        1 => Mutation::Truncate(rng.usize(..)),
        2 => Mutation::Insert(rng.usize(..), random_bytes(rng, 1..16)),
        _ => Mutation::Remove(rng.usize(..), rng.usize(1..64)),
    }
}

fn random_bytes(rng: &mut fastrand::Rng, len: std::ops::Range<usize>) -> Vec<u8> {
    let len = rng.usize(len);
    std::iter::repeat_with(|| rng.u8(..)).take(len).collect()
}

/// Text that leans on what parsers trip over: quotes, separators, blanks, controls and
/// multi-byte characters, among printable ASCII.
fn random_text(rng: &mut fastrand::Rng, max: usize) -> String {
    const TRICKY: [char; 16] = [
        '"', '\\', ',', '=', ' ', '\t', '\n', '\r', '#', '[', ']', '{', '}', '\u{0}', 'é',
        '\u{202e}',
    ];
    let len = rng.usize(..=max);
    std::iter::repeat_with(|| {
        if rng.bool() {
            TRICKY[rng.usize(..TRICKY.len())]
        } else {
            rng.char(' '..='~')
        }
    })
    .take(len)
    .collect()
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len().max(1);
    match mutation {
        Mutation::Flip(at, bits) => {
            if let Some(byte) = bytes.get_mut(at % len) {
                *byte ^= bits | 1;
            }
        }
        Mutation::Truncate(at) => bytes.truncate(at % len),
        Mutation::Insert(at, new) => {
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, new.iter().copied());
        }
        Mutation::Remove(at, count) => {
            let at = at % len;
            let end = (at + count).min(bytes.len());
            bytes.drain(at.min(end)..end);
        }
    }
}

fn pattern(rng: &mut fastrand::Rng) -> String {
    let len = rng.usize(..5);
    std::iter::repeat_with(|| ['a', 'b', '*', '?'][rng.usize(..4)])
        .take(len)
        .collect()
}

/// Whether `pattern` matches `name`, by backtracking: independent of the automata.
fn brute_match(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| brute_match(rest, &name[skip..])),
        Some((b'?', rest)) => !name.is_empty() && brute_match(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && brute_match(rest, &name[1..]),
    }
}

/// Every name over {a, b, c} up to `max` letters (c standing for the letters no pattern
/// names).
fn names(max: usize) -> Vec<Vec<u8>> {
    let mut all = vec![Vec::new()];
    let mut last = vec![Vec::new()];
    for _ in 0..max {
        last = last
            .iter()
            .flat_map(|name: &Vec<u8>| {
                b"abc"
                    .iter()
                    .map(move |c| [name.as_slice(), &[*c]].concat())
            })
            .collect();
        all.extend(last.iter().cloned());
    }
    all
}

fn rule_for(buckets: String, prefix: &str, actions: &[Action]) -> S3RuleSpec {
    S3RuleSpec {
        buckets,
        prefix: prefix.to_owned(),
        actions: actions.iter().copied().collect(),
        settings: Default::default(),
    }
}

/// Runs `case` on `CASES` generated inputs, naming the seed of one that fails.
fn cases(mut case: impl FnMut(&mut fastrand::Rng)) {
    const CASES: u64 = 1000;
    let seed: u64 = std::env::var("XACCT_FUZZ_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(0x5eed);
    for n in 0..CASES {
        let replay = seed.wrapping_add(n);
        let _report = ReportOnPanic(replay);
        case(&mut fastrand::Rng::with_seed(replay));
    }
}

struct ReportOnPanic(u64);

impl Drop for ReportOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("replay: XACCT_FUZZ_SEED={} runs this case first", self.0);
        }
    }
}

#[test]
fn arbitrary_bytes_are_values_or_errors() {
    cases(|rng| {
        let bytes = random_bytes(rng, 0..256);
        read_everything(&bytes);
        let mut with_header = b"\0asm\x0d\0\x01\0".to_vec();
        with_header.extend(&bytes);
        read_everything(&with_header);
    });
}

#[test]
fn damaged_signed_components_are_values_or_errors() {
    let seed = seed();
    let original = PluginFile::parse(&seed).unwrap();
    cases(|rng| {
        let mut bytes = seed.clone();
        for _ in 0..rng.usize(1..4) {
            apply(&mut bytes, &mutation(rng));
        }
        read_everything(&bytes);
        // Whatever still verifies as signed by the trusted key is the seed's signed part.
        if let Ok(plugin) = PluginFile::parse(&bytes)
            && let Ok(verification) = plugin.verify(None, &trusting(1), SystemTime::now())
            && verification.trusted_signer().is_ok()
        {
            assert_eq!(plugin.unsigned_bytes(), original.unsigned_bytes());
        }
    });
}

#[test]
fn text_parsers_take_any_text() {
    let key = public_line(1);
    cases(|rng| {
        let text = random_text(rng, 200);
        let bytes = random_bytes(rng, 0..200);
        let _ = Declaration::parse(text.as_bytes());
        let _ = Declaration::parse(&bytes);
        let _ = Declaration::parse(format!("format = 1\naccounts = [\"*\"]\n{text}").as_bytes());
        let _ = Signature::from_armored(text.as_bytes());
        let _ = Signature::from_armored(&bytes);
        let _ = Signature::from_armored(
            format!("-----BEGIN SSH SIGNATURE-----\n{text}\n-----END SSH SIGNATURE-----\n")
                .as_bytes(),
        );
        let mut trusted = TrustedSigners::new();
        let _ = trusted.add_allowed_signers(&text, "fuzz");
        let _ = trusted.add_allowed_signers(&format!("a@x {text} {key}"), "fuzz");
        let _ = trusted.add_signer(&text, "trust.signers");
        let _ = AccountSelector::parse(&text);
    });
}

#[test]
fn bucket_inclusion_agrees_with_brute_force() {
    let names = names(6);
    cases(|rng| {
        let granted = pattern(rng);
        let declared: Vec<String> = (0..rng.usize(..3)).map(|_| pattern(rng)).collect();
        let spec = |buckets: &[String]| GrantSpec {
            accounts: vec![AccountSelector::All],
            s3: buckets
                .iter()
                .map(|b| rule_for(b.clone(), "", &[Action::Read]))
                .collect(),
        };
        let wider = !excess(
            &spec(&declared),
            &spec(std::slice::from_ref(&granted)),
            None,
        )
        .is_empty();
        // Patterns of at most 4 tokens differ, if they do, on a name of at most 6 letters.
        let counterexample = names.iter().find(|name| {
            brute_match(granted.as_bytes(), name)
                && !declared.iter().any(|d| brute_match(d.as_bytes(), name))
        });
        assert_eq!(
            wider,
            counterexample.is_some(),
            "granted {granted:?}, declared {declared:?}, counterexample {counterexample:?}"
        );
    });
}

#[test]
fn a_grant_never_exceeds_itself() {
    cases(|rng| {
        let grant = GrantSpec {
            accounts: vec![AccountSelector::Alias("dev".into())],
            s3: (0..rng.usize(..4))
                .map(|_| {
                    let len = rng.usize(..4);
                    let prefix: String =
                        (0..len).map(|_| ['a', 'b', '/'][rng.usize(..3)]).collect();
                    rule_for(pattern(rng), &prefix, &Action::ALL)
                })
                .collect(),
        };
        assert!(excess(&grant, &grant, None).is_empty(), "{grant:?}");
    });
}
