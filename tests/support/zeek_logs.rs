//! Reads Zeek trees as a user's tools would, and computes what a set of documents must
//! yield, so tests compare output with input as multisets of (log, uid, orig address).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use espy::input::{Decoded, decode};
use espy::zeek::{FormatSettings, Formatter, LogType};

/// One data row of a Zeek log object.
#[derive(Debug, Clone)]
pub struct Row {
    /// Object name below the root, e.g. `2019-12-05/conn.04:00:00-05:00:00-w.log.gz`.
    pub object: String,
    pub log: String,
    pub fields: BTreeMap<String, String>,
    pub line: String,
}

impl Row {
    /// (log type, uid, orig address): the identity PRODUCT.md counts rows by.
    pub fn key(&self) -> (String, String, String) {
        (
            self.log.clone(),
            self.fields["uid"].clone(),
            self.fields["id.orig_h"].clone(),
        )
    }
}

/// Every `.log.gz` object under `root` (bookkeeping under `_espy` excluded), by name.
pub fn objects(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if entry.file_name() != "_espy" {
                    pending.push(path);
                }
            } else if path.to_string_lossy().ends_with(".log.gz") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The text of one gzip object.
pub fn read_object(path: &Path) -> String {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("gunzip {}: {e}", path.display()));
    text
}

/// Every data row under `root`.
pub fn rows(root: &Path) -> Vec<Row> {
    objects(root)
        .iter()
        .flat_map(|path| object_rows(root, path))
        .collect()
}

/// The data rows of the object at `path`, named by its path below `root`.
pub fn object_rows(root: &Path, path: &Path) -> Vec<Row> {
    let object = path
        .strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned();
    let text = read_object(path);
    let mut rows = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut log = String::new();
    for line in text.lines() {
        if let Some(fields) = line.strip_prefix("#fields\t") {
            names = fields.split('\t').map(str::to_string).collect();
        } else if let Some(path) = line.strip_prefix("#path\t") {
            log = path.to_string();
        } else if !line.starts_with('#') {
            let fields = names
                .iter()
                .cloned()
                .zip(line.split('\t').map(str::to_string))
                .collect();
            rows.push(Row {
                object: object.clone(),
                log: log.clone(),
                fields,
                line: line.to_string(),
            });
        }
    }
    rows
}

/// The sorted multiset of row keys.
pub fn keys(rows: &[Row]) -> Vec<(String, String, String)> {
    let mut keys: Vec<_> = rows.iter().map(Row::key).collect();
    keys.sort();
    keys
}

/// What the documents must yield, computed with espy's own library: the sorted multiset
/// of (log, uid, orig address), one entry per row.
pub fn expected_keys(documents: &[Vec<u8>]) -> Vec<(String, String, String)> {
    let formatter = Formatter::new(FormatSettings::default()).expect("default settings");
    let now = chrono::Utc::now().timestamp_micros();
    let mut keys = Vec::new();
    let mut rows = Vec::new();
    for document in documents {
        if let Decoded::Event(event) = decode(document, now) {
            rows.clear();
            formatter.append_rows(&event, &mut rows);
            let log = LogType::of(&event).as_str();
            for line in String::from_utf8_lossy(&rows).lines() {
                let fields: Vec<&str> = line.split('\t').collect();
                keys.push((
                    log.to_string(),
                    fields[1].to_string(),
                    fields[2].to_string(),
                ));
            }
        }
    }
    keys.sort();
    keys
}

/// Lines of the test corpus file `tests/data/corpus/<name>`.
pub fn corpus(name: &str) -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/corpus")
        .join(name);
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}
