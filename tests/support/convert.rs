//! Runs the real `espy convert` binary on files into a temp Zeek tree and reads back the
//! summary it prints, for tests that compare the summary, the tree and the input.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One finished `espy convert`: its output folder (removed on drop) and what it printed.
pub struct Conversion {
    pub dir: tempfile::TempDir,
    pub stdout: String,
    pub summary: Summary,
}

impl Conversion {
    /// The root of the Zeek tree.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("zeek")
    }
}

/// The numbers of the summary `espy convert` prints, by line.
#[derive(Debug, Default)]
pub struct Summary {
    pub documents: u64,
    pub events: Counts,
    pub rows: Counts,
    pub skipped: Counts,
    pub rejected: Counts,
    pub single_label_queries: u64,
    pub objects: u64,
}

/// A summary line's total and its parts (`4809 (nxlog 4160, winlogbeat6 636)`).
#[derive(Debug, Default)]
pub struct Counts {
    pub total: u64,
    pub parts: BTreeMap<String, u64>,
}

impl Counts {
    pub fn part(&self, name: &str) -> u64 {
        self.parts.get(name).copied().unwrap_or(0)
    }
}

/// Every NDJSON file of the real corpus, `tests/data/corpus/*/*.ndjson`, sorted.
pub fn corpus_files() -> Vec<PathBuf> {
    let root = super::repo_path("tests/data/corpus");
    let mut files = Vec::new();
    for folder in std::fs::read_dir(&root).expect("corpus folder") {
        let folder = folder.expect("corpus entry").path();
        if !folder.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&folder).expect("corpus subfolder") {
            let path = file.expect("corpus file").path();
            if path.extension().is_some_and(|e| e == "ndjson") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Runs `espy convert --out <temp>/zeek <extra> <inputs>`; panics with its output unless it
/// succeeds.
pub fn convert(inputs: &[PathBuf], extra: &[&str]) -> Conversion {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_espy"))
        .arg("convert")
        .arg("--out")
        .arg(dir.path().join("zeek"))
        .args(extra)
        .args(inputs)
        .output()
        .expect("run espy convert");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 summary");
    assert!(
        output.status.success(),
        "espy convert failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = parse_summary(&stdout);
    Conversion {
        dir,
        stdout,
        summary,
    }
}

/// Reads the summary lines by their labels; a label that is missing fails the test.
pub fn parse_summary(stdout: &str) -> Summary {
    let value = |label: &str| -> &str {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(label)?.strip_prefix(':'))
            .unwrap_or_else(|| panic!("no {label:?} in the summary:\n{stdout}"))
            .trim()
    };
    let first_number = |text: &str| -> u64 {
        text.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no number in {text:?}"))
    };
    let counts = |label: &str| -> Counts {
        let text = value(label);
        let mut parts = BTreeMap::new();
        if let Some((_, inner)) = text.split_once('(') {
            for part in inner.trim_end_matches(')').split(", ") {
                let (name, count) = part.rsplit_once(' ').expect("name and count");
                parts.insert(name.to_owned(), count.parse().expect("count"));
            }
        }
        Counts {
            total: first_number(text),
            parts,
        }
    };
    Summary {
        documents: first_number(value("documents read")),
        events: counts("events converted"),
        rows: counts("rows written"),
        skipped: counts("skipped"),
        rejected: counts("rejected"),
        single_label_queries: first_number(value("dns queries without a dot (RITA skips these)")),
        objects: first_number(value("objects written")),
    }
}

/// The non-empty lines of a file.
pub fn non_empty_lines(path: &Path) -> Vec<Vec<u8>> {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map(<[u8]>::to_vec)
        .collect()
}

/// DNS events in the tree: rows of one event share a uid and differ in `id.orig_h`, so an
/// event is a uid's rows divided by its distinct client addresses (identical events, which
/// the corpus may hold twice, share both).
pub fn dns_events(dns_rows: &[&super::zeek_logs::Row]) -> u64 {
    let mut by_uid: BTreeMap<&str, (u64, BTreeSet<&str>)> = BTreeMap::new();
    for row in dns_rows {
        let entry = by_uid.entry(&row.fields["uid"]).or_default();
        entry.0 += 1;
        entry.1.insert(&row.fields["id.orig_h"]);
    }
    by_uid
        .values()
        .map(|(rows, clients)| rows / clients.len() as u64)
        .sum()
}
