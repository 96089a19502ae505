//! What a page is made from besides the report, and why a document makes no page: the
//! types both the crate's entry point and the page's model name (a leaf, so that neither
//! imports the other for them).

use std::collections::BTreeMap;

/// What the page shows beside the report.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Each account's plugin log (`plugin.log` of `--out-dir`: what the plugin printed),
    /// by account id (`*` for an all-accounts invocation).
    pub logs: BTreeMap<String, String>,
    /// The JSON report's path as the operator would type it, for the `--rerun-failed`
    /// command the page offers to copy (`REPORT.json` when unknown).
    pub report_path: Option<String>,
}

/// Why a document makes no page.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    #[error(
        "not an xacct report: {0}; fix: pass the JSON of `xacct run --output json` or `xacct report merge`"
    )]
    NotAReport(&'static str),
    #[error("not an xacct report: entry {0} is not a JSON object")]
    BadEntry(usize),
}
