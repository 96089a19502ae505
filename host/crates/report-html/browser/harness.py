"""Headless Chromium for the report page's tests and measurements.

Playwright for Python (the driver only, from PyPI) drives Debian's /usr/bin/chromium: no
browser is downloaded. Every page is watched for what must never happen on it: a console
error, an uncaught exception, a dialog (alert, confirm, prompt), a Content-Security-Policy
violation, and any request other than the page's own file (file:// included; blocked
requests count too, as Chromium reports the attempt).
"""

import contextlib
import os
import sys

CHROMIUM = "/usr/bin/chromium"

# Headless, as root, with nothing that talks to the network in the background (this
# machine's network is closed; Chromium would try Google's hosts at every start).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]

# Installed before any of the page's own script: records CSP violations and the moment
# <html> gets `data-ready` (performance.now(): milliseconds since navigation start).
WATCH_SCRIPT = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + event.blockedURI);
});
new MutationObserver((changes, observer) => {
  if (document.documentElement && document.documentElement.hasAttribute("data-ready")) {
    window.__readyAt = performance.now();
    observer.disconnect();
  }
}).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-ready"] });
"""


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def playwright_or_fail():
    if not os.access(CHROMIUM, os.X_OK):
        fail(f"{CHROMIUM} is missing: run scripts/install-browser (Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        fail("Playwright for Python is missing from .venv: run scripts/install-browser")
    return sync_playwright


class Watched:
    """A page with everything that must not happen on it recorded."""

    def __init__(self, context, url):
        self.url = url
        self.console_errors = []
        self.page_errors = []
        self.dialogs = []
        self.requests = []
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("dialog", self._dialog)
        page.on("request", lambda r: r.url != self.url and self.requests.append(r.url))
        self.page = page

    def _dialog(self, dialog):
        self.dialogs.append(dialog.type + ": " + dialog.message)
        dialog.dismiss()

    def open(self, timeout_ms=20000):
        """Loads the page and waits for `data-ready`; fails saying what went wrong if it
        never comes."""
        from playwright.sync_api import TimeoutError as Timeout

        self.page.goto(self.url)
        try:
            self.page.wait_for_selector("html[data-ready]", state="attached", timeout=timeout_ms)
        except Timeout:
            fail(f"the page never set data-ready within {timeout_ms} ms: " + "; ".join(self.incidents())[:4000])
        return self.page

    def violations(self):
        return self.page.evaluate("window.__violations")

    def incidents(self):
        """Everything that went wrong so far, as lines (none: all well)."""
        found = []
        found += [f"console error: {m}" for m in self.console_errors]
        found += [f"uncaught exception: {m}" for m in self.page_errors]
        found += [f"dialog: {m}" for m in self.dialogs]
        found += [f"request: {u}" for u in self.requests]
        found += [f"CSP violation: {v}" for v in self.violations()]
        return found


@contextlib.contextmanager
def browser():
    with playwright_or_fail()() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def context(chromium, color_scheme="light", clipboard=False):
    ctx = chromium.new_context(
        color_scheme=color_scheme,
        viewport={"width": 1400, "height": 900},
        device_scale_factor=1,
    )
    if clipboard:
        ctx.grant_permissions(["clipboard-read", "clipboard-write"])
    ctx.add_init_script(WATCH_SCRIPT)
    return ctx


def file_url(path):
    return "file://" + os.path.abspath(path)
