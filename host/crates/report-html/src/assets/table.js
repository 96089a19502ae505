// The accounts table: every entry, filtered and sorted in memory, of which only the rows
// in view are in the document (10,000 rows of DOM would take seconds to lay out).
// Keyboard: one tab stop for the rows (the active one, which stays in the document however
// far the table is scrolled); arrows, Page Up/Down, Home and End move, Enter or Space
// opens the account, on a row or on the scroll container (focused by a click on its
// scrollbar), bringing the active row back into view.

const OVERSCAN = 12;

function numberColumn(key, label, description, format, className, exact) {
  return { key, label, description, className, numeric: true, value: (entry) => entry[key] || 0, format: format || formatCount, exact: exact || formatCount };
}

// The Error column's text: an AWS denial as the terminal's table says it, any other error
// as "kind: message" (the detail shows the kind of both).
function errorText(entry) {
  const error = entry.error;
  if (!error) return "";
  const denial = error.denied_by_aws;
  return denial ? "denied by AWS: " + denial.action + " on " + denial.resource : error.kind + ": " + error.message;
}

// What the Error filter groups an entry under: "aws" for a denial by AWS, "k:" and the
// kind for any other error (no kind can pass for the denial's choice), "" for none.
function errorChoice(entry) {
  if (!entry.error) return "";
  return entry.error.denied_by_aws ? "aws" : "k:" + entry.error.kind;
}

// `awsDenials`: the report counts AWS's refusals apart (the column shows even at 0).
function tableColumns(awsDenials) {
  const columns = [
    { key: "id", label: "Account", className: "c-id", value: (entry) => entry.id },
    { key: "alias", label: "Alias", className: "c-alias", value: (entry) => entry.alias },
    { key: "tags", label: "Tags", className: "c-tags", value: tagText },
    { key: "status", label: "Status", className: "c-status", value: (entry) => entry.status },
    { key: "error", label: "Error", className: "c-error", value: errorText },
    numberColumn("duration_ms", "Duration", "How long the invocation ran", formatMs, "c-duration", exactMs),
    numberColumn("s3_calls", "Calls", "S3 calls that reached the backend", formatCount, "c-calls"),
    numberColumn("denied_calls", "Denied", "Calls the plugin's grant refused (they never reached AWS)"),
  ];
  if (awsDenials) {
    columns.push(numberColumn("aws_denied_calls", "AWS denied", "Calls AWS refused (IAM)", formatCount, "c-wide"));
  }
  columns.push(
    numberColumn("bytes_read", "Read", "Bytes read", formatBytes, "c-bytes", exactBytes),
    numberColumn("bytes_written", "Written", "Bytes written", formatBytes, "c-bytes", exactBytes),
    numberColumn("retries", "Retries", "Attempts past each call's first"),
    numberColumn("throttled", "Throttled", "Answers that asked to slow down"),
  );
  return columns;
}

// What text search looks through for each entry: every text the page holds for it, whole:
// the row's (the error as its column shows it, and as "kind: message"), the AWS denial,
// the output or its preview, the planned operations as the detail shows them, the log and
// the accounts in scope. The page's data is bounded (9 MiB), and so is this. Searched as
// it is, with a case-insensitive pattern: no lower-case copy of 9 MiB to make first.
function searchPieces(entry) {
  const pieces = [entry.id, entry.alias, tagText(entry), entry.status, errorText(entry)];
  if (entry.error) pieces.push(entry.error.kind + ": " + entry.error.message);
  if (entry.output !== undefined) pieces.push(entry.output);
  if (entry.output_preview) pieces.push(entry.output_preview);
  if (entry.planned && entry.planned.length) pieces.push(JSON.stringify(entry.planned, null, 2));
  if (entry.log !== undefined) pieces.push(entry.log);
  if (entry.scope) pieces.push(entry.scope.join("\n"));
  return pieces;
}

// The search box's text as a pattern that finds it literally, in any case; null for none.
function searchPattern(query) {
  const text = query.trim();
  return text ? new RegExp(text.replace(/[\\^$.*+?()[\]{}|\/-]/g, "\\$&"), "i") : null;
}

function holds(pieces, pattern) {
  for (const piece of pieces) {
    if (pattern.test(piece)) return true;
  }
  return false;
}

class AccountTable {
  constructor(entries, awsDenials, elements, onOpen) {
    this.entries = entries;
    this.elements = elements;
    this.onOpen = onOpen;
    this.columns = tableColumns(awsDenials);
    // Built when the browser is idle after the first paint, or by the first search.
    this.haystacks = null;
    this.sortKeys = new Map();
    this.filter = { query: "", status: "", kind: "", members: null };
    this.sort = { column: null, descending: false };
    this.view = entries.map((_, i) => i);
    this.active = 0;
    this.rowHeight = 31;
    this.scheduled = false;
    this.buildHead();
    const { scroller, body } = elements;
    scroller.addEventListener("scroll", () => this.schedule());
    window.addEventListener("resize", () => this.schedule());
    body.addEventListener("click", (event) => {
      const row = event.target.closest("tr.row");
      if (!row) return;
      this.moveTo(Number(row.dataset.position), true);
      this.onOpen(this.view[this.active]);
    });
    // On the rows, and on the scroll container itself (not on the header's buttons).
    scroller.addEventListener("keydown", (event) => {
      if (event.target === scroller || event.target.closest("tr.row")) this.onKey(event);
    });
    this.render();
    this.measure();
  }

  buildHead() {
    const head = this.elements.head;
    head.replaceChildren();
    this.headCells = this.columns.map((column, index) => {
      const button = el("button", null, column.label);
      button.type = "button";
      button.title = "Sort by " + (column.description || column.label).toLowerCase();
      button.addEventListener("click", () => this.sortBy(index));
      const cell = el("th", [column.className || "c-num", column.numeric ? "num" : ""].join(" "), button);
      cell.scope = "col";
      cell.setAttribute("aria-sort", "none");
      head.append(cell);
      return cell;
    });
  }

  // The rows' real height, once one is laid out.
  measure() {
    const row = this.elements.body.querySelector("tr.row");
    if (!row) return;
    const height = row.getBoundingClientRect().height;
    if (height > 0 && Math.abs(height - this.rowHeight) > 0.5) {
      this.rowHeight = height;
      this.render();
    }
  }

  prepareSearch() {
    if (!this.haystacks) this.haystacks = this.entries.map(searchPieces);
  }

  setFilter(change) {
    Object.assign(this.filter, change);
    this.apply();
  }

  // Shows only `members` (a group's entries), first dropping each of the status, error
  // and search filters that would hide any of them. Returns the names of those dropped.
  showOnly(members) {
    const { status, kind } = this.filter;
    const pattern = searchPattern(this.filter.query);
    if (pattern) this.prepareSearch();
    const hides = {
      status: (i) => status && this.entries[i].status !== status,
      kind: (i) => kind && errorChoice(this.entries[i]) !== kind,
      query: (i) => pattern && !holds(this.haystacks[i], pattern),
    };
    const dropped = [];
    for (const name in hides) {
      for (const i of members) {
        if (hides[name](i)) {
          dropped.push(name);
          this.filter[name] = "";
          break;
        }
      }
    }
    this.setFilter({ members });
    return dropped;
  }

  sortBy(index) {
    if (this.sort.column === index) {
      this.sort.descending = !this.sort.descending;
    } else {
      this.sort.column = index;
      // Numbers largest first (the slowest, the busiest); text A to Z.
      this.sort.descending = Boolean(this.columns[index].numeric);
    }
    this.headCells.forEach((cell, i) => {
      const direction = this.sort.descending ? "descending" : "ascending";
      cell.setAttribute("aria-sort", i === index ? direction : "none");
    });
    this.apply();
  }

  sortKeyOf(index) {
    let keys = this.sortKeys.get(index);
    if (!keys) {
      const column = this.columns[index];
      keys = column.numeric
        ? Float64Array.from(this.entries, column.value)
        : this.entries.map((entry) => String(column.value(entry)).toLowerCase());
      this.sortKeys.set(index, keys);
    }
    return keys;
  }

  // Filters, then sorts (ties keep report order), then shows the top.
  apply() {
    const { query, status, kind, members } = this.filter;
    const pattern = searchPattern(query);
    if (pattern) this.prepareSearch();
    const view = [];
    for (let i = 0; i < this.entries.length; i++) {
      const entry = this.entries[i];
      if (status && entry.status !== status) continue;
      if (kind && errorChoice(entry) !== kind) continue;
      if (members && !members.has(i)) continue;
      if (pattern && !holds(this.haystacks[i], pattern)) continue;
      view.push(i);
    }
    if (this.sort.column !== null) {
      const keys = this.sortKeyOf(this.sort.column);
      const sign = this.sort.descending ? -1 : 1;
      view.sort((a, b) => (keys[a] < keys[b] ? -sign : keys[a] > keys[b] ? sign : a - b));
    }
    this.view = view;
    this.active = 0;
    this.elements.scroller.scrollTop = 0;
    this.elements.shown.textContent =
      view.length === this.entries.length ? accountCount(view.length) : formatCount(view.length) + " of " + accountCount(this.entries.length);
    this.render();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.render();
    });
  }

  // The rows in view (and a few around), and the active row wherever it is, each at its
  // place between spacers: the one tab stop and the focus stay in the document when the
  // wheel or the scrollbar moves the view away.
  render() {
    const { scroller, body } = this.elements;
    const hadFocus = body.contains(document.activeElement) || document.activeElement === scroller;
    const height = this.rowHeight;
    const count = this.view.length;
    const first = Math.max(0, Math.floor(scroller.scrollTop / height) - OVERSCAN);
    const last = Math.min(count, Math.ceil((scroller.scrollTop + scroller.clientHeight) / height) + OVERSCAN);
    const active = count ? this.active : -1;
    const rows = [];
    let next = 0;
    const gapTo = (position) => {
      if (position > next) rows.push(this.spacer((position - next) * height));
    };
    if (active >= 0 && active < first) {
      gapTo(active);
      rows.push(this.row(active));
      next = active + 1;
    }
    gapTo(first);
    for (let position = Math.max(first, next); position < last; position++) rows.push(this.row(position));
    next = Math.max(next, last);
    if (active >= last) {
      gapTo(active);
      rows.push(this.row(active));
      next = active + 1;
    }
    if (count > next || rows.length === 0) rows.push(this.spacer((count - next) * height));
    if (count === 0) rows.push(this.emptyRow());
    body.replaceChildren(...rows);
    // With no row, the scroll container is the table's tab stop.
    scroller.tabIndex = count ? -1 : 0;
    if (hadFocus) this.focusActive();
  }

  spacer(pixels) {
    const cell = el("td");
    cell.colSpan = this.columns.length;
    cell.style.height = pixels + "px";
    const row = el("tr", "spacer", cell);
    row.setAttribute("aria-hidden", "true");
    return row;
  }

  emptyRow() {
    const cell = el("td", "empty", this.entries.length ? "No account matches." : "The report holds no account.");
    cell.colSpan = this.columns.length;
    return el("tr", null, cell);
  }

  row(position) {
    const entry = this.entries[this.view[position]];
    // Striped by position, not by place among the rendered rows (which shifts as it scrolls).
    const row = el("tr", "row" + (position % 2 ? " alt" : "") + (position === this.active ? " active" : ""));
    row.dataset.position = String(position);
    row.tabIndex = position === this.active ? 0 : -1;
    for (const column of this.columns) {
      const value = column.value(entry);
      let cell;
      if (column.numeric) {
        cell = el("td", "num", column.format(value));
        cell.title = column.exact(value);
      } else {
        const known = column.key === "status" && ["ok", "error", "skipped"].includes(value);
        cell = el("td", known ? "s-" + value : column.className, value);
        // The whole value on hover; the cell shows what fits.
        if (value) cell.title = oneLine(value).slice(0, 500);
      }
      row.append(cell);
    }
    return row;
  }

  focusActive() {
    const row = this.elements.body.querySelector('tr.row[data-position="' + this.active + '"]');
    if (row) {
      row.focus({ preventScroll: true });
    } else {
      this.elements.scroller.focus({ preventScroll: true });
    }
  }

  // Makes `position` the active row, scrolls it into view, renders, focuses it.
  moveTo(position, focus) {
    if (this.view.length === 0) return;
    this.active = Math.max(0, Math.min(this.view.length - 1, position));
    const { scroller } = this.elements;
    const headHeight = this.elements.head.getBoundingClientRect().height;
    const top = this.active * this.rowHeight;
    const visible = scroller.clientHeight - headHeight;
    if (top < scroller.scrollTop) {
      scroller.scrollTop = top;
    } else if (top + this.rowHeight > scroller.scrollTop + visible) {
      scroller.scrollTop = top + this.rowHeight - visible;
    }
    this.render();
    if (focus) this.focusActive();
  }

  onKey(event) {
    const page = Math.max(1, Math.floor(this.elements.scroller.clientHeight / this.rowHeight) - 2);
    const moves = {
      ArrowDown: 1,
      ArrowUp: -1,
      PageDown: page,
      PageUp: -page,
      Home: -Infinity,
      End: Infinity,
    };
    if (event.key in moves) {
      event.preventDefault();
      const step = moves[event.key];
      const target = Number.isFinite(step) ? this.active + step : step < 0 ? 0 : this.view.length - 1;
      this.moveTo(target, true);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      if (this.view.length) this.onOpen(this.view[this.active]);
    }
  }
}
