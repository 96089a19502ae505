// The page: reads the report embedded as JSON, fills each section, and marks <html>
// `data-ready` once the table answers input.

const byId = (id) => document.getElementById(id);

// Groups listed in the recap; past this the table's error filter finds the rest.
const GROUPS_LISTED = 50;
// Accounts named in a group before "and N more".
const MEMBERS_NAMED = 8;

function showHeader(data) {
  const header = data.header;
  document.title = "xacct: " + oneLine(header.plugin);
  fill(byId("title"), header.plugin);
  let ended = null;
  if (header.started_at) {
    const start = Date.parse(header.started_at);
    const end = new Date(start + header.duration_ms);
    // Past what a Date holds (a report can claim any duration), the end is left out.
    if (!Number.isNaN(end.getTime())) ended = end.toISOString();
  }
  facts(byId("run-header"), [
    ["Plugin", header.plugin],
    ["Digest", header.sha256 ? "sha256:" + header.sha256 : "(the plugin did not load)"],
    ["Mode", header.mode],
    ["Dry run", header.dry_run ? "yes: mutations were planned, not executed" : "no"],
    ["Started", header.started_at],
    ["Ended", ended],
    ["Duration", formatMs(header.duration_ms)],
    ["Plan hash", header.plan_hash],
    ["Shard", header.shards],
  ]);
  if (data.notes && data.notes.length) {
    const list = byId("notes");
    for (const note of data.notes) list.append(el("li", null, note));
    if (data.unlisted) list.append(el("li", null, "… and " + formatCount(data.unlisted) + " more notes and orphaned uploads in the JSON report"));
    list.hidden = false;
  }
}

function showSummary(data) {
  const cards = byId("counts");
  const total = data.entries.length;
  cards.append(el("div", "card", el("span", "n", formatCount(total)), el("span", "label", "accounts")));
  for (const [status, count] of data.counts) {
    const known = ["ok", "error", "skipped"].includes(status);
    cards.append(el("div", "card", el("span", "n " + (known ? "s-" + status : ""), formatCount(count)), el("span", "label", elide(status, 60))));
  }
  const totals = data.totals;
  facts(byId("totals"), [
    ["S3 calls", formatCount(totals.s3_calls)],
    ["Denied by the grant", formatCount(totals.denied_calls)],
    ["Denied by AWS", typeof totals.aws_denied_calls === "number" ? formatCount(totals.aws_denied_calls) : null],
    ["Bytes read", formatBytes(totals.bytes_read)],
    ["Bytes written", formatBytes(totals.bytes_written)],
    ["AssumeRole calls", formatCount(totals.assume_role_calls)],
    ["Retries", formatCount(totals.retries)],
    ["Throttled answers", formatCount(totals.throttled)],
    ["Credential refreshes", formatCount(totals.refreshes)],
    ["Resumed reads", formatCount(totals.resumes)],
  ]);
}

function groupAccounts(data, group) {
  const accounts = [];
  const seen = new Set();
  for (const index of group.entries) {
    for (const account of accountsOf(data.entries[index])) {
      if (!seen.has(account)) {
        seen.add(account);
        accounts.push(account);
      }
    }
  }
  return accounts;
}

// Characters of a group's kind and message shown in the recap (the detail has them all).
const GROUP_TEXT = 300;

function groupLabel(group) {
  return group.denied_by_aws ? group.denied_by_aws.action + " on " + group.denied_by_aws.resource : group.pattern || "(no message)";
}

function groupView(data, group, onShow) {
  const title = el("span", "pattern", elide(groupLabel(group), GROUP_TEXT));
  const show = el("button", null, "Show in table");
  show.type = "button";
  show.addEventListener("click", () => onShow(group));
  const copy = el("button", null, "Copy accounts");
  copy.type = "button";
  const status = el("span", "status-text");
  status.setAttribute("role", "status");
  copy.addEventListener("click", () => copyText(groupAccounts(data, group).join("\n"), status));
  const named = group.entries.slice(0, MEMBERS_NAMED).map((index) => {
    const entry = data.entries[index];
    return elide(entry.id, 40) + (entry.alias ? " (" + elide(entry.alias, 40) + ")" : "");
  });
  const more = group.entries.length - named.length;
  const members = named.join(", ") + (more > 0 ? ", and " + formatCount(more) + " more" : "");
  return el(
    "div",
    "group",
    el("div", "group-head", el("span", "count", formatCount(group.entries.length) + " ×"), el("span", "kind", elide(group.kind, 60)), title, el("span", "actions", show, copy, status)),
    el("div", "members", members),
  );
  return box;
}

function showRecap(data, onShow) {
  if (!data.groups.length) return;
  byId("recap").hidden = false;
  if (data.rerun_command) {
    // Shown in part when enormous (a hostile plugin name); copied whole.
    fill(byId("rerun-command"), elide(data.rerun_command, 600));
    byId("copy-rerun").addEventListener("click", () => copyText(data.rerun_command, byId("rerun-status")));
    fill(byId("rerun-note"), data.rerun_note || "");
  }
  const denied = data.groups.filter((group) => group.denied_by_aws);
  const other = data.groups.filter((group) => !group.denied_by_aws);
  const sections = [
    [byId("denied-groups"), denied, "Denied by AWS: fix the role's IAM policy, not the plugin"],
    [byId("failure-groups"), other, "By error"],
  ];
  for (const [container, groups, heading] of sections) {
    if (!groups.length) continue;
    container.append(el("h3", null, heading));
    for (const group of groups.slice(0, GROUPS_LISTED)) container.append(groupView(data, group, onShow));
    if (groups.length > GROUPS_LISTED) {
      const rest = groups.slice(GROUPS_LISTED).reduce((sum, group) => sum + group.entries.length, 0);
      container.append(el("p", "hint", "… and " + formatCount(groups.length - GROUPS_LISTED) + " more groups (" + formatCount(rest) + " accounts): filter the table by error."));
    }
  }
}

function showOrphans(data) {
  if (!data.orphaned_uploads || !data.orphaned_uploads.length) return;
  byId("orphans").hidden = false;
  const rows = byId("orphan-rows");
  for (const upload of data.orphaned_uploads) {
    rows.append(el("tr", null, el("td", null, upload.account), el("td", null, upload.bucket), el("td", null, upload.key), el("td", null, upload.upload_id), el("td", null, upload.reason)));
  }
}

function fillSelect(select, options) {
  for (const [value, label] of options) {
    const option = el("option", null, label);
    option.value = value;
    select.append(option);
  }
}

function detailSections(entry) {
  const sections = [];
  const section = (title, ...content) => sections.push(el("h3", null, title), ...content);
  const usage = el("dl", "facts");
  facts(usage, [
    ["Status", entry.status],
    ["Error", entry.error ? entry.error.kind : null],
    ["Duration", formatMs(entry.duration_ms)],
    ["Started", typeof entry.start_ms === "number" ? formatMs(entry.start_ms) + " into the run" : null],
    ["S3 calls", formatCount(entry.s3_calls)],
    ["Denied by the grant", formatCount(entry.denied_calls)],
    ["Denied by AWS", typeof entry.aws_denied_calls === "number" ? formatCount(entry.aws_denied_calls) : null],
    ["Bytes read", formatBytes(entry.bytes_read)],
    ["Bytes written", formatBytes(entry.bytes_written)],
    ["AssumeRole calls", formatCount(entry.assume_role_calls)],
    ["Retries", formatCount(entry.retries)],
    ["Throttled answers", formatCount(entry.throttled)],
    ["Credential refreshes", formatCount(entry.refreshes)],
    ["Resumed reads", formatCount(entry.resumes)],
    ["Tags", entry.tags && entry.tags.length ? tagText(entry) : null],
    ["Scope", entry.scope && entry.scope.length ? formatCount(entry.scope.length) + " accounts" : null],
  ]);
  sections.push(usage);
  if (entry.error) {
    section("Error: " + entry.error.kind, pre(entry.error.message));
    const denial = entry.error.denied_by_aws;
    if (denial) sections.push(el("p", "note", "AWS denied " + denial.action + " on " + denial.resource + ": fix the role's IAM policy."));
  }
  if (entry.output !== undefined) {
    // Pretty-printed by the host, exactly: JSON.parse would round large integers.
    section("Output", pre(entry.output));
  } else if (entry.output_omitted) {
    section("Output", el("p", "note", "Not shown whole: " + entry.output_omitted + "."));
    if (entry.output_preview) sections.push(pre(entry.output_preview + " …"));
  }
  if (entry.planned && entry.planned.length) {
    section("Planned, not executed (dry run)", pre(JSON.stringify(entry.planned, null, 2)));
  }
  if (entry.planned_omitted) sections.push(el("p", "note", "… and " + formatCount(entry.planned_omitted) + " more planned operations (the audit log lists them all)."));
  section("Plugin log", entry.log !== undefined ? pre(entry.log) : el("p", "hint", "No log: what plugins print is kept with `xacct run --out-dir DIR`, and shown by `xacct report html REPORT --out-dir DIR`."));
  if (entry.scope && entry.scope.length) section("Accounts in scope", pre(entry.scope.join("\n")));
  return sections;
}

function init() {
  const data = JSON.parse(byId("report-data").textContent);
  showHeader(data);
  showSummary(data);
  drawHistogram(byId("histogram"), data.entries);
  drawTimeline(byId("timeline"), data.entries, data.header.duration_ms);
  showOrphans(data);

  const dialog = byId("detail");
  let table = null;
  const open = (index) => {
    const entry = data.entries[index];
    fill(byId("detail-title"), entry.alias ? entry.id + " · " + entry.alias : entry.id);
    fill(byId("detail-body"), ...detailSections(entry));
    dialog.showModal();
    byId("detail-title").focus();
  };
  byId("close-detail").addEventListener("click", () => dialog.close());
  // Back to the row the account was opened from.
  dialog.addEventListener("close", () => table.focusActive());

  table = new AccountTable(
    data.entries,
    typeof data.totals.aws_denied_calls === "number",
    { scroller: byId("table-scroll"), head: byId("table-head"), body: byId("rows"), shown: byId("shown") },
    open,
  );
  fillSelect(byId("status-filter"), data.counts.filter(([, count]) => count > 0).map(([status, count]) => [status, elide(status, 60) + " (" + formatCount(count) + ")"]));
  // The Error filter's choices, as the Error column groups them: AWS denials first, then
  // the other errors by kind.
  const choices = new Map();
  for (const entry of data.entries) {
    const choice = errorChoice(entry);
    if (choice) choices.set(choice, (choices.get(choice) || 0) + 1);
  }
  const choiceLabel = (choice) => (choice === "aws" ? "denied by AWS" : elide(choice.slice(2), 60));
  const ordered = [...choices].sort(([a], [b]) => (a === "aws" ? -1 : b === "aws" ? 1 : a < b ? -1 : a > b ? 1 : 0));
  fillSelect(byId("kind-filter"), ordered.map(([choice, count]) => [choice, choiceLabel(choice) + " (" + formatCount(count) + ")"]));
  byId("search").addEventListener("input", (event) => table.setFilter({ query: event.target.value }));
  byId("status-filter").addEventListener("change", (event) => table.setFilter({ status: event.target.value }));
  byId("kind-filter").addEventListener("change", (event) => table.setFilter({ kind: event.target.value }));
  const chip = byId("group-filter");
  byId("clear-group").addEventListener("click", () => {
    chip.hidden = true;
    table.setFilter({ members: null });
    byId("search").focus();
  });
  showRecap(data, (group) => {
    fill(byId("group-filter-text"), elide(group.kind, 60) + ": " + elide(groupLabel(group), 120) + " (" + formatCount(group.entries.length) + ")");
    chip.hidden = false;
    // The filters that would hide some of the group's accounts are dropped, and their
    // controls say so.
    table.showOnly(new Set(group.entries));
    byId("search").value = table.filter.query;
    byId("status-filter").value = table.filter.status;
    byId("kind-filter").value = table.filter.kind;
    byId("accounts").scrollIntoView();
    byId("accounts-heading").focus({ preventScroll: true });
  });
  table.apply();
  // Ready once the first frame with the table has been painted; the search index after.
  requestAnimationFrame(() =>
    setTimeout(() => {
      document.documentElement.setAttribute("data-ready", "");
      // Safari has no requestIdleCallback.
      (window.requestIdleCallback || setTimeout)(() => table.prepareSearch());
    }),
  );
}

init();
