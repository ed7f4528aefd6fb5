//! Streaming message sources for `tusk ingest`: a single message file, an
//! mbox file, a Maildir, or a directory tree of any of these.
//!
//! Files are read with a `BufReader` line by line, so memory stays bounded
//! by the largest single message, never by the size of an mbox.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// One raw message and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMessage {
    /// The file path, or `path#N` (1-based) for the N-th message of an mbox.
    pub origin: String,
    /// The raw bytes (for mbox messages: without the `From ` separator line
    /// and with `>From ` quoting undone).
    pub raw: Vec<u8>,
}

/// A failure to read a source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// An I/O error on a path.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The path is neither a regular file nor a directory.
    #[error("{path} is not a file or directory")]
    Unsupported {
        /// The offending path.
        path: String,
    },
}

impl SourceError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }
}

/// The messages under `path`, one by one.
///
/// * a regular file whose first line starts with `From ` is an mbox
///   (mboxrd quoting undone);
/// * any other regular file is one message;
/// * a directory with `cur/` and `new/` subdirectories is a Maildir: the
///   files of `cur/` and `new/` (never `tmp/`), plus Maildir++ subfolders
///   (`.Sent/` …);
/// * any other directory is walked recursively in name order, skipping
///   entries whose name starts with `.`; directories reached twice through
///   links are visited once.
///
/// Errors on individual files are yielded as items so one unreadable file
/// does not stop an import; an error on `path` itself is returned at once.
pub fn messages(path: &Path) -> Result<Box<dyn Iterator<Item = Result<SourceMessage, SourceError>>>, SourceError> {
    let meta = fs::metadata(path).map_err(|e| SourceError::io(path, e))?;
    let first = if meta.is_dir() {
        Pending::Dir(path.to_path_buf())
    } else if meta.is_file() {
        Pending::File(path.to_path_buf())
    } else {
        return Err(SourceError::Unsupported { path: path.display().to_string() });
    };
    Ok(Box::new(Walker { stack: vec![first], visited: HashSet::new() }))
}

enum Pending {
    Dir(PathBuf),
    /// A Maildir message folder (`cur`/`new`): every file is a message.
    MaildirFolder(PathBuf),
    File(PathBuf),
    Mbox(MboxReader),
}

struct Walker {
    /// Work still to do; the top is next.
    stack: Vec<Pending>,
    /// Canonical directories already expanded (guards against link loops).
    visited: HashSet<PathBuf>,
}

impl Iterator for Walker {
    type Item = Result<SourceMessage, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.stack.pop()? {
                Pending::Dir(dir) => {
                    if let Err(e) = self.expand_dir(&dir) {
                        return Some(Err(e));
                    }
                }
                Pending::MaildirFolder(dir) => match sorted_entries(&dir) {
                    Ok(entries) => {
                        for (name, path) in entries.into_iter().rev() {
                            if !name.starts_with('.') && path.is_file() {
                                self.stack.push(Pending::File(path));
                            }
                        }
                    }
                    Err(e) => return Some(Err(e)),
                },
                Pending::File(path) => match open_file(&path) {
                    Ok(Opened::Single(message)) => return Some(Ok(message)),
                    Ok(Opened::Mbox(reader)) => self.stack.push(Pending::Mbox(reader)),
                    Err(e) => return Some(Err(e)),
                },
                Pending::Mbox(mut reader) => match reader.next_message() {
                    Some(item) => {
                        let failed = item.is_err();
                        if !failed {
                            self.stack.push(Pending::Mbox(reader));
                        }
                        return Some(item);
                    }
                    None => continue,
                },
            }
        }
    }
}

impl Walker {
    fn expand_dir(&mut self, dir: &Path) -> Result<(), SourceError> {
        let canonical = fs::canonicalize(dir).map_err(|e| SourceError::io(dir, e))?;
        if !self.visited.insert(canonical) {
            return Ok(());
        }
        let entries = sorted_entries(dir)?;
        let is_maildir = ["cur", "new"].iter().all(|sub| dir.join(sub).is_dir());
        // Pushed in reverse so that the stack pops them in name order.
        let mut work = Vec::new();
        if is_maildir {
            for sub in ["cur", "new"] {
                work.push(Pending::MaildirFolder(dir.join(sub)));
            }
            for (name, path) in entries {
                let is_subfolder = name.starts_with('.')
                    && name.len() > 1
                    && name != ".."
                    && ["cur", "new"].iter().all(|sub| path.join(sub).is_dir());
                if is_subfolder {
                    work.push(Pending::Dir(path));
                }
            }
        } else {
            for (name, path) in entries {
                if name.starts_with('.') {
                    continue;
                }
                if path.is_dir() {
                    work.push(Pending::Dir(path));
                } else if path.is_file() {
                    work.push(Pending::File(path));
                }
            }
        }
        self.stack.extend(work.into_iter().rev());
        Ok(())
    }
}

/// Directory entries as (file name, path), sorted by name.
fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, SourceError> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| SourceError::io(dir, e))? {
        let entry = entry.map_err(|e| SourceError::io(dir, e))?;
        entries.push((entry.file_name().to_string_lossy().into_owned(), entry.path()));
    }
    entries.sort();
    Ok(entries)
}

enum Opened {
    Single(SourceMessage),
    Mbox(MboxReader),
}

/// Opens a file and decides from its first line whether it is an mbox.
fn open_file(path: &Path) -> Result<Opened, SourceError> {
    let file = File::open(path).map_err(|e| SourceError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut first = Vec::new();
    reader.read_until(b'\n', &mut first).map_err(|e| SourceError::io(path, e))?;
    if first.starts_with(b"From ") {
        return Ok(Opened::Mbox(MboxReader {
            reader,
            path: path.to_path_buf(),
            line: Vec::new(),
            next_index: 1,
            done: false,
        }));
    }
    let mut raw = first;
    reader.read_to_end(&mut raw).map_err(|e| SourceError::io(path, e))?;
    Ok(Opened::Single(SourceMessage { origin: path.display().to_string(), raw }))
}

/// Reads an mbox one message at a time. The first `From ` line has already
/// been consumed when it is created.
struct MboxReader {
    reader: BufReader<File>,
    path: PathBuf,
    /// Reused line buffer.
    line: Vec<u8>,
    /// 1-based index of the next message.
    next_index: usize,
    done: bool,
}

impl MboxReader {
    fn next_message(&mut self) -> Option<Result<SourceMessage, SourceError>> {
        if self.done {
            return None;
        }
        let mut raw = Vec::new();
        let mut previous_blank = false;
        loop {
            self.line.clear();
            match self.reader.read_until(b'\n', &mut self.line) {
                Ok(0) => {
                    self.done = true;
                    if previous_blank {
                        strip_last_blank_line(&mut raw);
                    }
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(SourceError::io(&self.path, e)));
                }
            }
            if previous_blank && is_separator(&self.line) {
                // The blank line before a separator belongs to the mbox format.
                strip_last_blank_line(&mut raw);
                break;
            }
            previous_blank = self.line == b"\n" || self.line == b"\r\n";
            raw.extend_from_slice(unquote_from(&self.line));
        }
        let index = self.next_index;
        self.next_index += 1;
        if self.done && raw.iter().all(u8::is_ascii_whitespace) {
            // Trailing blank lines after the last message, or an empty mbox.
            return None;
        }
        Some(Ok(SourceMessage { origin: format!("{}#{index}", self.path.display()), raw }))
    }
}

/// A `From ` separator line: `From ` followed by something with a time of
/// day (`hh:mm`), which every mbox writer puts there and which body lines
/// starting with "From " (unquoted in mboxo files) rarely have.
fn is_separator(line: &[u8]) -> bool {
    line.starts_with(b"From ")
        && line
            .windows(4)
            .any(|w| w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit() && w[3].is_ascii_digit())
}

/// Undoes mboxrd quoting: `>From `, `>>From ` … lose one `>`.
fn unquote_from(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|b| **b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") { &line[1..] } else { line }
}

fn strip_last_blank_line(raw: &mut Vec<u8>) {
    if raw.ends_with(b"\r\n") {
        raw.truncate(raw.len() - 2);
    } else if raw.ends_with(b"\n") {
        raw.truncate(raw.len() - 1);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use std::fs;

    fn collect(path: &Path) -> Vec<SourceMessage> {
        messages(path).unwrap().collect::<Result<Vec<_>, _>>().unwrap()
    }

    const MBOX: &str = "From alice@example.edu Thu Jan  1 00:00:00 2025\n\
From: alice@example.edu\nSubject: one\n\nfirst body\n>From the start\n>>From deeper\nFrom here, unquoted in mboxo\n\n\
From bob@example.edu Fri Jan  2 10:11:12 2025\n\
From: bob@example.edu\nSubject: two\n\nsecond\n\n\
From carol@example.edu Sat Jan  3 10:11:12 2025\n\
From: carol@example.edu\nSubject: three\n\nthird\n\n";

    #[test]
    fn mbox_splits_and_unquotes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox.mbox");
        fs::write(&path, MBOX).unwrap();
        let msgs = collect(&path);
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[0].origin, format!("{}#1", path.display()));
        assert_eq!(msgs[2].origin, format!("{}#3", path.display()));
        assert_eq!(
            String::from_utf8_lossy(&msgs[0].raw),
            "From: alice@example.edu\nSubject: one\n\nfirst body\nFrom the start\n>From deeper\nFrom here, unquoted in mboxo\n"
        );
        assert_eq!(String::from_utf8_lossy(&msgs[1].raw), "From: bob@example.edu\nSubject: two\n\nsecond\n");
        assert_eq!(String::from_utf8_lossy(&msgs[2].raw), "From: carol@example.edu\nSubject: three\n\nthird\n");
        for m in &msgs {
            assert!(crate::mail::inbound::parse::parse(&m.raw).is_ok());
        }
    }

    #[test]
    fn mbox_with_crlf_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crlf.mbox");
        fs::write(&path, MBOX.replace('\n', "\r\n")).unwrap();
        let msgs = collect(&path);
        assert_eq!(msgs.len(), 3);
        assert_eq!(String::from_utf8_lossy(&msgs[1].raw), "From: bob@example.edu\r\nSubject: two\r\n\r\nsecond\r\n");
        assert!(String::from_utf8_lossy(&msgs[0].raw).contains("\r\nFrom the start\r\n"));
    }

    #[test]
    fn single_files_and_crlf_file_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one.eml");
        let raw = b"From: a@example.edu\r\nSubject: crlf\r\n\r\nbody\r\n";
        fs::write(&path, raw).unwrap();
        let msgs = collect(&path);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].origin, path.display().to_string());
        assert_eq!(msgs[0].raw, raw);
    }

    #[test]
    fn nested_directories_skip_dot_files_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("b/deeper")).unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::write(root.join("a.eml"), "Subject: a\n\nx").unwrap();
        fs::write(root.join("b/c.eml"), "Subject: c\n\nx").unwrap();
        fs::write(root.join("b/deeper/d.eml"), "Subject: d\n\nx").unwrap();
        fs::write(root.join("b/.DS_Store"), "junk").unwrap();
        fs::write(root.join(".git/config"), "junk").unwrap();
        fs::write(root.join("z.mbox"), MBOX).unwrap();
        let msgs = collect(root);
        let origins: Vec<String> = msgs
            .iter()
            .map(|m| m.origin.strip_prefix(&root.display().to_string()).unwrap_or(&m.origin).to_owned())
            .collect();
        assert_eq!(origins, vec!["/a.eml", "/b/c.eml", "/b/deeper/d.eml", "/z.mbox#1", "/z.mbox#2", "/z.mbox#3"]);
    }

    #[test]
    fn maildir_reads_cur_and_new_not_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let md = dir.path().join("Mail");
        for sub in ["cur", "new", "tmp", ".Sent/cur", ".Sent/new", ".Sent/tmp"] {
            fs::create_dir_all(md.join(sub)).unwrap();
        }
        fs::write(md.join("cur/1700000000.1.host:2,S"), "Subject: seen\n\nx").unwrap();
        fs::write(md.join("new/1700000001.2.host"), "Subject: new\n\nx").unwrap();
        fs::write(md.join("tmp/1700000002.3.host"), "Subject: partial\n\nx").unwrap();
        fs::write(md.join(".Sent/cur/1700000003.4.host:2,S"), "Subject: sent\n\nx").unwrap();
        fs::write(md.join("dovecot-uidlist"), "3 V1 N4\n").unwrap();
        let msgs = collect(&md);
        let subjects: Vec<String> =
            msgs.iter().map(|m| String::from_utf8_lossy(&m.raw).lines().next().unwrap_or("").to_owned()).collect();
        assert_eq!(subjects, vec!["Subject: seen", "Subject: new", "Subject: sent"]);
    }

    #[test]
    fn missing_path_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = messages(&dir.path().join("nope")).err().unwrap();
        assert!(err.to_string().contains("cannot read"), "{err}");
    }

    #[test]
    fn empty_mbox_and_trailing_blank_lines_yield_nothing_extra() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.mbox");
        fs::write(&path, "From x Thu Jan  1 00:00:00 2025\n\n\n").unwrap();
        assert!(collect(&path).is_empty());
    }

    #[test]
    fn separator_and_unquote_helpers() {
        assert!(is_separator(b"From a@b Thu Jan  1 00:00:00 2025\n"));
        assert!(!is_separator(b"From here on we agree\n"));
        assert_eq!(unquote_from(b">From x"), b"From x");
        assert_eq!(unquote_from(b">>>From x"), b">>From x");
        assert_eq!(unquote_from(b">Fromage"), b">Fromage");
    }
}
