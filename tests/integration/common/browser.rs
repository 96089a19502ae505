//! The report page of a real run in headless Chromium: `check_page.py` (the page crate's
//! browser harness, Playwright for Python driving Debian's chromium) loads a page `xacct`
//! wrote and checks what it shows, with zero console errors and zero requests.
//!
//! Without Chromium or Playwright the tests that use it fail, saying to run
//! `scripts/install-browser` (which `scripts/test` runs first).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::target_dir;

/// Runs `check_page.py run` on `page` with what the test knows of its report (`expect`:
/// `name`, `total`, `counts`, `search`, `header`, `denied_groups`, `denied_shows`,
/// `detail`); screenshots go to `target/tmp/report-page/NAME.png`.
pub fn check_run_page(page: &Path, expect: &Value) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = workspace.join(".venv/bin/python");
    assert!(
        python.exists() && Path::new("/usr/bin/chromium").exists(),
        "the report page's browser checks need Debian's chromium and Playwright for Python in .venv: run scripts/install-browser"
    );
    let artefacts = target_dir().join("tmp/report-page");
    std::fs::create_dir_all(&artefacts).unwrap();
    let expect_path = artefacts.join(format!("{}.expect.json", expect["name"].as_str().unwrap()));
    std::fs::write(&expect_path, expect.to_string()).unwrap();
    let output = Command::new(&python)
        .arg(workspace.join("host/crates/report-html/browser/check_page.py"))
        .arg("run")
        .args([
            page.as_os_str(),
            expect_path.as_os_str(),
            artefacts.as_os_str(),
        ])
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", python.display()));
    assert!(
        output.status.success(),
        "the page {} failed in Chromium:\n{}{}",
        page.display(),
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
}
