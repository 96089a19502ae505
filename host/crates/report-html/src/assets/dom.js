"use strict";
// Helpers that put report values on the page. Every value is untrusted (a plugin chose its
// output, errors and log; a config or AWS Organizations chose aliases and tags), so values
// only ever become text nodes: nothing here parses markup.

// Characters that act on the text around them or hide: C0 and C1 controls, DEL, soft
// hyphen, bidi embeddings, overrides, isolates and marks, zero-width characters, the line
// and paragraph separators, the byte order mark, interlinear annotation.
const HIDDEN = "\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb";
const HIDDEN_IN_LINE = new RegExp("[" + HIDDEN + "]", "g");
// In a block of text, tabs and line feeds keep their meaning.
const HIDDEN_IN_BLOCK = new RegExp("[" + HIDDEN.replace("\\u0000-\\u001f", "\\u0000-\\u0008\\u000b-\\u001f") + "]", "g");

function escapeChar(c) {
  return "\\u{" + c.codePointAt(0).toString(16) + "}";
}

// `text` on one line, every hidden character written as its escape.
function oneLine(text) {
  return String(text).replace(HIDDEN_IN_LINE, escapeChar);
}

// `text` as a block: lines and tabs kept, every other hidden character escaped.
function block(text) {
  return String(text).replace(HIDDEN_IN_BLOCK, escapeChar);
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

function formatBytes(n) {
  n = n || 0;
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let unit = 0;
  let value = n;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? n + " B" : value.toFixed(1) + " " + units[unit];
}

function formatMs(ms) {
  ms = ms || 0;
  if (ms < 1000) return ms + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  const minutes = Math.floor(ms / 60000);
  return minutes + " min " + Math.round((ms % 60000) / 1000) + " s";
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
