//! A run's JSON report as one self-contained HTML page: the header, counts by status, the
//! failures grouped by kind and message with the rerun command to copy, a sortable,
//! filterable table of every account with each one's detail, a histogram of durations and
//! a timeline of concurrency, AWS fault totals and orphaned uploads.
//!
//! **Inert by construction.** Everything in a report is untrusted: a plugin chooses its
//! output, its error messages and what it logs; an account's alias and tags come from a
//! config or an Organizations listing. The page therefore
//!
//! - holds no value outside one `<script type="application/json">` block, whose JSON has
//!   every `<`, `>`, `&`, U+2028 and U+2029 written as a `\u` escape (so no value can
//!   close the block or open a comment in it), read back with `JSON.parse`;
//! - puts every value on screen with `textContent` / `createTextNode`, never as markup,
//!   and writes control, bidi and zero-width characters as visible `\u{…}` escapes;
//! - runs only its own script and style: a Content-Security-Policy allows those two by
//!   their sha256 and nothing else (`default-src 'none'`), so no request of any kind can
//!   leave the page, even if a value were ever inserted wrongly.
//!
//! The page's figures at 10,000 accounts and its browser tests are described in the
//! crate's `browser/` directory.

mod inputs;
mod model;
pub mod recap;
mod shell;
#[cfg(feature = "synthetic")]
pub mod synthetic;

use std::sync::LazyLock;

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use inputs::{Options, RenderError};
pub use model::{LOG_BYTES, MESSAGE_CHARS, OUTPUT_BYTES, PAGE_BYTES, TEXT_CHARS};

/// The page of `report` (the JSON of `xacct run --output json`, of one shard or merged):
/// one HTML document, with no reference to anything outside it.
pub fn render(report: &Value, options: &Options) -> Result<String, RenderError> {
    let data = model::page_data(report, options)?;
    let json = serde_json::to_string(&data).expect("the page data serialises");
    let data = script_safe_json(&json);
    let mut page =
        String::with_capacity(PAGE.before_data.len() + data.len() + PAGE.after_data.len());
    page.push_str(&PAGE.before_data);
    page.push_str(&data);
    page.push_str(&PAGE.after_data);
    Ok(page)
}

const TEMPLATE: &str = include_str!("assets/page.html");
const STYLE: &str = include_str!("assets/page.css");
/// The page's script: its helpers, the charts, the table, then the code that ties them.
const SCRIPT: &str = concat!(
    include_str!("assets/dom.js"),
    include_str!("assets/charts.js"),
    include_str!("assets/table.js"),
    include_str!("assets/page.js"),
);

/// The page around its data, filled in once.
struct Frame {
    before_data: String,
    after_data: String,
}

static PAGE: LazyLock<Frame> = LazyLock::new(|| {
    let page = TEMPLATE
        .replacen("{{CSP}}", &content_security_policy(), 1)
        .replacen("{{STYLE}}", STYLE, 1)
        .replacen("{{SCRIPT}}", SCRIPT, 1);
    let (before, after) = page
        .split_once("{{DATA}}")
        .expect("the template has a data marker");
    Frame {
        before_data: before.to_owned(),
        after_data: after.to_owned(),
    }
});

/// Nothing may load, connect, frame or submit (`default-src 'none'`, `base-uri`,
/// `form-action`: the two `default-src` does not cover); the page's own script and style
/// run by their hash; images only as `data:` (the empty favicon that keeps the browser
/// from asking for one).
fn content_security_policy() -> String {
    format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; img-src data:; base-uri 'none'; form-action 'none'",
        sha256_source(SCRIPT),
        sha256_source(STYLE)
    )
}

/// A CSP hash source: `sha256-` and the base64 of the digest.
fn sha256_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// JSON text that can sit inside `<script type="application/json">…</script>` whatever its
/// strings hold: `<`, `>` and `&` (no `</script>`, no `<!--`) and the line separators
/// U+2028 and U+2029 become `\u` escapes. In JSON text these characters occur only inside
/// strings, where the escape means the same character, so the value is unchanged.
fn script_safe_json(json: &str) -> String {
    let mut safe = String::with_capacity(json.len() + json.len() / 32);
    for c in json.chars() {
        match c {
            '<' => safe.push_str("\\u003c"),
            '>' => safe.push_str("\\u003e"),
            '&' => safe.push_str("\\u0026"),
            '\u{2028}' => safe.push_str("\\u2028"),
            '\u{2029}' => safe.push_str("\\u2029"),
            c => safe.push(c),
        }
    }
    safe
}

#[cfg(test)]
mod tests;
