//! Test documents for the `input` tests: real corpus lines and hand-written fixtures, read
//! from `tests/data/`, and a fixed reference time so that results never depend on the clock.

// Each test binary uses only some helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use espy::event::{Micros, SysmonEvent};
use espy::input::{Decoded, Reject, Skip, decode};

/// 2025-01-01T00:00:00Z: later than every document in the test data.
pub const REFERENCE: Micros = 1_735_689_600_000_000;

pub fn data_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(relative)
}

/// The non-empty lines of a file under `tests/data/`.
pub fn lines(relative: &str) -> Vec<Vec<u8>> {
    let path = data_path(relative);
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Line `number` (1-based) of a file under `tests/data/`.
pub fn line(relative: &str, number: usize) -> Vec<u8> {
    lines(relative)
        .into_iter()
        .nth(number - 1)
        .unwrap_or_else(|| panic!("{relative} has no line {number}"))
}

/// Every file of a folder under `tests/data/` ending in `.ndjson`, relative, sorted.
pub fn ndjson_files(folder: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(data_path(folder))
        .expect("data folder")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.ends_with(".ndjson")
                .then(|| format!("{folder}/{name}"))
        })
        .collect();
    files.sort();
    files
}

pub fn expect_event(document: &[u8]) -> SysmonEvent<'_> {
    match decode(document, REFERENCE) {
        Decoded::Event(event) => event,
        other => panic!("expected an event, got {other:?}"),
    }
}

pub fn expect_reject(document: &[u8]) -> Reject {
    match decode(document, REFERENCE) {
        Decoded::Rejected(reject) => reject,
        other => panic!("expected a reject, got {other:?}"),
    }
}

pub fn expect_skip(document: &[u8]) -> Skip {
    match decode(document, REFERENCE) {
        Decoded::Skipped(skip) => skip,
        other => panic!("expected a skip, got {other:?}"),
    }
}

/// Microseconds of an RFC 3339 time, through chrono: an independent clock for the tests.
pub fn micros(rfc3339: &str) -> Micros {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .expect("test time")
        .timestamp_micros()
}

/// The document with one JSON value replaced (or removed, for `None`) at a path of object
/// keys: real documents with one broken field.
pub fn with_value(document: &[u8], path: &[&str], value: Option<serde_json::Value>) -> Vec<u8> {
    let mut root: serde_json::Value = serde_json::from_slice(document).expect("test document");
    let (last, parents) = path.split_last().expect("a path");
    let mut object = &mut root;
    for key in parents {
        object = object.get_mut(*key).unwrap_or_else(|| panic!("no {key}"));
    }
    let map = object.as_object_mut().expect("an object");
    match value {
        Some(value) => {
            map.insert((*last).to_owned(), value);
        }
        None => {
            map.remove(*last);
        }
    }
    serde_json::to_vec(&root).expect("serialise")
}
