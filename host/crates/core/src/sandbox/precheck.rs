//! The cheap half of the world check: a component's top-level imports and exports, read
//! with wasmtime's own parser before anything is compiled. Compile time grows faster
//! than the file, so a file that cannot be a plugin should cost a parse, not a compile;
//! wasmtime's full type check still follows the compile.

use serde::{Deserialize, Serialize};
use wasmparser::component_types::{ComponentDefinedType, ComponentEntityType, ComponentValType};
use wasmparser::types::Types;
use wasmparser::{
    Chunk, Encoding, Parser, Payload, PrimitiveValType, ValidPayload, Validator, WasmFeatures,
};

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

/// The world's one export, as the refusals name it.
const RUN: &str = "`run: func(input: string) -> result<string, string>`";

/// Refuses what cannot be a plugin of this host: not a component, no `run` export, a
/// `run` of another type, or an import that is neither WASI nor our package at our
/// version.
pub(super) fn precheck(bytes: &[u8]) -> Result<(), Refusal> {
    let (imports, exports) = top_level_names(bytes).map_err(Refusal::NotAComponent)?;
    if !exports.contains(&"run") {
        return Err(Refusal::WrongWorld(format!(
            "it does not export {RUN} (its exports: {})",
            if exports.is_empty() {
                "none".to_owned()
            } else {
                exports.join(", ")
            }
        )));
    }
    let types = component_types(bytes).map_err(Refusal::NotAComponent)?;
    if let Some(export) = run_of_another_type(&types) {
        return Err(Refusal::WrongWorld(format!(
            "it exports `run` as {export}, not as {RUN}"
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

/// The types of the component's top level, from wasmparser's validator over every
/// section but the function bodies (those are validated by the compile, which is what
/// this check spares a file that cannot be a plugin). Every feature is admitted: what
/// the engine does not support, its own validation refuses.
fn component_types(bytes: &[u8]) -> Result<Types, String> {
    let mut parser = Parser::new(0);
    parser.set_features(WasmFeatures::all());
    let mut validator = Validator::new_with_features(WasmFeatures::all());
    let mut top_level = None;
    for payload in parser.parse_all(bytes) {
        let payload = payload.map_err(|e| e.to_string())?;
        if let ValidPayload::End(types) = validator.payload(&payload).map_err(|e| e.to_string())? {
            // The last end is the outermost component's.
            top_level = Some(types);
        }
    }
    top_level.ok_or_else(|| "the file ends inside a component".to_owned())
}

/// What the top-level `run` export is, when it is not a function of the world's type
/// (synchronous, one string parameter, a `result<string, string>`).
fn run_of_another_type(types: &Types) -> Option<&'static str> {
    let string =
        |ty: &ComponentValType| matches!(ty, ComponentValType::Primitive(PrimitiveValType::String));
    let item = types.component_item_for_export("run")?;
    let id = match item.ty {
        ComponentEntityType::Func(id) => id,
        ComponentEntityType::Module(_) => return Some("a core module"),
        ComponentEntityType::Value(_) => return Some("a value"),
        ComponentEntityType::Type { .. } => return Some("a type"),
        ComponentEntityType::Instance(_) => return Some("an instance"),
        ComponentEntityType::Component(_) => return Some("a component"),
    };
    let func = &types[id];
    let returns_result = match func.result {
        Some(ComponentValType::Type(result)) => matches!(
            &types[result],
            ComponentDefinedType::Result { ok: Some(ok), err: Some(err), .. } if string(ok) && string(err)
        ),
        _ => false,
    };
    let typed =
        !func.async_ && matches!(&*func.params, [(_, input)] if string(input)) && returns_result;
    (!typed).then_some("a function of another type")
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
