//! The cheap half of the world check: a component's top-level imports and exports, read
//! with wasmtime's own parser before anything is compiled. Compile time grows faster
//! than the file, so a file that cannot be a plugin should cost a parse, not a compile;
//! wasmtime's full type check still follows the compile.

use serde::{Deserialize, Serialize};
use wasmparser::{Chunk, Encoding, Parser, Payload};

/// A refusal that depends only on the file's bytes and this host, and so is remembered
/// in the cache like a compilation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub(super) enum Refusal {
    NotAComponent(String),
    WrongWorld(String),
}

/// The package every import of ours comes from.
const PACKAGE: &str = "xacct:plugin/";
/// The versions of it this host serves: the WIT's own, and the earlier ones it only adds
/// to (semver-compatible for a 0.x package, so wasmtime's linker resolves an import of
/// `@0.1.0` against the `@0.1.1` it defines).
const PACKAGE_VERSIONS: [&str; 2] = ["@0.1.1", "@0.1.0"];

/// Refuses what cannot be a plugin of this host: not a component, no `run` export, or an
/// import that is neither WASI nor our package at our version.
pub(super) fn precheck(bytes: &[u8]) -> Result<(), Refusal> {
    let (imports, exports) = top_level_names(bytes).map_err(Refusal::NotAComponent)?;
    if !exports.contains(&"run") {
        return Err(Refusal::WrongWorld(format!(
            "it does not export `run: func(input: string) -> result<string, string>` (its exports: {})",
            if exports.is_empty() {
                "none".to_owned()
            } else {
                exports.join(", ")
            }
        )));
    }
    for import in imports {
        if serves(import) {
            continue;
        }
        let served = PACKAGE_VERSIONS.join(" or ");
        return Err(Refusal::WrongWorld(if import.starts_with(PACKAGE) {
            format!(
                "it imports {import}, but this host provides {PACKAGE}* {served}; rebuild it against this host's wit/"
            )
        } else {
            format!(
                "it imports {import}, which this host does not provide (only wasi:* and {PACKAGE}* {served})"
            )
        }));
    }
    Ok(())
}

/// Whether this host provides `import`: WASI, or an interface of our package at a version
/// it serves.
fn serves(import: &str) -> bool {
    import.starts_with("wasi:")
        || (import.starts_with(PACKAGE)
            && PACKAGE_VERSIONS
                .iter()
                .any(|version| import.ends_with(version)))
}

/// The names a component imports and exports at its top level; nested modules and
/// components are skipped unparsed.
fn top_level_names(bytes: &[u8]) -> Result<(Vec<&str>, Vec<&str>), String> {
    let mut parser = Parser::new(0);
    let mut offset = 0;
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    loop {
        let rest = bytes
            .get(offset..)
            .ok_or("a section runs past the end of the file")?;
        let (consumed, payload) = match parser.parse(rest, true).map_err(|e| e.to_string())? {
            Chunk::Parsed { consumed, payload } => (consumed, payload),
            Chunk::NeedMoreData(_) => return Err("the file is truncated".to_owned()),
        };
        offset += consumed;
        match payload {
            Payload::Version {
                encoding: Encoding::Module,
                ..
            } => {
                return Err(
                    "it is a core WebAssembly module; build for wasm32-wasip2, which makes components"
                        .to_owned(),
                );
            }
            Payload::ComponentImportSection(section) => {
                for import in section {
                    imports.push(import.map_err(|e| e.to_string())?.name.name);
                }
            }
            Payload::ComponentExportSection(section) => {
                for export in section {
                    exports.push(export.map_err(|e| e.to_string())?.name.name);
                }
            }
            Payload::ModuleSection {
                unchecked_range, ..
            }
            | Payload::ComponentSection {
                unchecked_range, ..
            } => offset = unchecked_range.end,
            Payload::End(_) => return Ok((imports, exports)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_modules_and_garbage_are_not_components() {
        let core = precheck(b"\0asm\x01\0\0\0").unwrap_err();
        assert!(
            matches!(&core, Refusal::NotAComponent(reason) if reason.contains("build for wasm32-wasip2")),
            "{core:?}"
        );
        assert!(matches!(
            precheck(b"not wasm at all"),
            Err(Refusal::NotAComponent(_))
        ));
        // A component header whose first section claims more bytes than there are.
        assert!(matches!(
            precheck(b"\0asm\x0d\0\x01\0\x01\xff\x01"),
            Err(Refusal::NotAComponent(_))
        ));
    }

    #[test]
    fn the_package_is_served_at_0_1_1_and_the_0_1_0_it_extends_only() {
        assert!(serves("xacct:plugin/s3@0.1.1"));
        assert!(serves("xacct:plugin/accounts@0.1.0"));
        assert!(serves("wasi:io/streams@0.2.12"));
        for other in [
            "xacct:plugin/s3@0.1.2",
            "xacct:plugin/s3@0.2.0",
            "xacct:plugin/s3@1.0.0",
            "xacct:plugin/s3",
            "test:extra/secrets@0.1.0",
        ] {
            assert!(!serves(other), "{other}");
        }
    }

    #[test]
    fn an_empty_component_lacks_run() {
        let refusal = precheck(b"\0asm\x0d\0\x01\0").unwrap_err();
        assert_eq!(
            refusal,
            Refusal::WrongWorld(
                "it does not export `run: func(input: string) -> result<string, string>` (its exports: none)".into()
            )
        );
    }
}
