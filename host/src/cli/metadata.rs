//! A plugin's standard metadata as the commands show it (`xacct plugins`, `xacct verify`).

use xacct_provenance::Metadata;

/// The standard metadata a plugin carries, labelled, in the order `xacct plugins` and
/// `xacct verify` show them.
pub fn metadata_fields(metadata: &Metadata) -> Vec<(&'static str, &str)> {
    [
        ("name", &metadata.name),
        ("version", &metadata.version),
        ("authors", &metadata.authors),
        ("description", &metadata.description),
        ("licenses", &metadata.licenses),
        ("source", &metadata.source),
        ("homepage", &metadata.homepage),
        ("revision", &metadata.revision),
    ]
    .into_iter()
    .filter_map(|(label, value)| Some((label, value.as_deref()?)))
    .collect()
}
