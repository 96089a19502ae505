use std::collections::BTreeMap;

use serde_json::json;
use xacct_report_html::{Options, render};

use super::*;

/// What the page says of `log` as the account's log: the page's data holds it as JSON.
fn page_of(log: &str) -> String {
    let report = json!({"plugin": "p", "mode": "per-account", "entries": [
        {"account_id": "111111111111", "status": "ok"}
    ]});
    let options = Options {
        logs: BTreeMap::from([("111111111111".to_owned(), log.to_owned())]),
        report_path: None,
    };
    render(&report, &options).unwrap()
}

/// The number `… N bytes of the log left out here` says.
fn left_out(read: &str) -> usize {
    let (before, _) = read.split_once(" bytes of the log left out here").unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_long_log_is_read_bounded_head_and_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugin.log");
    let log = format!("{}{}", "start\n".repeat(100_000), "the end\n");
    std::fs::write(&path, &log).unwrap();
    let read = read_bounded(&path).unwrap().unwrap();
    assert!(read.len() <= LOG_BYTES, "{}", read.len());
    assert!(read.starts_with("start\n") && read.ends_with("the end\n"));
    let shown = read.len() - read.lines().find(|l| l.contains("left out")).unwrap().len() - 2;
    assert_eq!(
        left_out(&read),
        log.len() - shown,
        "the file's bytes not shown"
    );
    // The page shows it as it is, its note included: it cuts nothing more.
    assert!(page_of(&read).contains(&format!(
        "{} bytes of the log left out here",
        left_out(&read)
    )));
    std::fs::write(&path, "short").unwrap();
    assert_eq!(read_bounded(&path).unwrap().as_deref(), Some("short"));
    assert_eq!(read_bounded(&dir.path().join("none")).unwrap(), None);
    assert_eq!(
        read_bounded(dir.path()).unwrap(),
        None,
        "a directory is no log"
    );
}

/// Invalid UTF-8 is three bytes of text per bad byte: a log within the bound in bytes is
/// over it as text, and is cut as text, once, saying how many of the file's bytes it left
/// out (the page would otherwise cut it again and count bytes of the replaced text).
#[test]
fn invalid_utf8_is_cut_once_as_text_and_counted_in_the_files_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugin.log");
    for bad in [200_000, 1_000_000] {
        let mut log = b"start\n".to_vec();
        log.extend(std::iter::repeat_n(0xFF_u8, bad / 2));
        log.extend("é".repeat(bad / 4).as_bytes());
        log.extend(std::iter::repeat_n(0xFE_u8, bad / 4));
        log.extend(b"the end\n");
        std::fs::write(&path, &log).unwrap();
        let read = read_bounded(&path).unwrap().unwrap();
        assert!(read.len() <= LOG_BYTES, "{bad}: {}", read.len());
        assert!(read.starts_with("start\n\u{FFFD}") && read.ends_with("\u{FFFD}the end\n"));
        let note = read.lines().find(|l| l.contains("left out")).unwrap();
        let shown: usize = read
            .replacen(note, "", 1)
            .chars()
            .map(|c| if c == '\u{FFFD}' { 1 } else { c.len_utf8() })
            .sum::<usize>()
            - 2;
        assert_eq!(left_out(&read), log.len() - shown, "{bad}");
        let page = page_of(&read);
        assert!(
            page.contains(&format!(
                "{} bytes of the log left out here",
                left_out(&read)
            )) && !page.contains("bytes left out here (the whole log is in the run"),
            "{bad}: the page cut it again"
        );
    }
}

#[test]
fn a_character_is_never_split() {
    // "é" is two bytes: a bound in the middle of one keeps it out, whole.
    assert_eq!(decoded_head("aé".as_bytes(), 2), ("a".to_owned(), 1));
    assert_eq!(decoded_head(&"aé".as_bytes()[..2], 9), ("a".to_owned(), 1));
    assert_eq!(decoded_head(b"a\xFFb", 9), ("a\u{FFFD}b".to_owned(), 3));
    assert_eq!(decoded_tail("éa".as_bytes(), 2), ("a".to_owned(), 2));
    assert_eq!(decoded_tail(&"éa".as_bytes()[1..], 9), ("a".to_owned(), 1));
    assert_eq!(decoded_tail(b"a\xFFb", 9), ("a\u{FFFD}b".to_owned(), 0));
    assert_eq!(decoded_tail(b"a\xFFb", 3), ("b".to_owned(), 2));
}
