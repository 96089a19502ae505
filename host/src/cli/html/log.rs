//! A plugin's log for the page: `plugin.log` of `--out-dir`, read bounded. The page holds
//! at most [`LOG_BYTES`] of a log's text and cuts a longer one itself, so a log is cut
//! here, once, to what the page shows whole: the text first (invalid UTF-8 as U+FFFD,
//! which is longer than the bytes it replaces), then cut on its characters, and what the
//! page says was left out is the file's bytes between the two parts.

use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::Context;
use xacct_report_html::LOG_BYTES;

use xacct_core::sandbox::open::open_regular;

/// The log of an account whose plugin printed nothing (not even a line to stderr).
pub const PRINTED_NOTHING: &str = "(the plugin printed nothing)";

/// A regular file's text, at most [`LOG_BYTES`] of it: its first quarter and the rest
/// from its end, and how many bytes of the file were left out between them. `None` when
/// there is no regular file at `path` (a FIFO is not waited on).
pub fn read_bounded(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_file() => {}
        Ok(_) => return Ok(None),
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
    let (mut file, metadata) = match open_regular(path) {
        Ok(opened) => opened,
        Err(err) if matches!(err.kind(), ErrorKind::NotFound | ErrorKind::InvalidInput) => {
            return Ok(None);
        }
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let read = || -> std::io::Result<String> {
        let size = metadata.len();
        let limit = LOG_BYTES as u64;
        let mut head = Vec::new();
        (&mut file).take(limit).read_to_end(&mut head)?;
        let (tail, tail_offset) = if size <= limit && head.len() as u64 == size {
            let text = String::from_utf8_lossy(&head);
            if text.len() <= LOG_BYTES {
                return Ok(text.into_owned());
            }
            (head.clone(), 0)
        } else {
            // The file's bytes become at least as many bytes of text: the last three
            // quarters of the bound are enough to fill the tail.
            let from = size.saturating_sub(limit * 3 / 4);
            file.seek(SeekFrom::Start(from))?;
            let mut tail = Vec::new();
            file.take(limit).read_to_end(&mut tail)?;
            (tail, from)
        };
        Ok(cut(&head, &tail, tail_offset as usize, path))
    };
    read()
        .map(Some)
        .with_context(|| format!("cannot read {}", path.display()))
}

/// The text of `head` (the file's start) and of `tail` (its bytes from `tail_offset`),
/// cut to at most [`LOG_BYTES`] with the note between them included.
fn cut(head: &[u8], tail: &[u8], tail_offset: usize, path: &Path) -> String {
    let note = |left_out: u64| {
        format!(
            "\n… {left_out} bytes of the log left out here (the whole log is {}) …\n",
            path.display()
        )
    };
    let (start, start_bytes) = decoded_head(head, LOG_BYTES / 4);
    let skip = start_bytes.saturating_sub(tail_offset).min(tail.len());
    let room = LOG_BYTES
        .saturating_sub(start.len())
        .saturating_sub(note(u64::MAX).len());
    let (end, end_offset) = decoded_tail(&tail[skip..], room);
    let end_offset = tail_offset + skip + end_offset;
    format!(
        "{start}{}{end}",
        note((end_offset - start_bytes.min(end_offset)) as u64)
    )
}

/// The longest start of `bytes` as text (invalid UTF-8 as U+FFFD) within `max` bytes of
/// text, and how many of `bytes` it stands for. A character cut by the end of `bytes` is
/// left out.
fn decoded_head(bytes: &[u8], max: usize) -> (String, usize) {
    let mut text = String::new();
    let mut used = 0;
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        if text.len() + valid.len() > max {
            let mut cut = max - text.len();
            while !valid.is_char_boundary(cut) {
                cut -= 1;
            }
            text.push_str(&valid[..cut]);
            return (text, used + cut);
        }
        text.push_str(valid);
        used += valid.len();
        let invalid = chunk.invalid();
        if invalid.is_empty() {
            continue;
        }
        let cut_short = used + invalid.len() == bytes.len()
            && std::str::from_utf8(invalid).is_err_and(|err| err.error_len().is_none());
        if cut_short || text.len() + '\u{FFFD}'.len_utf8() > max {
            break;
        }
        text.push('\u{FFFD}');
        used += invalid.len();
    }
    (text, used)
}

/// The longest end of `bytes` as text (invalid UTF-8 as U+FFFD) within `max` bytes of
/// text, starting on a character, and where in `bytes` it starts. Continuation bytes at
/// the start of `bytes` (a character cut by where `bytes` begins) are left out.
fn decoded_tail(bytes: &[u8], max: usize) -> (String, usize) {
    let skip = bytes
        .iter()
        .take(3)
        .take_while(|byte| *byte & 0xC0 == 0x80)
        .count();
    // (offset in `bytes`, text, whether the text is the bytes themselves)
    let mut pieces = Vec::new();
    let mut offset = skip;
    for chunk in bytes[skip..].utf8_chunks() {
        pieces.push((offset, chunk.valid(), true));
        offset += chunk.valid().len();
        if !chunk.invalid().is_empty() {
            pieces.push((offset, "\u{FFFD}", false));
            offset += chunk.invalid().len();
        }
    }
    let mut kept = Vec::new();
    let (mut len, mut start) = (0, bytes.len());
    for (offset, text, verbatim) in pieces.into_iter().rev() {
        if len + text.len() <= max {
            kept.push(text);
            len += text.len();
            start = offset;
            continue;
        }
        if verbatim {
            let mut cut = text.len() - (max - len);
            while !text.is_char_boundary(cut) {
                cut += 1;
            }
            kept.push(&text[cut..]);
            start = offset + cut;
        }
        break;
    }
    kept.reverse();
    (kept.concat(), start)
}

#[cfg(test)]
mod tests;
