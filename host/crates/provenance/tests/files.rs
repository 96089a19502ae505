//! Plugin files: real components signed, annotated and read back, and every tampering or
//! malformed case a refusal of its own kind.

// Test code states what it expects with unwrap (the workspace denies it in code that
// ships).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::SystemTime;

use common::*;
use sha2::{Digest as _, Sha256};
use wasmparser::{Validator, WasmFeatures};
use xacct_provenance::layout::{MAX_GRANT_BYTES, MAX_SIGNATURE_BYTES};
use xacct_provenance::{
    Carrier, DeclarationError, Digest, Error, GRANT_SECTION, Kind, LayoutError, MetadataError,
    Mode, NotTrusted, Place, PluginFile, SIGNATURE_SECTION, Signature, SignatureError, Untrusted,
    annotate, sign, sign_embedded,
};

fn validate(bytes: &[u8]) {
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(bytes)
        .unwrap();
}

#[test]
fn real_components_are_signed_annotated_and_read_back() {
    for name in REAL_COMPONENTS {
        let (path, original) = guest(name);
        let plugin = PluginFile::parse(&original).unwrap();
        assert_eq!(plugin.kind(), Kind::Component, "{name}");
        assert_eq!(
            plugin.digest().0,
            <[u8; 32]>::from(Sha256::digest(&original))
        );
        assert_eq!(plugin.embedded_signature(), Ok(None));
        // Every sample declares its grant: the Rust ones when built (`declare_grant!`,
        // in their core module), the Python and JavaScript ones after the build (`xacct
        // plugin annotate` in scripts/build-other-languages, at the top level).
        let built = plugin.declaration().unwrap().expect(name);
        let rust = name == "hello";
        assert_eq!(
            matches!(built.place, Place::CoreModule { .. }),
            rust,
            "{name}: {:?}",
            built.place
        );
        plugin.metadata().unwrap();
        let unsigned = plugin
            .verify(None, &trusting(1), SystemTime::now())
            .unwrap();
        assert_eq!(unsigned.trusted_signer().unwrap_err(), NotTrusted::Unsigned);

        let annotated = annotate(&original, GRANT).unwrap();
        assert!(!annotated.dropped_signature);
        // A top-level declaration is replaced in place; one from the build is overridden.
        assert_eq!(annotated.replaces_built, rust, "{name}");
        let signed = sign_embedded(&annotated.bytes, &signing_key(1)).unwrap();
        // Custom sections are not the component's semantics: it stays valid for wasmtime's
        // validator, whose checks the host runs before compiling.
        validate(&signed);
        let plugin = PluginFile::parse(&signed).unwrap();
        assert_eq!(plugin.unsigned_bytes(), &annotated.bytes[..]);
        let declared = plugin.declaration().unwrap().unwrap();
        assert_eq!(declared.place, Place::TopLevel);
        assert_eq!(declared.declaration.grant.s3[0].buckets, "reports-*");
        let verification = plugin
            .verify(None, &trusting(1), SystemTime::now())
            .unwrap();
        let signer = verification.trusted_signer().unwrap();
        assert_eq!(
            signer.fingerprint,
            signing_key(1).public_key().fingerprint()
        );
        assert_eq!(verification.signatures[0].carrier, Carrier::Embedded);
        // Signing again replaces the signature rather than stacking one on another.
        assert_eq!(sign_embedded(&signed, &signing_key(1)).unwrap(), signed);
        // The digest is the whole file's as it lies, signature included.
        assert_ne!(plugin.digest(), Digest::of(&original));
        // Annotating a signed file drops its signature, which covered other bytes.
        let reannotated = annotate(&signed, GRANT).unwrap();
        assert!(reannotated.dropped_signature);
        assert_eq!(reannotated.bytes, annotated.bytes);
        println!(
            "{}: {} bytes, signed and annotated",
            path.display(),
            original.len()
        );
    }
}

#[test]
fn standard_metadata_is_read_as_wasm_metadata_writes_it() {
    let (_, hello) = guest("hello");
    // Name and producers as wasm-metadata writes them (wasm-tools metadata add)...
    let mut add = wasm_metadata::AddMetadata::default();
    add.name = wasm_metadata::AddMetadataField::Set("hello".into());
    add.sdk = vec![("xacct-guest".into(), "0.1.0".into())];
    let mut with_metadata = add.to_wasm(&hello).unwrap();
    // ...and the OCI-annotation sections as its `oci` feature does: a custom section of
    // UTF-8 text each (wasm-metadata's oci_annotations/*.rs).
    for (name, text) in [
        ("version", "1.2.3"),
        ("authors", "Alice <a@example>"),
        ("source", "https://example.com/hello"),
        ("revision", "abc123"),
        ("licenses", "Apache-2.0"),
    ] {
        with_metadata.extend(custom_section(name, text.as_bytes()));
    }
    let metadata = PluginFile::parse(&with_metadata)
        .unwrap()
        .metadata()
        .unwrap();
    assert_eq!(metadata.name.as_deref(), Some("hello"));
    assert_eq!(metadata.version.as_deref(), Some("1.2.3"));
    assert_eq!(metadata.authors.as_deref(), Some("Alice <a@example>"));
    assert_eq!(
        metadata.source.as_deref(),
        Some("https://example.com/hello")
    );
    assert_eq!(metadata.revision.as_deref(), Some("abc123"));
    assert_eq!(metadata.licenses.as_deref(), Some("Apache-2.0"));
    assert_eq!((metadata.description, metadata.homepage), (None, None));
    let sdk = metadata
        .producers
        .iter()
        .find(|(field, _)| field == "sdk")
        .unwrap();
    assert!(sdk.1.contains(&("xacct-guest".into(), "0.1.0".into())));

    // What the toolchains write at the top level is read too; absent fields stay absent.
    for name in REAL_COMPONENTS {
        let (_, bytes) = guest(name);
        let metadata = PluginFile::parse(&bytes).unwrap().metadata().unwrap();
        assert_eq!(metadata.version, None, "{name}");
        println!("{name}: {metadata:?}");
    }
}

#[test]
fn a_repeated_or_oversized_metadata_section_is_an_error_not_a_guess() {
    let repeated = bytes(vec![
        Part::Custom("authors", b"Alice"),
        Part::Custom("authors", b"Mallory"),
    ]);
    let err = PluginFile::parse(&repeated)
        .unwrap()
        .metadata()
        .unwrap_err();
    assert!(
        matches!(err, MetadataError::Repeated { ref section, .. } if section == "authors"),
        "{err}"
    );
    let huge = vec![b'x'; xacct_provenance::metadata::MAX_TEXT_BYTES + 1];
    let oversized = bytes(vec![Part::Custom("description", &huge)]);
    assert!(matches!(
        PluginFile::parse(&oversized).unwrap().metadata(),
        Err(MetadataError::TooLarge { .. })
    ));
    let binary = bytes(vec![Part::Custom("version", b"\xff\xfe")]);
    assert!(matches!(
        PluginFile::parse(&binary).unwrap().metadata(),
        Err(MetadataError::NotUtf8 { .. })
    ));
    let garbage = bytes(vec![Part::Custom("producers", b"\x05garbage")]);
    assert!(matches!(
        PluginFile::parse(&garbage).unwrap().metadata(),
        Err(MetadataError::Malformed { .. })
    ));
    // Nested modules' own metadata is theirs, not the plugin's.
    let nested = bytes(vec![
        Part::Custom("authors", b"Alice"),
        Part::Module(module(&[("authors", b"a library")])),
    ]);
    let metadata = PluginFile::parse(&nested).unwrap().metadata().unwrap();
    assert_eq!(metadata.authors.as_deref(), Some("Alice"));
}

/// A signed synthetic component: a core module and a declared grant.
fn signed_component() -> Vec<u8> {
    let unsigned = bytes(vec![
        Part::Module(module(&[])),
        Part::Custom(GRANT_SECTION, GRANT.as_bytes()),
    ]);
    sign_embedded(&unsigned, &signing_key(1)).unwrap()
}

fn embedded_refusal(bytes: &[u8]) -> SignatureError {
    let plugin = PluginFile::parse(bytes).unwrap();
    let refusal = plugin
        .verify(None, &trusting(1), SystemTime::now())
        .unwrap_err();
    assert_eq!(refusal.carrier, Carrier::Embedded);
    refusal.source
}

#[test]
fn a_truncated_or_malformed_signature_is_refused() {
    let signed = signed_component();
    let plugin = PluginFile::parse(&signed).unwrap();
    let unsigned = plugin.unsigned_bytes().to_vec();
    let armored = plugin
        .embedded_signature()
        .unwrap()
        .unwrap()
        .to_armored()
        .to_owned();
    let with = |data: &[u8]| [&unsigned[..], &custom_section(SIGNATURE_SECTION, data)].concat();
    let truncated = &armored.as_bytes()[..armored.len() / 2];
    for data in [truncated, b"", b"not a signature", b"\xff\x00\x01"] {
        assert!(
            matches!(embedded_refusal(&with(data)), SignatureError::Malformed(_)),
            "{data:?}"
        );
    }
    // A well-armored blob whose bytes were damaged in the middle.
    let mut damaged = armored.clone().into_bytes();
    let middle = damaged.len() / 2;
    damaged[middle] = if damaged[middle] == b'A' { b'B' } else { b'A' };
    assert!(matches!(
        embedded_refusal(&with(&damaged)),
        SignatureError::Malformed(_) | SignatureError::Mismatch { .. }
    ));
}

#[test]
fn a_signature_over_other_bytes_or_moved_to_another_file_is_refused() {
    let signed = signed_component();
    let section = &signed[PluginFile::parse(&signed).unwrap().unsigned_bytes().len()..];
    // The same signature, moved onto another plugin.
    let other = bytes(vec![Part::Module(module(&[("note", b"another plugin")]))]);
    let moved = [&other[..], section].concat();
    assert!(matches!(
        embedded_refusal(&moved),
        SignatureError::Mismatch { .. }
    ));
    // One byte changed before it.
    let mut patched = signed.clone();
    patched[12] ^= 0x01;
    match PluginFile::parse(&patched) {
        Ok(_) => assert!(matches!(
            embedded_refusal(&patched),
            SignatureError::Mismatch { .. }
        )),
        Err(err) => assert!(matches!(err, LayoutError::Malformed(_))),
    }
    let mut declared = signed.clone();
    let at = declared.windows(9).position(|w| w == b"reports-*").unwrap();
    declared[at..at + 9].copy_from_slice(b"*********");
    assert!(matches!(
        embedded_refusal(&declared),
        SignatureError::Mismatch { .. }
    ));
}

#[test]
fn bytes_appended_after_signing_are_refused() {
    let signed = signed_component();
    let after = |extra: &[u8]| PluginFile::parse(&[&signed[..], extra].concat()).unwrap_err();
    assert!(matches!(
        after(&custom_section("note", b"added later")),
        LayoutError::AfterSignature { .. }
    ));
    assert!(matches!(
        after(&custom_section(GRANT_SECTION, GRANT.as_bytes())),
        LayoutError::AfterSignature { .. }
    ));
    let section = &signed[PluginFile::parse(&signed).unwrap().unsigned_bytes().len()..];
    assert!(matches!(
        after(section),
        LayoutError::Repeated {
            section: SIGNATURE_SECTION,
            ..
        }
    ));
    assert!(matches!(after(b"\x00"), LayoutError::Malformed(_)));
    assert!(matches!(after(b"garbage"), LayoutError::Malformed(_)));
}

#[test]
fn an_untrusted_key_or_another_namespace_is_refused() {
    let signed = signed_component();
    let plugin = PluginFile::parse(&signed).unwrap();
    let verification = plugin
        .verify(None, &trusting(2), SystemTime::now())
        .unwrap();
    let fingerprint = signing_key(1).public_key().fingerprint();
    assert_eq!(
        verification.trusted_signer().unwrap_err(),
        NotTrusted::Untrusted(vec![Untrusted::NotListed {
            fingerprint: fingerprint.clone()
        }])
    );
    assert!(
        verification
            .trusted_signer()
            .unwrap_err()
            .to_string()
            .contains(&fingerprint)
    );
    // A valid signature by the same key, for git commits rather than plugins.
    let key = ssh_key::PrivateKey::from_openssh(key_text(1)).unwrap();
    let git = key
        .sign("git", ssh_key::HashAlg::Sha512, plugin.unsigned_bytes())
        .unwrap()
        .to_pem(ssh_key::LineEnding::LF)
        .unwrap();
    let forged = [
        plugin.unsigned_bytes(),
        &custom_section(SIGNATURE_SECTION, git.as_bytes()),
    ]
    .concat();
    assert_eq!(
        embedded_refusal(&forged),
        SignatureError::WrongNamespace {
            found: "git".into()
        }
    );
}

#[test]
fn an_embedded_and_a_detached_signature_must_both_hold() {
    let signed = signed_component();
    let plugin = PluginFile::parse(&signed).unwrap();
    // The operator countersigns the author's signed file, detached, over all of it.
    let detached = sign(&signed, &signing_key(2)).unwrap();
    let verification = plugin
        .verify(Some(&detached), &trusting(2), SystemTime::now())
        .unwrap();
    assert_eq!(verification.signatures.len(), 2);
    assert!(verification.signatures[0].trust.is_err());
    let signer = verification.trusted_signer().unwrap();
    assert_eq!(
        signer.fingerprint,
        signing_key(2).public_key().fingerprint()
    );
    // A detached signature over the file without its embedded one is over other bytes.
    let stale = sign(plugin.unsigned_bytes(), &signing_key(2)).unwrap();
    let refusal = plugin
        .verify(Some(&stale), &trusting(2), SystemTime::now())
        .unwrap_err();
    assert_eq!(refusal.carrier, Carrier::Detached);
    assert!(matches!(refusal.source, SignatureError::Mismatch { .. }));
}

#[test]
fn provenance_sections_in_the_wrong_place_or_repeated_are_refused() {
    let signature = sign(b"x", &signing_key(1)).unwrap();
    let armored = signature.to_armored().as_bytes();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            bytes(vec![Part::Module(module(&[(SIGNATURE_SECTION, armored)]))]),
            "signature in a core module",
        ),
        (
            bytes(vec![Part::Nested(component(vec![Part::Custom(
                GRANT_SECTION,
                GRANT.as_bytes(),
            )]))]),
            "grant in a nested component",
        ),
        (
            bytes(vec![Part::Nested(component(vec![Part::Module(module(
                &[(GRANT_SECTION, GRANT.as_bytes())],
            ))]))]),
            "grant in a module of a nested component",
        ),
        (
            bytes(vec![Part::Nested(component(vec![Part::Custom(
                SIGNATURE_SECTION,
                armored,
            )]))]),
            "signature in a nested component",
        ),
    ];
    for (file, what) in cases {
        assert!(
            matches!(PluginFile::parse(&file), Err(LayoutError::Misplaced { .. })),
            "{what}"
        );
    }
    let twice = bytes(vec![
        Part::Custom(GRANT_SECTION, GRANT.as_bytes()),
        Part::Custom(GRANT_SECTION, GRANT.as_bytes()),
    ]);
    assert!(matches!(
        PluginFile::parse(&twice),
        Err(LayoutError::Repeated {
            section: GRANT_SECTION,
            ..
        })
    ));
    let twice_built = bytes(vec![
        Part::Module(module(&[(GRANT_SECTION, GRANT.as_bytes())])),
        Part::Module(module(&[(GRANT_SECTION, GRANT.as_bytes())])),
    ]);
    assert!(matches!(
        PluginFile::parse(&twice_built),
        Err(LayoutError::Repeated {
            section: GRANT_SECTION,
            ..
        })
    ));
}

#[test]
fn a_built_declaration_is_read_from_its_core_module_and_an_annotation_replaces_it() {
    let built = "format = 1\nmode = \"all-accounts\"\naccounts = [\"*\"]\n";
    let file = bytes(vec![
        Part::Module(module(&[])),
        Part::Module(module(&[(GRANT_SECTION, built.as_bytes())])),
    ]);
    let declared = PluginFile::parse(&file)
        .unwrap()
        .declaration()
        .unwrap()
        .unwrap();
    assert_eq!(declared.place, Place::CoreModule { index: 1 });
    assert_eq!(declared.declaration.mode, Some(Mode::AllAccounts));
    assert!(!declared.replaces_built);
    let annotated = annotate(&file, GRANT).unwrap();
    assert!(annotated.replaces_built);
    let declared = PluginFile::parse(&annotated.bytes)
        .unwrap()
        .declaration()
        .unwrap()
        .unwrap();
    assert_eq!(declared.place, Place::TopLevel);
    assert!(declared.replaces_built);
    assert_eq!(declared.declaration.mode, None);
    // Annotating again replaces the top-level one; the file does not grow.
    let again = annotate(&annotated.bytes, GRANT).unwrap();
    assert_eq!(again.bytes, annotated.bytes);
    // A core module file (wasm32-wasip1) declares at its top level.
    let core = module(&[(GRANT_SECTION, GRANT.as_bytes())]).finish();
    let plugin = PluginFile::parse(&core).unwrap();
    assert_eq!(plugin.kind(), Kind::CoreModule);
    assert_eq!(
        plugin.declaration().unwrap().unwrap().place,
        Place::TopLevel
    );
}

#[test]
fn a_declared_grant_that_does_not_parse_is_refused() {
    type Expected = fn(&DeclarationError) -> bool;
    let cases: [(&str, Expected); 8] = [
        ("accounts = [\"*\"]\n", |e| {
            *e == DeclarationError::MissingFormat
        }),
        (
            "format = 2\naccounts = []\nlimits = {}\n",
            |e| matches!(e, DeclarationError::UnsupportedFormat { found } if found == "2"),
        ),
        ("format = \"1\"\n", |e| {
            matches!(e, DeclarationError::UnsupportedFormat { .. })
        }),
        ("format = 1\naccounts = [\n", |e| {
            matches!(e, DeclarationError::Syntax(_))
        }),
        (
            "format = 1\naccounts = [\"*\"]\nsecret = true\n",
            |e| matches!(e, DeclarationError::Syntax(m) if m.contains("secret")),
        ),
        (
            "format = 1\naccounts = [\"*\"]\ns3 = [{ buckets = \"B\", actions = [\"list\"] }]\n",
            |e| matches!(e, DeclarationError::Invalid { key, .. } if key == "s3[0]"),
        ),
        (
            "format = 1\naccounts = [\"*\"]\ns3 = [{ buckets = \"b\", actions = [\"own\"] }]\n",
            |e| matches!(e, DeclarationError::Invalid { key, .. } if key == "s3[0].actions"),
        ),
        (
            "format = 1\nmode = \"sometimes\"\naccounts = [\"tag:\"]\n",
            |e| matches!(e, DeclarationError::Invalid { key, .. } if key == "mode"),
        ),
    ];
    for (text, expected) in cases {
        let file = bytes(vec![Part::Custom(GRANT_SECTION, text.as_bytes())]);
        let err = PluginFile::parse(&file).unwrap().declaration().unwrap_err();
        assert!(expected(&err), "{text:?}: {err}");
        // annotate refuses it before touching the file.
        assert!(matches!(
            annotate(&bytes(vec![]), text),
            Err(Error::Declaration(_))
        ));
    }
    let not_text = bytes(vec![Part::Custom(GRANT_SECTION, b"\xff\xff")]);
    assert_eq!(
        PluginFile::parse(&not_text).unwrap().declaration(),
        Err(DeclarationError::NotUtf8)
    );
}

#[test]
fn huge_and_garbage_sections_are_refused_without_reading_them() {
    let huge_grant = vec![b'#'; MAX_GRANT_BYTES + 1];
    assert!(matches!(
        PluginFile::parse(&bytes(vec![Part::Custom(GRANT_SECTION, &huge_grant)])),
        Err(LayoutError::TooLarge {
            section: GRANT_SECTION,
            ..
        })
    ));
    let huge_signature = vec![b'A'; MAX_SIGNATURE_BYTES + 1];
    assert!(matches!(
        PluginFile::parse(&bytes(vec![Part::Custom(
            SIGNATURE_SECTION,
            &huge_signature
        )])),
        Err(LayoutError::TooLarge {
            section: SIGNATURE_SECTION,
            ..
        })
    ));
    assert!(matches!(
        Signature::from_armored(&huge_signature),
        Err(SignatureError::TooLarge { .. })
    ));
    let long_text = "#".repeat(MAX_GRANT_BYTES + 1);
    assert!(matches!(
        annotate(
            &bytes(vec![]),
            &format!("format = 1\naccounts = []\n{long_text}")
        ),
        Err(Error::Layout(LayoutError::TooLarge { .. }))
    ));
    // A section that claims 4 GiB in a file of a few bytes.
    let mut claims = b"\0asm\x0d\0\x01\0\0".to_vec();
    claims.extend([0xff, 0xff, 0xff, 0xff, 0x0f]);
    claims.extend(b"\x0fxacct-signature");
    assert!(matches!(
        PluginFile::parse(&claims),
        Err(LayoutError::Malformed(_))
    ));
    for garbage in [
        &b""[..],
        b"\0asm",
        b"\0asm\x0d\0\x01",
        b"not wasm",
        b"\0asm\x0d\0\x01\0\x01\x05",
    ] {
        assert!(
            matches!(PluginFile::parse(garbage), Err(LayoutError::Malformed(_))),
            "{garbage:?}"
        );
    }
}

/// Components nested thousands deep: the file decides the depth, so the walk keeps its
/// own stack rather than the host's.
#[test]
fn deep_nesting_does_not_exhaust_the_stack() {
    const DEPTH: usize = 100_000;
    const HEADER: &[u8] = b"\0asm\x0d\0\x01\0";
    let leb = |mut n: usize| {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            out.push(if n == 0 { byte } else { byte | 0x80 });
            if n == 0 {
                return out;
            }
        }
    };
    // Sizes from the innermost component outwards, then the headers from the outside in.
    let inner = [HEADER, &custom_section(GRANT_SECTION, GRANT.as_bytes())].concat();
    let mut sizes = vec![inner.len()];
    for _ in 0..DEPTH {
        let last = *sizes.last().unwrap();
        sizes.push(HEADER.len() + 1 + leb(last).len() + last);
    }
    let mut file = Vec::with_capacity(*sizes.last().unwrap());
    for size in sizes[..DEPTH].iter().rev() {
        file.extend(HEADER);
        file.push(4); // a nested component section
        file.extend(leb(*size));
    }
    file.extend(&inner);
    assert!(matches!(
        PluginFile::parse(&file),
        Err(LayoutError::Misplaced {
            section: GRANT_SECTION,
            ..
        })
    ));
}
