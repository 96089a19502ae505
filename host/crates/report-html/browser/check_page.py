"""Checks a report page in headless Chromium.

    check_page.py CASE PAGE.html EXPECT.json ARTEFACT_DIR

CASE is `sample` (header, counts, recap, copy, search, filters, sort, keyboard, detail,
screenshots light and dark), `legacy` (a report without the newer fields), `extremes`
(the largest numbers a report can hold), `layout` (numbers at their widest
and at their rounding edges, the Error column's search, the group filter's ×), `timeline`
(the concurrency peak), `filters` (search over all an entry holds, AWS denials in the
Error column and filter, a group shown whatever the filters), `empty` (a report with no
invocation), `hostile`
(nothing in the values executes, loads or injects), `scale` (10,000 accounts), `run` (a
report `xacct` wrote: header, tags, timeline, AWS denials, an account's log) or
`selftest` (the harness itself catches an injection in a page built to have one; PAGE
is where that page is written). EXPECT holds what the test that rendered the page knows
of its report. On every page: no console error, no uncaught exception, no dialog, no CSP
violation, no request. Exits 0 when all holds; otherwise prints each failure and exits 1.
"""

import json
import subprocess
import sys

import harness


class Checks:
    def __init__(self):
        self.failures = []

    def equal(self, what, got, expected):
        if got != expected:
            self.failures.append(f"{what}: got {got!r}, expected {expected!r}")

    def true(self, what, condition):
        if not condition:
            self.failures.append(what)


def shown_count(page):
    return page.inner_text("#shown")


def row_ids(page):
    return page.eval_on_selector_all("#rows tr.row td:first-child", "cells => cells.map(c => c.textContent)")


def card_counts(page):
    return page.eval_on_selector_all(
        "#counts .card",
        "cards => Object.fromEntries(cards.map(c => [c.querySelector('.label').textContent, c.querySelector('.n').textContent]))",
    )


def shown(count, total):
    """What the table says it shows."""
    noun = lambda n: f"{n:,} account" + ("" if n == 1 else "s")
    return noun(count) if count == total else f"{count:,} of {noun(total)}"


def search(page, text):
    page.fill("#search", text)


def sort_by(page, label):
    page.click(f"#table-head button:text-is('{label}')")


def common(checks, page, expect):
    """What every report shows: the counts, and the table answering a search."""
    counts = card_counts(page)
    checks.equal("accounts card", counts.get("accounts"), f"{expect['total']:,}")
    for status, count in expect["counts"].items():
        checks.equal(f"{status} card", counts.get(status), f"{count:,}")
    checks.equal("shown", shown_count(page), shown(expect["total"], expect["total"]))
    query = expect["search"]
    search(page, query["text"])
    checks.equal(f"search {query['text']!r}", shown_count(page), shown(query["matches"], expect["total"]))
    search(page, "")


def sample(checks, watched, page, expect, artefacts):
    common(checks, page, expect)
    header = page.inner_text("#run-header")
    for fact in expect["header"]:
        checks.true(f"the header shows {fact!r}: {header!r}", fact in header)
    checks.equal("title", page.title(), "xacct: " + expect["plugin"])
    # The recap: one box per group, AWS denials apart.
    checks.equal("groups", page.locator("#failure-groups .group").count(), expect["groups"])
    checks.equal("denied groups", page.locator("#denied-groups .group").count(), expect["denied_groups"])
    checks.equal("rerun command", page.inner_text("#rerun-command"), expect["rerun_command"])
    page.click("#copy-rerun")
    page.wait_for_selector("#rerun-status:not(:empty)")
    checks.equal("clipboard after copying the rerun command", page.evaluate("navigator.clipboard.readText()"), expect["rerun_command"])
    first_group = page.locator("#failure-groups .group").first
    first_group.get_by_role("button", name="Copy accounts").click()
    page.wait_for_selector("#failure-groups .group .status-text:not(:empty)")
    checks.equal("clipboard after copying a group's accounts", page.evaluate("navigator.clipboard.readText()"), "\n".join(expect["first_group_accounts"]))
    first_group.get_by_role("button", name="Show in table").click()
    checks.equal("rows of the first group", sorted(row_ids(page)), sorted(expect["first_group_accounts"]))
    page.click("#clear-group")
    # Filters.
    page.select_option("#status-filter", "error")
    checks.equal("status filter", shown_count(page), shown(expect["counts"]["error"], expect["total"]))
    page.select_option("#status-filter", "")
    page.select_option("#kind-filter", expect["kind_filter"]["kind"])
    checks.equal("error filter", shown_count(page), shown(expect["kind_filter"]["matches"], expect["total"]))
    page.select_option("#kind-filter", "")
    # Sorting: numbers largest first, then smallest first.
    sort_by(page, "Duration")
    checks.equal("slowest first", row_ids(page)[0], expect["slowest"])
    checks.equal("aria-sort", page.get_attribute("#table-head th:nth-child(6)", "aria-sort"), "descending")
    sort_by(page, "Duration")
    checks.equal("fastest first", row_ids(page)[0], expect["fastest"])
    sort_by(page, "Account")
    # The keyboard: Tab reaches the rows, arrows move, Enter opens, Escape closes.
    page.focus("#table-head th:last-child button")
    page.keyboard.press("Tab")
    checks.equal("Tab lands on the first row", page.evaluate("document.activeElement.dataset.position"), "0")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    detail = expect["detail"]
    checks.true("Enter opens the detail", page.is_visible("#detail"))
    checks.equal("detail title", page.inner_text("#detail-title"), detail["title"])
    pres = page.eval_on_selector_all("#detail-body pre", "nodes => nodes.map(n => n.textContent)")
    checks.true(f"the detail shows the output pretty-printed: {pres!r}", detail["output"] in pres)
    checks.true(f"the detail shows the log: {pres!r}", detail["log"] in pres)
    page.screenshot(path=f"{artefacts}/sample-detail.png")
    page.keyboard.press("Escape")
    checks.true("Escape closes the detail", not page.is_visible("#detail"))
    checks.equal("focus returns to the row", page.evaluate("document.activeElement.dataset.position"), "1")
    page.keyboard.press("Space")
    checks.true("Space opens the detail", page.is_visible("#detail"))
    page.keyboard.press("Escape")
    # The charts.
    checks.true("histogram bars", page.locator("#histogram rect.bar").count() > 0)
    checks.true("timeline area", page.locator("#timeline path.area").count() == 1)
    checks.equal("orphaned uploads", page.locator("#orphan-rows tr").count(), expect["orphans"])
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=f"{artefacts}/sample-light.png", full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=f"{artefacts}/sample-dark.png", full_page=True)
    checks.equal(
        "dark background",
        page.evaluate("getComputedStyle(document.documentElement).backgroundColor"),
        "rgb(13, 17, 23)",
    )


def legacy(checks, watched, page, expect, artefacts):
    common(checks, page, expect)
    checks.true("no timeline without start offsets", page.locator("#timeline path.area").count() == 0)
    checks.true("the timeline says why", "no start times" in page.inner_text("#timeline"))
    checks.true("a histogram all the same", page.locator("#histogram rect.bar").count() > 0)
    page.screenshot(path=f"{artefacts}/legacy.png", full_page=True)


def extremes(checks, watched, page, expect, artefacts):
    common(checks, page, expect)
    checks.true("histogram bars", page.locator("#histogram rect.bar").count() > 0)
    checks.true("timeline area", page.locator("#timeline path.area").count() == 1)
    sort_by(page, "Duration")
    checks.equal("the longest first", row_ids(page)[0], expect["slowest"])
    page.locator("#rows tr.row[data-position='0']").click()
    checks.true("the detail opens", page.is_visible("#detail"))
    page.keyboard.press("Escape")


# What an injection would leave in the document: elements the page never makes, an event
# handler attribute, an attribute that loads, navigates or styles (beyond the page's own skip
# link, empty favicon and the table's spacer heights), or the flag the payloads set. Text in `title`, `value` and the like
# is inert, whatever it says.
INJECTED = """() => {
  const found = [];
  for (const node of document.querySelectorAll('img, iframe, frame, object, embed, applet, meta[http-equiv=refresh], base, form, svg a, use, image, foreignObject, video, audio, source, track, portal')) {
    found.push(node.outerHTML.slice(0, 120));
  }
  const loads = /^(href|src|srcset|srcdoc|action|formaction|xlink:href|data|poster|background|ping|manifest|codebase|style)$/i;
  for (const node of document.querySelectorAll('*')) {
    for (const attribute of node.attributes) {
      const own = (node.matches('a.skip') && attribute.value === '#accounts-heading') || (node.matches('link[rel=icon]') && attribute.value === 'data:,')
        || (node.matches('tr.spacer > td') && /^height: [0-9.]+px;$/.test(attribute.value));
      if (/^on/i.test(attribute.name) || (loads.test(attribute.name) && !own)) found.push(node.tagName + ' ' + attribute.name + '=' + attribute.value.slice(0, 80));
    }
  }
  if (document.scripts.length !== 2) found.push(document.scripts.length + ' scripts');
  if (document.styleSheets.length !== 1) found.push(document.styleSheets.length + ' style sheets');
  if (window.__pwned !== undefined) found.push('window.__pwned = ' + window.__pwned);
  return found;
}"""


def hostile(checks, watched, page, expect, artefacts):
    checks.equal("injected before any interaction", page.evaluate(INJECTED), [])
    # Every value shows as the text it is.
    for selector, text in expect["shown_as_text"]:
        content = page.inner_text(selector)
        checks.true(f"{selector} shows {text!r} as text: {content[:300]!r}", text in content)
    # Open every account, search with a payload, copy every group's accounts.
    for position in range(expect["total"]):
        page.locator(f"#rows tr.row[data-position='{position}']").click()
        if position == 0:
            body = page.inner_text("#detail-body")
            for text in expect["detail_shows"]:
                checks.true(f"the first account's detail shows {text!r} as text", text in body)
            pres = page.eval_on_selector_all("#detail-body pre", "nodes => nodes.map(n => n.textContent)")
            for text in expect["detail_pre_shows"]:
                checks.true(f"the first account's detail shows {text!r} in a block", any(text in pre for pre in pres))
            for text in expect["detail_pre_lacks"]:
                checks.true(f"no block of the first account's detail holds {text!r}", not any(text in pre for pre in pres))
        page.keyboard.press("Escape")
    search(page, "<img src=x onerror=alert(1)>")
    search(page, "")
    for button in page.locator(".group button").all():
        button.click()
    page.click("#copy-rerun")
    page.wait_for_selector("#rerun-status:not(:empty)")
    copied = page.evaluate("navigator.clipboard.readText()")
    # Pasted into bash, the command is `xacct run` and exactly the expected words.
    checks.true(f"the copied command is an xacct run: {copied[:80]!r}", copied.startswith("xacct run "))
    words = subprocess.run(["bash", "-c", "printf '%s\\0' " + copied[len("xacct run "):]], capture_output=True, check=False).stdout
    checks.equal("the copied command's words in bash", [w.decode() for w in words.split(b"\0")[:-1]], expect["rerun_words"])
    page.wait_for_timeout(300)
    checks.equal("injected after interacting", page.evaluate(INJECTED), [])
    page.screenshot(path=f"{artefacts}/hostile.png", full_page=True)


def scale(checks, watched, page, expect, artefacts):
    common(checks, page, expect)
    rows = page.locator("#rows tr.row").count()
    checks.true(f"only the rows in view are in the document ({rows})", 0 < rows < 150)
    page.select_option("#kind-filter", expect["kind_filter"]["kind"])
    checks.equal("error filter", shown_count(page), shown(expect["kind_filter"]["matches"], expect["total"]))
    page.select_option("#kind-filter", "")
    sort_by(page, "Duration")
    checks.equal("slowest first", row_ids(page)[0], expect["slowest"])
    sort_by(page, "Account")
    search(page, expect["one_account"])
    checks.equal("one account by id", row_ids(page), [expect["one_account"]])
    search(page, "")
    # End reaches the last account; the rows there are rendered.
    page.focus("#rows tr.row[data-position='0']")
    page.keyboard.press("End")
    page.wait_for_timeout(100)
    checks.equal("End focuses the last row", page.evaluate("document.activeElement.dataset.position"), str(expect["total"] - 1))
    checks.true("the last account is rendered", expect["last_account"] in row_ids(page))
    page.keyboard.press("Enter")
    checks.true("the last account's detail", expect["last_account"] in page.inner_text("#detail-title"))
    page.keyboard.press("Escape")
    page.keyboard.press("Home")
    wheel_then_keys(checks, page, expect)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=f"{artefacts}/scale.png")


def wait_until(page, condition, timeout_ms=5000):
    """Polls `condition` (a function's source; wait_for_function would need eval, which
    the page's CSP forbids)."""
    for _ in range(timeout_ms // 50):
        if page.evaluate(condition):
            return True
        page.wait_for_timeout(50)
    return False


def scrolled_far(page):
    return wait_until(page, "() => document.getElementById('table-scroll').scrollTop > 10000")


def active_position(page):
    return page.evaluate("document.activeElement.dataset.position")


def wheel_then_keys(checks, page, expect):
    """Scrolled far with the wheel (or the scrollbar), the table keeps the keyboard: the
    active row keeps focus, the keys act on it and bring it back, Tab reaches it."""
    page.focus("#rows tr.row[data-position='0']")
    box = page.locator("#table-scroll").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 20000)
    checks.true("the wheel scrolls the table far", scrolled_far(page))
    page.wait_for_timeout(200)
    checks.equal("after wheel-scrolling, the first row still has focus", active_position(page), "0")
    page.keyboard.press("ArrowDown")
    checks.equal("ArrowDown after wheel-scrolling moves to the second row", active_position(page), "1")
    checks.true("the second row is back in view", page.evaluate("document.getElementById('table-scroll').scrollTop") < 100)
    page.keyboard.press("Enter")
    checks.true("Enter after wheel-scrolling opens the detail", page.is_visible("#detail"))
    title = page.inner_text("#detail-title") if page.is_visible("#detail") else ""
    checks.true(f"the second account's detail: {title!r}", expect["second_account"] in title)
    page.keyboard.press("Escape")
    page.mouse.wheel(0, 20000)
    checks.true("the wheel scrolls the table far", scrolled_far(page))
    page.wait_for_timeout(200)
    page.focus("#table-head th:last-child button")
    page.keyboard.press("Tab")
    checks.equal("Tab from the header reaches the active row however far the table scrolled", active_position(page), "1")
    # Focus on the scroll container itself (a click on its scrollbar): the keys still act.
    page.focus("#table-scroll")
    page.keyboard.press("End")
    checks.equal("End on the scroll container focuses the last row", active_position(page), str(expect["total"] - 1))
    page.focus("#table-scroll")
    page.keyboard.press("Home")
    checks.equal("Home on the scroll container focuses the first row", active_position(page), "0")
    checks.equal("one tab stop in the table", page.evaluate("document.querySelectorAll('#table-scroll [tabindex=\"0\"], #table-scroll[tabindex=\"0\"]').length"), 1)


def run(checks, watched, page, expect, artefacts):
    """A page `xacct run --html` or `xacct report html` wrote from a real run."""
    common(checks, page, expect)
    header = page.inner_text("#run-header")
    for fact in expect["header"]:
        checks.true(f"the header shows {fact!r}: {header!r}", fact in header)
    checks.true("the timeline has the run's start offsets", page.locator("#timeline path.area").count() == 1)
    checks.equal("denied groups", page.locator("#denied-groups .group").count(), expect["denied_groups"])
    denied = page.inner_text("#denied-groups") if expect["denied_groups"] else ""
    for text in expect["denied_shows"]:
        checks.true(f"the AWS denials show {text!r}: {denied!r}", text in denied)
    search(page, expect["detail"]["account"])
    page.locator("#rows tr.row[data-position='0']").click()
    body = page.inner_text("#detail-body")
    for text in expect["detail"]["shows"]:
        checks.true(f"the detail of {expect['detail']['account']} shows {text!r}: {body[:400]!r}", text in body)
    page.keyboard.press("Escape")
    search(page, "")
    page.screenshot(path=f"{artefacts}/{expect['name']}.png", full_page=True)


CELL = """([account, label]) => {
  const labels = [...document.querySelectorAll('#table-head th')].map((th) => th.textContent);
  const row = [...document.querySelectorAll('#rows tr.row')].find((tr) => tr.cells[0].textContent === account);
  const cell = row && row.cells[labels.indexOf(label)];
  return cell ? [cell.textContent, cell.title] : null;
}"""

# Numeric cells whose text does not fit (the browser cuts it with "…").
OVERFLOWING = """() => [...document.querySelectorAll('#rows tr.row td.num')]
  .filter((td) => td.scrollWidth > td.clientWidth)
  .map((td) => td.textContent + ' (' + td.scrollWidth + ' > ' + td.clientWidth + ')')"""


def layout(checks, watched, page, expect, artefacts):
    for account, label, text, title in expect["cells"]:
        got = page.evaluate(CELL, [account, label])
        checks.true(f"{account}'s {label} cell is in the table", got is not None)
        if got is None:
            continue
        checks.equal(f"{account}'s {label} cell", got[0], text)
        if title is not None:
            checks.equal(f"{account}'s {label} cell's title", got[1], title)
    for width in [1400, 1100, 800]:
        page.set_viewport_size({"width": width, "height": 900})
        checks.equal(f"numeric cells cut at {width} px wide", page.evaluate(OVERFLOWING), [])
        page.screenshot(path=f"{artefacts}/layout-{width}.png")
    page.set_viewport_size({"width": 1400, "height": 900})
    query = expect["error_search"]
    search(page, query["text"])
    checks.equal(f"search {query['text']!r}", shown_count(page), shown(query["matches"], expect["total"]))
    search(page, "")
    # The group filter's chip, under a label longer than it shows: its × stays visible
    # and takes a mouse click.
    group = page.locator("#failure-groups .group", has_text=expect["long_group"])
    group.get_by_role("button", name="Show in table").click()
    checks.equal("the long group's rows", shown_count(page), shown(1, expect["total"]))
    page.locator("#group-filter").scroll_into_view_if_needed()
    box = page.locator("#clear-group").bounding_box()
    chip = page.locator("#group-filter").bounding_box()
    checks.true(f"the × is inside its chip: {box} in {chip}", box["x"] >= chip["x"] and box["x"] + box["width"] <= chip["x"] + chip["width"] + 0.5)
    hit = page.evaluate("([x, y]) => { const e = document.elementFromPoint(x, y); return e ? e.id || e.tagName : null; }", [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    checks.equal("what is under the ×'s centre", hit, "clear-group")
    page.screenshot(path=f"{artefacts}/layout-chip.png")
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    checks.true("a click on the × hides the chip", not page.is_visible("#group-filter"))
    checks.equal("a click on the × shows every account", shown_count(page), shown(expect["total"], expect["total"]))


def rows_shown(page):
    return sorted(row_ids(page))


def filters(checks, watched, page, expect, artefacts):
    """Search over all an entry holds; AWS denials in the Error column and filter; a
    group shown whatever the filters were."""
    for text, matches in expect["searches"]:
        search(page, text)
        checks.equal(f"search {text!r}", shown_count(page), shown(matches, expect["total"]))
    search(page, "")
    for account, label, text, title in expect["cells"]:
        got = page.evaluate(CELL, [account, label])
        checks.equal(f"{account}'s {label} cell", got and got[0], text)
        if title is not None:
            checks.equal(f"{account}'s {label} cell's title", got and got[1], title)
    labels = page.eval_on_selector_all("#kind-filter option", "options => options.map(o => o.textContent)")
    checks.equal("the Error filter's choices", labels, expect["kind_options"])
    for value, accounts in expect["kind_filters"]:
        page.select_option("#kind-filter", value)
        checks.equal(f"the Error filter {value!r}", rows_shown(page), accounts)
    page.select_option("#kind-filter", "")
    group = page.locator("#failure-groups .group").first
    controls = {"status": "#status-filter", "kind": "#kind-filter", "search": "#search"}
    for control, value in expect["conflicts"]:
        if control == "search":
            search(page, value)
        else:
            page.select_option(controls[control], value)
        group.get_by_role("button", name="Show in table").click()
        checks.equal(f"the group's accounts after {control} = {value!r}", rows_shown(page), expect["group"])
        checks.equal(f"the {control} filter is dropped", page.input_value(controls[control]), "")
        page.click("#clear-group")
    search(page, expect["kept_search"])
    group.get_by_role("button", name="Show in table").click()
    checks.equal("the group's accounts under a search that holds them", rows_shown(page), expect["group"])
    checks.equal("a search that hides none of them stays", page.input_value("#search"), expect["kept_search"])
    page.click("#clear-group")
    page.screenshot(path=f"{artefacts}/filters.png", full_page=True)


def empty(checks, watched, page, expect, artefacts):
    """A report with no invocation: what the page says of it."""
    timeline_text = page.inner_text("#timeline")
    checks.true(f"the timeline says no invocation ran: {timeline_text!r}", "No invocation ran." in timeline_text)
    checks.true(f"the timeline does not blame the report: {timeline_text!r}", "start times" not in timeline_text)
    body = page.inner_text("#rows")
    if expect["empty_row"]:
        checks.true(f"the table says {expect['empty_row']!r}: {body!r}", expect["empty_row"] in body)
    checks.true(f"the table does not say no account matches: {body!r}", "No account matches." not in body)
    totals = page.eval_on_selector_all("#totals dt", "nodes => nodes.map(n => [n.textContent, n.nextElementSibling.textContent])")
    checks.true(f"the totals count AWS denials: {totals!r}", ["Denied by AWS", "0"] in totals)
    head = page.eval_on_selector_all("#table-head th", "nodes => nodes.map(n => n.textContent)")
    checks.true(f"the table has the AWS denied column: {head!r}", "AWS denied" in head)
    page.screenshot(path=f"{artefacts}/empty.png", full_page=True)


def timeline(checks, watched, page, expect, artefacts):
    text = page.inner_text("#timeline")
    checks.true(f"the timeline says {expect['peak']!r}: {text!r}", expect["peak"] in text)


VULNERABLE_PAGE = """<!doctype html><meta charset="utf-8"><title>vulnerable</title><div id="out"></div>
<script>document.getElementById("out").innerHTML = %s;</script>"""


def selftest(checks, watched, page, expect, artefacts):
    """Not a report: the page written by `main` that inserts a payload as markup. Every
    detector must see it, or the hostile case could pass for a page that is not inert."""
    found = page.evaluate(INJECTED)
    checks.true(f"the injected <img> is found: {found}", any("img" in f.lower() for f in found))
    checks.true(f"the payload ran: {found}", any("__pwned" in f for f in found))
    checks.true(f"its dialog is seen: {watched.dialogs}", watched.dialogs)
    checks.true(f"its request is seen: {watched.requests}", any(u.endswith("/x") for u in watched.requests))


CASES = {"filters": filters, "empty": empty, "run": run, "sample": sample, "layout": layout, "timeline": timeline, "legacy": legacy, "extremes": extremes, "hostile": hostile, "scale": scale, "selftest": selftest}


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in CASES:
        harness.fail(__doc__)
    case, path, expect_path, artefacts = sys.argv[1:]
    with open(expect_path, encoding="utf-8") as file:
        expect = json.load(file)
    if case == "selftest":
        payload = '<img src=x onerror="window.__pwned=1;alert(1)">'
        with open(path, "w", encoding="utf-8") as file:
            file.write(VULNERABLE_PAGE % json.dumps(payload))
    checks = Checks()
    with harness.browser() as chromium:
        context = harness.context(chromium, clipboard=True)
        watched = harness.Watched(context, harness.file_url(path))
        if case == "selftest":
            # The vulnerable page never says it is ready.
            watched.page.goto(watched.url)
            watched.page.wait_for_timeout(500)
            page = watched.page
        else:
            page = watched.open()
        CASES[case](checks, watched, page, expect, artefacts)
        if case != "selftest":
            for incident in watched.incidents():
                checks.failures.append(incident)
        context.close()
    if checks.failures:
        for failure in checks.failures:
            print(f"FAIL [{case}]: {failure}", file=sys.stderr)
        sys.exit(1)
    print(f"ok [{case}]: {path}")


if __name__ == "__main__":
    main()
