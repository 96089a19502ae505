"use strict";
// Helpers that put report values on the page. Every value is untrusted (a plugin chose its
// output, errors and log; a config or AWS Organizations chose aliases and tags), so values
// only ever become text nodes: nothing here parses markup.

// Characters that act on the text around them or hide: C0 and C1 controls, DEL, soft
// hyphen, the combining grapheme joiner, bidi embeddings, overrides, isolates and marks,
// zero-width characters, the line and paragraph separators, the byte order mark,
// interlinear annotation; and characters that show as nothing or a blank though they are
// not spaces: the Hangul fillers, the Khmer inherent vowels, the Mongolian vowel
// separator, the blank Braille pattern, variation selectors, invisible musical symbols'
// formatting and the tag characters (a value could pass for another: "ok\u{3164}end").
const HIDDEN =
  "\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u200b-\\u200f\\u2028-\\u202e" +
  "\\u2060-\\u2064\\u2066-\\u206f\\u2800\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff9-\\ufffb" +
  "\\u{1d173}-\\u{1d17a}\\u{e0000}-\\u{e007f}\\u{e0100}-\\u{e01ef}";
const HIDDEN_IN_LINE = new RegExp("[" + HIDDEN + "]", "gu");
// In a block of text, tabs and line feeds keep their meaning, and so does a carriage
// return before a line feed (a CRLF line end); a lone carriage return is escaped.
const HIDDEN_IN_BLOCK = new RegExp("\\r\\n|[" + HIDDEN.replace("\\u0000-\\u001f", "\\u0000-\\u0008\\u000b-\\u001f") + "]", "gu");

function escapeChar(c) {
  return "\\u{" + c.codePointAt(0).toString(16) + "}";
}

// `text` on one line, every hidden character written as its escape.
function oneLine(text) {
  return String(text).replace(HIDDEN_IN_LINE, escapeChar);
}

// `text` as a block: lines and tabs kept, every other hidden character escaped.
function block(text) {
  return String(text).replace(HIDDEN_IN_BLOCK, (c) => (c === "\r\n" ? "\n" : escapeChar(c)));
}

// At most `max` characters of `text`, with "…" where it was cut.
function elide(text, max) {
  text = String(text);
  return text.length > max ? text.slice(0, max) + "…" : text;
}

// "1 account", "2 accounts".
function accountCount(n) {
  return formatCount(n) + (n === 1 ? " account" : " accounts");
}

// An element with a class and children: nodes, or strings that become text (one line).
function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(oneLine(child)) : child);
  }
  return node;
}

// A <pre> of a block of text.
function pre(text) {
  const node = document.createElement("pre");
  node.append(document.createTextNode(block(text)));
  return node;
}

// Replaces a node's children with `children` (see `el`).
function fill(node, ...children) {
  node.replaceChildren();
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(oneLine(child)) : child);
  }
  return node;
}

// Term/description pairs into a <dl>; pairs whose description is null are left out.
function facts(dl, pairs) {
  dl.replaceChildren();
  for (const [term, description] of pairs) {
    if (description === null || description === undefined) continue;
    dl.append(el("dt", null, term), el("dd", null, description));
  }
}

const INTEGER = new Intl.NumberFormat("en-US");

function formatCount(n) {
  return INTEGER.format(n || 0);
}

// Bytes in the largest unit that keeps the value under 1024 once rounded to a tenth
// (1,048,575 bytes is "1.0 MiB", not "1024.0 KiB"); the exact count in `exactBytes`.
function formatBytes(n) {
  n = n || 0;
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let unit = 0;
  let value = n;
  while (unit < units.length - 1 && (unit === 0 ? value : Math.round(value * 10) / 10) >= 1024) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? n + " B" : value.toFixed(1) + " " + units[unit];
}

function exactBytes(n) {
  return formatCount(n) + (n === 1 ? " byte" : " bytes");
}

// A duration, rounded first and then split into units, so that rounding carries: 59,999
// ms is "1 min 0 s" and 119,600 ms "2 min 0 s" (never "1 min 60 s").
function formatMs(ms) {
  ms = ms || 0;
  if (ms < 1000) return ms + " ms";
  const hundredths = Math.round(ms / 10);
  if (hundredths < 1000) return (hundredths / 100).toFixed(2) + " s";
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return (tenths / 10).toFixed(1) + " s";
  const seconds = Math.round(ms / 1000);
  return Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
}

function exactMs(ms) {
  return formatCount(ms) + " ms";
}

// Copies `text` to the clipboard and says so in `status`. The Clipboard API first; where
// a browser refuses it to a page opened from disk, the selection of a hidden field.
function copyText(text, status) {
  const done = (ok) => {
    status.textContent = ok ? "Copied." : "The browser refused to copy: select the text and copy it.";
  };
  const bySelection = () => {
    const area = el("textarea", "offscreen");
    area.value = text;
    area.readOnly = true;
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (_) {
      ok = false;
    }
    area.remove();
    return ok;
  };
  if (navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(text).then(() => done(true), () => done(bySelection()));
  } else {
    done(bySelection());
  }
}

// The accounts an entry covers: its scope (an all-accounts entry) or its id.
function accountsOf(entry) {
  return entry.scope && entry.scope.length ? entry.scope : [entry.id];
}

// `key=value, …` of an entry's tags.
function tagText(entry) {
  return entry.tags ? entry.tags.map(([key, value]) => key + "=" + value).join(", ") : "";
}
