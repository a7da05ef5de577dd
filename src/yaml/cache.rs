//! Parsed (and written) YAML kept between the stages of a boot.
//!
//! Every stage reads cloud.cfg, cloud.cfg.d and the instance's
//! cloud-config, and the network stage parses the user-data again and
//! writes the merged cloud-config out again: in a stage that changes
//! nothing, YAML was a quarter of cloudboot's time. A stage
//! ([`crate::boot`]) opens the cache at its start and saves it at its end
//! when it learned something; [`super::load`] and
//! [`super::dump_cloud_config`] look there first. An entry is a question
//! and its answer: a text and its value ([`crate::value::codec`]), or a
//! value (encoded) and its text. Both are pure functions, and an entry is
//! found only by its whole question, so a changed file is a miss, never a
//! stale answer. The file is `/var/lib/cloud/data/cloudboot-yaml-cache`
//! (kept across reboots: a reboot's network stage parses the same
//! user-data again; 0600, as it holds user-data), a report that a power cut
//! may take back to its last version, and bounded: questions up to
//! [`MAX_TEXT`], [`MAX_FILE`] in all, entries this stage did not use
//! dropped first; a file that is not one this module wrote is ignored.

use std::cell::RefCell;
use std::path::Path;

use crate::rootfs::{read_limited, RealFs, Root};
use crate::value::codec::{self, Reader};
use crate::value::Value;

/// Documents longer than this are parsed every time (a large user-data
/// is read once a boot anyway).
pub const MAX_TEXT: usize = 256 * 1024;
/// The whole file at most.
pub const MAX_FILE: usize = 2 * 1024 * 1024;

const MAGIC: &[u8] = b"cloudboot parsed YAML 2\n";

/// What an entry answers.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// [`super::load`]: a text, its value (encoded).
    Parse = 1,
    /// [`super::dump_cloud_config`]: a value (encoded), its text.
    Dump = 2,
}

struct Entry {
    kind: Kind,
    question: Vec<u8>,
    answer: Vec<u8>,
    used: bool,
}

#[derive(Default)]
struct Cache {
    entries: Vec<Entry>,
    /// A document was parsed that the file does not hold yet.
    learned: bool,
}

thread_local! {
    /// The open cache: `None` outside a stage (tools, tests, `plan`), where
    /// [`super::load`] just parses. The thread's own: a stage runs on one
    /// (and tests, each on theirs, do not see each other's).
    static CACHE: RefCell<Option<Cache>> = const { RefCell::new(None) };
}

/// Opens the cache at `path` in `root` (empty if the file is missing or
/// not one [`save`] wrote).
pub fn open(root: &Root, path: &Path) {
    let fs = RealFs { root: root.clone() };
    let entries = read_limited(&fs, path, MAX_FILE)
        .ok()
        .flatten()
        .and_then(|bytes| parse(&bytes))
        .unwrap_or_default();
    CACHE.with_borrow_mut(|c| {
        *c = Some(Cache {
            entries,
            learned: false,
        })
    });
}

fn parse(bytes: &[u8]) -> Option<Vec<Entry>> {
    let mut r = Reader::new(bytes.strip_prefix(MAGIC)?);
    let mut entries = Vec::new();
    while !r.is_done() {
        let kind = match r.length()? {
            1 => Kind::Parse,
            2 => Kind::Dump,
            _ => return None,
        };
        let question = r.bytes()?.to_vec();
        let answer = r.bytes()?.to_vec();
        entries.push(Entry {
            kind,
            question,
            answer,
            used: false,
        });
    }
    Some(entries)
}

/// The answer to `question` if the open cache holds it.
fn answer<T>(kind: Kind, question: &[u8], read: impl FnOnce(&[u8]) -> Option<T>) -> Option<T> {
    CACHE.with_borrow_mut(|c| {
        let entries = &mut c.as_mut()?.entries;
        let entry = entries
            .iter_mut()
            .find(|e| e.kind == kind && e.question == question)?;
        entry.used = true;
        read(&entry.answer)
    })
}

/// Keeps `answer` to `question` in the open cache.
fn keep(kind: Kind, question: &[u8], answer: impl FnOnce() -> Vec<u8>) {
    CACHE.with_borrow_mut(|c| {
        let Some(c) = c else {
            return;
        };
        let known = |e: &Entry| e.kind == kind && e.question == question;
        if question.len() > MAX_TEXT || c.entries.iter().any(known) {
            return;
        }
        let answer = answer();
        // A document of aliases can stand for far more than its text.
        if answer.len() > MAX_FILE / 2 {
            return;
        }
        c.entries.push(Entry {
            kind,
            question: question.to_vec(),
            answer,
            used: true,
        });
        c.learned = true;
    })
}

/// The value of `text` if the open cache holds it.
pub fn parsed(text: &[u8]) -> Option<Value> {
    answer(Kind::Parse, text, codec::decode)
}

/// Keeps `value`, parsed from `text`, in the open cache.
pub fn keep_parsed(text: &[u8], value: &Value) {
    keep(Kind::Parse, text, || {
        let mut encoded = Vec::new();
        codec::encode(value, &mut encoded);
        encoded
    })
}

/// The text `dump` gives for `value`, from the open cache if it holds it,
/// else from `dump` (and kept).
pub fn dumped(value: &Value, dump: impl FnOnce() -> String) -> String {
    if !CACHE.with_borrow(Option::is_some) {
        return dump();
    }
    let mut encoded = Vec::new();
    codec::encode(value, &mut encoded);
    let read = |text: &[u8]| String::from_utf8(text.to_vec()).ok();
    if let Some(text) = answer(Kind::Dump, &encoded, read) {
        return text;
    }
    let text = dump();
    keep(Kind::Dump, &encoded, || text.clone().into_bytes());
    text
}

/// Writes the cache to `path` in `root` if this stage parsed something
/// new, and closes it.
pub fn save(root: &Root, path: &Path) {
    let Some(mut c) = CACHE.with_borrow_mut(Option::take) else {
        return;
    };
    if !c.learned {
        return;
    }
    // This stage's entries first: the next stage is likely to need them.
    c.entries.sort_by_key(|e| !e.used);
    let mut out = MAGIC.to_vec();
    for e in &c.entries {
        let size = e.question.len() + e.answer.len() + 21;
        if out.len() + size > MAX_FILE {
            break;
        }
        out.push(e.kind as u8);
        for part in [&e.question, &e.answer] {
            codec::length(&mut out, part.len());
            out.extend_from_slice(part);
        }
    }
    if let Err(e) = root.write_bytes(path, &out, 0o600, None) {
        tracing::debug!("could not keep parsed YAML in {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_finds_what_the_one_before_parsed_and_a_changed_text_is_parsed_again() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::new(tmp.path());
        let path = Path::new("/var/lib/cloud/data/cloudboot-yaml-cache");
        let doc = b"a: [1, 2]\nb: {c: yes}\n";
        // Nothing open: parsed, nothing kept.
        assert!(parsed(doc).is_none());
        open(&root, path);
        assert!(parsed(doc).is_none());
        let value = crate::yaml::load(doc, "t").unwrap();
        assert!(parsed(doc).is_some(), "load keeps what it parsed");
        let text = crate::yaml::dump_cloud_config(&value);
        save(&root, path);
        assert!(parsed(doc).is_none(), "closed once saved");
        // The next stage.
        open(&root, path);
        assert_eq!(parsed(doc), Some(value.clone()));
        assert!(parsed(b"a: [1, 3]\nb: {c: yes}\n").is_none());
        let not_asked = || -> String { panic!("dumped again") };
        assert_eq!(dumped(&value, not_asked), text);
        save(&root, path);
        // A file that is not the cache's: ignored, not trusted.
        std::fs::write(
            tmp.path().join("var/lib/cloud/data/cloudboot-yaml-cache"),
            b"a: 1\n",
        )
        .unwrap();
        open(&root, path);
        assert!(parsed(doc).is_none());
        assert_eq!(dumped(&value, || "again".into()), "again");
        save(&root, path);
    }
}
