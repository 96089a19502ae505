//! A plugin's standard metadata, as `wasm-tools metadata add` and the `wasm-metadata` crate
//! write it at the file's top level: the name (`component-name`, or `name` in a core
//! module), the OCI-annotation sections `version`, `authors`, `description`, `licenses`,
//! `source`, `homepage`, `revision` (UTF-8 text), and the `producers` section (languages,
//! tools and SDKs with their versions). Absent sections are absent fields.
//!
//! This is the author's say, for display: none of it is checked against anything. A
//! section that appears twice is an error rather than a guess at which one a reader shows.

use crate::layout::{Kind, Layout, Section};

/// A text section longer than this is refused rather than shown.
pub const MAX_TEXT_BYTES: usize = 64 << 10;

/// What the file says of itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub name: Option<String>,
    pub version: Option<String>,
    pub authors: Option<String>,
    pub description: Option<String>,
    /// An SPDX expression, by convention.
    pub licenses: Option<String>,
    /// A URL of the source code.
    pub source: Option<String>,
    pub homepage: Option<String>,
    /// The source control revision it was built from.
    pub revision: Option<String>,
    /// The `producers` section: each field (`language`, `processed-by`, `sdk`) with its
    /// (name, version) pairs, in file order.
    pub producers: Vec<(String, Vec<(String, String)>)>,
}

/// Why the metadata cannot be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("two `{section}` sections at the top level (at bytes {first} and {second})")]
    Repeated {
        section: String,
        first: usize,
        second: usize,
    },
    #[error("the `{section}` section holds {size} bytes, over the {MAX_TEXT_BYTES} shown")]
    TooLarge { section: String, size: usize },
    #[error("the `{section}` section is not UTF-8 text")]
    NotUtf8 { section: String },
    #[error("the `{section}` section cannot be read: {reason}")]
    Malformed { section: String, reason: String },
}

impl Metadata {
    pub fn read(layout: &Layout) -> Result<Metadata, MetadataError> {
        let mut metadata = Metadata::default();
        let names_section = match layout.kind {
            Kind::Component => "component-name",
            Kind::CoreModule => "name",
        };
        if let Some(section) = only(layout, names_section)? {
            let malformed = |reason: String| MetadataError::Malformed {
                section: names_section.to_owned(),
                reason,
            };
            let (data, offset) = (section.data, section.data_offset);
            metadata.name = match layout.kind {
                Kind::Component => wasm_metadata::ComponentNames::from_bytes(data, offset)
                    .map_err(|err| malformed(err.to_string()))?
                    .get_name()
                    .cloned(),
                Kind::CoreModule => wasm_metadata::ModuleNames::from_bytes(data, offset)
                    .map_err(|err| malformed(err.to_string()))?
                    .get_name()
                    .cloned(),
            };
        }
        if let Some(section) = only(layout, "producers")? {
            let producers = wasm_metadata::Producers::from_bytes(section.data, section.data_offset)
                .map_err(|err| MetadataError::Malformed {
                    section: "producers".into(),
                    reason: err.to_string(),
                })?;
            metadata.producers = producers
                .iter()
                .map(|(field, values)| {
                    let values = values
                        .iter()
                        .map(|(name, version)| (name.clone(), version.clone()))
                        .collect();
                    (field.clone(), values)
                })
                .collect();
        }
        let text_fields = [
            ("version", &mut metadata.version),
            ("authors", &mut metadata.authors),
            ("description", &mut metadata.description),
            ("licenses", &mut metadata.licenses),
            ("source", &mut metadata.source),
            ("homepage", &mut metadata.homepage),
            ("revision", &mut metadata.revision),
        ];
        for (name, field) in text_fields {
            let Some(section) = only(layout, name)? else {
                continue;
            };
            if section.data.len() > MAX_TEXT_BYTES {
                return Err(MetadataError::TooLarge {
                    section: name.to_owned(),
                    size: section.data.len(),
                });
            }
            let text = std::str::from_utf8(section.data).map_err(|_| MetadataError::NotUtf8 {
                section: name.to_owned(),
            })?;
            *field = Some(text.to_owned());
        }
        Ok(metadata)
    }
}

/// The one top-level section named `name`, if any.
fn only<'l, 'a>(
    layout: &'l Layout<'a>,
    name: &str,
) -> Result<Option<&'l Section<'a>>, MetadataError> {
    let mut sections = layout.custom_named(name);
    let first = sections.next();
    if let (Some(first), Some(second)) = (first, sections.next()) {
        return Err(MetadataError::Repeated {
            section: name.to_owned(),
            first: first.range.start,
            second: second.range.start,
        });
    }
    Ok(first)
}
