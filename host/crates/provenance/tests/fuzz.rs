//! Property tests over hostile input: every parser answers arbitrary or damaged bytes with
//! a value or a typed error, never a panic; and the glob inclusion behind "declared vs
//! granted" agrees with brute force.

mod common;

use std::time::SystemTime;

use common::*;
use proptest::prelude::*;
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

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, bits)| Mutation::Flip(at, bits)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Remove(at, len)),
    ]
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

fn pattern() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!['a', 'b', '*', '?']), 0..5)
        .prop_map(|chars| chars.into_iter().collect())
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
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_values_or_errors(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        read_everything(&bytes);
        let mut with_header = b"\0asm\x0d\0\x01\0".to_vec();
        with_header.extend(&bytes);
        read_everything(&with_header);
    }

    #[test]
    fn damaged_signed_components_are_values_or_errors(mutations in prop::collection::vec(mutation(), 1..4)) {
        let mut bytes = seed();
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        read_everything(&bytes);
        // Whatever still parses and verifies as signed by the trusted key is the seed.
        if let Ok(plugin) = PluginFile::parse(&bytes)
            && let Ok(verification) = plugin.verify(None, &trusting(1), SystemTime::now())
            && verification.trusted_signer().is_ok()
        {
            let seed = seed();
            let original = PluginFile::parse(&seed).unwrap();
            prop_assert_eq!(plugin.unsigned_bytes(), original.unsigned_bytes());
        }
    }

    #[test]
    fn text_parsers_take_any_text(text in ".{0,200}", bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Declaration::parse(text.as_bytes());
        let _ = Declaration::parse(&bytes);
        let _ = Declaration::parse(format!("format = 1\naccounts = [\"*\"]\n{text}").as_bytes());
        let _ = Signature::from_armored(text.as_bytes());
        let _ = Signature::from_armored(&bytes);
        let _ = Signature::from_armored(format!("-----BEGIN SSH SIGNATURE-----\n{text}\n-----END SSH SIGNATURE-----\n").as_bytes());
        let mut trusted = TrustedSigners::new();
        let _ = trusted.add_allowed_signers(&text, "fuzz");
        let _ = trusted.add_allowed_signers(&format!("a@x {text} {}", public_line(1)), "fuzz");
        let _ = trusted.add_signer(&text);
        let _ = AccountSelector::parse(&text);
    }

    #[test]
    fn bucket_inclusion_agrees_with_brute_force(granted in pattern(), declared in prop::collection::vec(pattern(), 0..3)) {
        let spec = |buckets: Vec<String>| GrantSpec {
            accounts: vec![AccountSelector::All],
            s3: buckets.into_iter().map(|b| rule_for(b, "", &[Action::Read])).collect(),
        };
        let wider = !excess(&spec(declared.clone()), &spec(vec![granted.clone()]), None).is_empty();
        // Patterns of at most 4 tokens differ, if they do, on a name of at most 6 letters.
        let counterexample = names(6).into_iter().find(|name| {
            brute_match(granted.as_bytes(), name)
                && !declared.iter().any(|d| brute_match(d.as_bytes(), name))
        });
        prop_assert_eq!(wider, counterexample.is_some(), "granted {:?}, declared {:?}, counterexample {:?}", granted, declared, counterexample);
    }

    #[test]
    fn a_grant_never_exceeds_itself(buckets in prop::collection::vec(pattern(), 0..4), prefixes in prop::collection::vec("[a-z/]{0,4}", 4)) {
        let grant = GrantSpec {
            accounts: vec![AccountSelector::Alias("dev".into())],
            s3: buckets
                .into_iter()
                .zip(prefixes)
                .map(|(b, p)| rule_for(b, &p, &Action::ALL))
                .collect(),
        };
        prop_assert!(excess(&grant, &grant, None).is_empty());
    }
}
