//! Where xacct's custom sections lie in a plugin file, and the rules they obey.
//!
//! A plugin file is a component (or a wasm32-wasip1 core module, which the host adapts).
//! Two custom sections are xacct's own:
//! - [`SIGNATURE_SECTION`]: an SSH signature over every byte before it. It must be the last
//!   section of the file, at the top level, and there is at most one: a section after it,
//!   or a second signature, is bytes nobody signed.
//! - [`GRANT_SECTION`]: the grant the author declares. At the top level (where `xacct plugin
//!   annotate` writes it), or in a core module directly inside the component (where a Rust
//!   `#[link_section]` lands once wasm-component-ld has wrapped the module); at most one in
//!   each place, and the top-level one replaces the built one.
//!
//! Either section anywhere else is refused: whatever tool put it there meant something
//! xacct cannot know. The walk reads section headers only — nested modules and components
//! are entered, code sections skipped — so it costs a fraction of a millisecond per MB and
//! allocates nothing in proportion to what a section claims to hold.

use std::ops::Range;

use wasmparser::{Chunk, Encoding, Parser, Payload};

/// The custom section holding an embedded signature.
pub const SIGNATURE_SECTION: &str = "xacct-signature";
/// The custom section holding the grant the author declares.
pub const GRANT_SECTION: &str = "xacct-grant";

/// An armored ed25519 SSH signature is about 300 bytes; the largest (RSA 16384) is under 5 KiB.
pub const MAX_SIGNATURE_BYTES: usize = 16 << 10;
/// A declaration is a few lines of TOML; this leaves room for hundreds of rules.
pub const MAX_GRANT_BYTES: usize = 64 << 10;

/// What the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Component,
    /// A core module (wasm32-wasip1), which the host turns into a component when it loads.
    CoreModule,
}

/// Where a declaration lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The file's top level.
    TopLevel,
    /// Core module number `index` (from 0, in file order) directly inside the component.
    CoreModule { index: usize },
}

/// A custom section of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
    /// The whole section in the file, its id and size included.
    pub range: Range<usize>,
    /// Where `data` starts in the file.
    pub data_offset: usize,
    pub place: Place,
}

/// Why a file's provenance sections cannot be trusted, or the file not read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("not a WebAssembly component or module: {0}")]
    Malformed(String),
    #[error(
        "two `{section}` sections (at bytes {first} and {second}) {place}; a plugin carries at most one"
    )]
    Repeated {
        section: &'static str,
        first: usize,
        second: usize,
        place: &'static str,
    },
    #[error("a `{section}` section at byte {offset} lies {place}; {expected}")]
    Misplaced {
        section: &'static str,
        offset: usize,
        place: &'static str,
        expected: &'static str,
    },
    #[error(
        "the `{SIGNATURE_SECTION}` section at byte {signature} is followed by more at byte {offset}: those bytes were not signed"
    )]
    AfterSignature { signature: usize, offset: usize },
    #[error("the `{section}` section holds {size} bytes, over the {cap} it may hold")]
    TooLarge {
        section: &'static str,
        size: usize,
        cap: usize,
    },
}

const SIGNATURE_WHERE: &str =
    "an embedded signature is the last section of the file, at its top level";
const GRANT_WHERE: &str = "a declared grant lies at the top level (xacct plugin annotate) or in a core module directly inside the component";

/// Which part of the file the walk is in.
#[derive(Debug, Clone, Copy)]
enum Scope {
    TopLevel,
    CoreModule(usize),
    /// Deeper than xacct reads, described for messages.
    Elsewhere(&'static str),
}

/// The provenance sections of a file, found and checked.
#[derive(Debug, Clone)]
pub struct Layout<'a> {
    pub kind: Kind,
    pub signature: Option<Section<'a>>,
    /// The declaration that applies: the top-level one, else the built one.
    pub grant: Option<Section<'a>>,
    /// A built declaration that a top-level one replaces.
    pub replaced_grant: Option<Section<'a>>,
    /// The top level's other custom sections, in file order (the standard metadata among them).
    pub custom: Vec<Section<'a>>,
}

impl<'a> Layout<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Layout<'a>, LayoutError> {
        let mut walk = Walk {
            kind: None,
            signature: None,
            top_grant: None,
            built_grant: None,
            custom: Vec::new(),
            modules: 0,
        };
        walk.run(bytes)?;
        let (grant, replaced_grant) = match (walk.top_grant, walk.built_grant) {
            (Some(top), built) => (Some(top), built),
            (None, built) => (built, None),
        };
        Ok(Layout {
            kind: walk.kind.unwrap_or(Kind::Component),
            signature: walk.signature,
            grant,
            replaced_grant,
            custom: walk.custom,
        })
    }

    /// The top-level custom sections named `name`.
    pub fn custom_named(&self, name: &str) -> impl Iterator<Item = &Section<'a>> {
        self.custom.iter().filter(move |s| s.name == name)
    }
}

struct Walk<'a> {
    kind: Option<Kind>,
    signature: Option<Section<'a>>,
    top_grant: Option<Section<'a>>,
    built_grant: Option<Section<'a>>,
    custom: Vec<Section<'a>>,
    modules: usize,
}

/// A module or component being read: its parser, where it goes on, where it ends.
struct Frame {
    parser: Parser,
    offset: usize,
    end: usize,
    scope: Scope,
}

impl<'a> Walk<'a> {
    /// Walks the file with a stack rather than recursion: nesting depth is the file's to
    /// choose, the host's stack is not.
    fn run(&mut self, bytes: &'a [u8]) -> Result<(), LayoutError> {
        let mut stack = vec![Frame {
            parser: Parser::new(0),
            offset: 0,
            end: bytes.len(),
            scope: Scope::TopLevel,
        }];
        while let Some(frame) = stack.last_mut() {
            let start = frame.offset;
            let rest = bytes.get(start..frame.end).ok_or_else(|| {
                LayoutError::Malformed(format!("a section runs past the end, at byte {start}"))
            })?;
            let chunk = frame
                .parser
                .parse(rest, true)
                .map_err(|err| LayoutError::Malformed(err.to_string()))?;
            let (consumed, payload) = match chunk {
                Chunk::Parsed { consumed, payload } => (consumed, payload),
                Chunk::NeedMoreData(_) => {
                    return Err(LayoutError::Malformed(format!(
                        "truncated at byte {}",
                        frame.end
                    )));
                }
            };
            frame.offset += consumed;
            let scope = frame.scope;
            if let (Scope::TopLevel, Some(signature)) = (scope, &self.signature)
                && !matches!(payload, Payload::End(_))
            {
                let repeated =
                    matches!(&payload, Payload::CustomSection(c) if c.name() == SIGNATURE_SECTION);
                return Err(if repeated {
                    LayoutError::Repeated {
                        section: SIGNATURE_SECTION,
                        first: signature.range.start,
                        second: start,
                        place: "at the top level",
                    }
                } else {
                    LayoutError::AfterSignature {
                        signature: signature.range.start,
                        offset: start,
                    }
                });
            }
            match payload {
                Payload::Version { encoding, .. } if matches!(scope, Scope::TopLevel) => {
                    self.kind = Some(match encoding {
                        Encoding::Component => Kind::Component,
                        Encoding::Module => Kind::CoreModule,
                    });
                }
                Payload::ModuleSection {
                    parser,
                    unchecked_range,
                } => {
                    let inner = match scope {
                        Scope::TopLevel => {
                            self.modules += 1;
                            Scope::CoreModule(self.modules - 1)
                        }
                        _ => Scope::Elsewhere("in a core module of a nested component"),
                    };
                    frame.offset = unchecked_range.end;
                    let nested = nested(parser, unchecked_range, inner, frame.end)?;
                    stack.push(nested);
                }
                Payload::ComponentSection {
                    parser,
                    unchecked_range,
                } => {
                    frame.offset = unchecked_range.end;
                    let scope = Scope::Elsewhere("in a nested component");
                    let nested = nested(parser, unchecked_range, scope, frame.end)?;
                    stack.push(nested);
                }
                Payload::CodeSectionStart { range, .. } => {
                    frame.parser.skip_section();
                    frame.offset = range.end;
                }
                Payload::CustomSection(reader) => {
                    let section = Section {
                        name: reader.name(),
                        data: reader.data(),
                        range: start..start + consumed,
                        data_offset: reader.data_offset(),
                        place: match scope {
                            Scope::CoreModule(index) => Place::CoreModule { index },
                            _ => Place::TopLevel,
                        },
                    };
                    self.custom(section, scope)?;
                }
                Payload::End(_) => {
                    stack.pop();
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn custom(&mut self, section: Section<'a>, scope: Scope) -> Result<(), LayoutError> {
        let misplaced = |section: &Section, name, place, expected| LayoutError::Misplaced {
            section: name,
            offset: section.range.start,
            place,
            expected,
        };
        match (section.name, scope) {
            (SIGNATURE_SECTION, Scope::TopLevel) => {
                check_size(&section, SIGNATURE_SECTION, MAX_SIGNATURE_BYTES)?;
                self.signature = Some(section);
            }
            (SIGNATURE_SECTION, Scope::CoreModule(_)) => {
                return Err(misplaced(
                    &section,
                    SIGNATURE_SECTION,
                    "in a core module inside the component",
                    SIGNATURE_WHERE,
                ));
            }
            (SIGNATURE_SECTION, Scope::Elsewhere(place)) => {
                return Err(misplaced(
                    &section,
                    SIGNATURE_SECTION,
                    place,
                    SIGNATURE_WHERE,
                ));
            }
            (GRANT_SECTION, Scope::TopLevel) => {
                check_size(&section, GRANT_SECTION, MAX_GRANT_BYTES)?;
                keep_one(&mut self.top_grant, section, "at the top level")?;
            }
            (GRANT_SECTION, Scope::CoreModule(_)) => {
                check_size(&section, GRANT_SECTION, MAX_GRANT_BYTES)?;
                keep_one(
                    &mut self.built_grant,
                    section,
                    "in the core modules inside the component",
                )?;
            }
            (GRANT_SECTION, Scope::Elsewhere(place)) => {
                return Err(misplaced(&section, GRANT_SECTION, place, GRANT_WHERE));
            }
            (_, Scope::TopLevel) => self.custom.push(section),
            _ => {}
        }
        Ok(())
    }
}

/// The frame of a nested module or component, which must end within its parent (the
/// parser leaves that to the caller).
fn nested(
    parser: Parser,
    range: Range<usize>,
    scope: Scope,
    parent_end: usize,
) -> Result<Frame, LayoutError> {
    if range.end > parent_end {
        return Err(LayoutError::Malformed(format!(
            "a nested module or component at byte {} runs past the end of its parent",
            range.start
        )));
    }
    Ok(Frame {
        parser,
        offset: range.start,
        end: range.end,
        scope,
    })
}

fn check_size(section: &Section, name: &'static str, cap: usize) -> Result<(), LayoutError> {
    if section.data.len() > cap {
        return Err(LayoutError::TooLarge {
            section: name,
            size: section.data.len(),
            cap,
        });
    }
    Ok(())
}

fn keep_one<'a>(
    slot: &mut Option<Section<'a>>,
    section: Section<'a>,
    place: &'static str,
) -> Result<(), LayoutError> {
    if let Some(first) = slot {
        return Err(LayoutError::Repeated {
            section: GRANT_SECTION,
            first: first.range.start,
            second: section.range.start,
            place,
        });
    }
    *slot = Some(section);
    Ok(())
}

/// A custom section as it is written into a file, id and size included.
pub(crate) fn encode_custom(name: &str, data: &[u8]) -> Vec<u8> {
    use wasm_encoder::Section as _;
    let mut out = Vec::with_capacity(name.len() + data.len() + 12);
    wasm_encoder::CustomSection {
        name: name.into(),
        data: data.into(),
    }
    .append_to(&mut out);
    out
}
