//! Where rows become objects: rows are gathered by (log type, hour) into gzip objects being
//! built, and finished together under one writer name.
//!
//! Both `convert` and `run` cut their output this way; they differ only in when they finish
//! a set of buckets and how they name the writer.

use std::collections::BTreeMap;

use crate::zeek::{Hour, LogType, ObjectBuilder, object_path};

/// Objects being built, one per (log type, hour).
#[derive(Default)]
pub struct HourBuckets {
    buckets: BTreeMap<(LogType, Hour), Bucket>,
}

struct Bucket {
    object: ObjectBuilder,
    rows: u64,
}

/// A finished object, ready for the store.
#[derive(Debug, Clone)]
pub struct FinishedObject {
    /// Name below the output root.
    pub path: String,
    pub log: LogType,
    pub rows: u64,
    pub bytes: Vec<u8>,
}

impl HourBuckets {
    /// Appends complete rows (as `Formatter::append_rows` wrote them) to the object of
    /// their log type and hour.
    pub fn append(&mut self, log: LogType, hour: Hour, rows: &[u8], count: usize) {
        let bucket = self.buckets.entry((log, hour)).or_insert_with(|| Bucket {
            object: ObjectBuilder::new(log, hour),
            rows: 0,
        });
        bucket.object.append(rows);
        bucket.rows += count as u64;
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// How many objects are being built.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Rows appended so far.
    pub fn rows(&self) -> u64 {
        self.buckets.values().map(|bucket| bucket.rows).sum()
    }

    /// Compressed bytes held so far.
    pub fn compressed_len(&self) -> usize {
        self.buckets
            .values()
            .map(|bucket| bucket.object.compressed_len())
            .sum()
    }

    /// Finishes every object, named with `writer`, in (log type, hour) order.
    pub fn finish(self, writer: &str) -> Vec<FinishedObject> {
        self.buckets
            .into_iter()
            .map(|((log, hour), bucket)| FinishedObject {
                path: object_path(log, hour, writer),
                log,
                rows: bucket.rows,
                bytes: bucket.object.finish(),
            })
            .collect()
    }
}
