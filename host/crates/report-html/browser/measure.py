"""The report page's figures in headless Chromium, as one JSON object on stdout.

    measure.py PAGE.html [--runs N] [--search TEXT]

- `load_to_ready_ms`: from navigation start (performance.timeOrigin) until <html> gets
  `data-ready`, which the page sets once its table answers input and the first frame with
  it has been painted. Recorded by a MutationObserver installed before the page's own
  script, not by the page.
- `search_ms`, `clear_ms`, `sort_ms`: from the input event (typing TEXT into the search box,
  emptying it, clicking the Duration header) until the next frame has been painted
  (requestAnimationFrame, then a task), measured in the page with performance.now().
- `bytes`: the file's size.

Each run opens the page in a fresh browser context; the figures are the median and the
worst of N runs (default 5). Every run also fails on a console error, an uncaught
exception, a dialog, a CSP violation or a request (see harness.py).
"""

import argparse
import json
import os
import statistics
import sys

import harness

# Dispatches the input `action` describes and resolves with the milliseconds until
# the next frame was painted.
TIMED = """async (action) => {
  const start = performance.now();
  if (action.kind === "search") {
    const input = document.getElementById("search");
    input.value = action.text;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  } else {
    [...document.querySelectorAll("#table-head button")].find((b) => b.textContent === action.label).click();
  }
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  return performance.now() - start;
}"""


def measure_once(chromium, url, text):
    context = harness.context(chromium)
    watched = harness.Watched(context, url)
    page = watched.open(timeout_ms=60000)
    figures = {"load_to_ready_ms": page.evaluate("window.__readyAt")}
    figures["search_ms"] = page.evaluate(TIMED, {"kind": "search", "text": text})
    figures["shown_after_search"] = page.inner_text("#shown")
    figures["clear_ms"] = page.evaluate(TIMED, {"kind": "search", "text": ""})
    figures["sort_ms"] = page.evaluate(TIMED, {"kind": "sort", "label": "Duration"})
    incidents = watched.incidents()
    context.close()
    if incidents:
        harness.fail("; ".join(incidents))
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--search", default="prod", help="what to type into the search box")
    args = parser.parse_args()
    url = harness.file_url(args.page)
    with harness.browser() as chromium:
        # One run to warm the file cache and the browser; not counted.
        measure_once(chromium, url, args.search)
        runs = [measure_once(chromium, url, args.search) for _ in range(args.runs)]
    result = {"page": args.page, "bytes": os.path.getsize(args.page), "runs": args.runs, "shown_after_search": runs[0]["shown_after_search"]}
    for key in ["load_to_ready_ms", "search_ms", "clear_ms", "sort_ms"]:
        values = [run[key] for run in runs]
        result[key] = {"median": round(statistics.median(values), 1), "max": round(max(values), 1)}
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
