//! Where a [`SysmonEvent`] becomes Zeek: row formatting for `conn.log` and `dns.log`, the
//! agent identity and orientation rules, uids, escaping, and whole gzip log objects with
//! their header and names.
//!
//! Nothing here does I/O; objects are built in memory and handed to a store.

use crate::event::{Detail, Micros, SysmonEvent};

/// The Zeek log a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogType {
    Conn,
    Dns,
}

impl LogType {
    pub const ALL: [LogType; 2] = [LogType::Conn, LogType::Dns];

    /// The Zeek `#path`, also the first part of object names.
    pub fn as_str(self) -> &'static str {
        match self {
            LogType::Conn => "conn",
            LogType::Dns => "dns",
        }
    }

    pub fn of(event: &SysmonEvent<'_>) -> LogType {
        match event.detail {
            Detail::Connection(_) => LogType::Conn,
            Detail::Dns(_) => LogType::Dns,
        }
    }
}

/// An hour of UTC, as hours since the epoch: the unit objects are cut by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hour(pub i64);

impl Hour {
    pub const MICROS: i64 = 3_600_000_000;

    pub fn of(time: Micros) -> Hour {
        Hour(time.div_euclid(Self::MICROS))
    }

    pub fn start(self) -> Micros {
        self.0 * Self::MICROS
    }

    pub fn end(self) -> Micros {
        (self.0 + 1) * Self::MICROS
    }
}

/// Settings that decide how events become rows; the `[records]` section of the config.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FormatSettings {
    pub full_hostname: bool,
}

/// Settings that cannot be used, naming the offending value.
#[derive(Debug, thiserror::Error)]
#[error("invalid records settings: {0}")]
pub struct FormatError(pub String);

/// Turns events into Zeek rows under one set of [`FormatSettings`].
#[derive(Debug, Clone)]
pub struct Formatter {}

impl Formatter {
    pub fn new(settings: FormatSettings) -> Result<Formatter, FormatError> {
        let _ = settings;
        Ok(Formatter {})
    }

    /// Appends the event's row (conn) or rows (dns, one per host address) to `out`, each
    /// ending in a newline, and returns how many rows it wrote.
    pub fn append_rows(&self, event: &SysmonEvent<'_>, out: &mut Vec<u8>) -> usize {
        let _ = (event, out);
        todo!("Formatter::append_rows")
    }
}

/// One gzip Zeek log object being built: header written at creation, rows appended,
/// `#close` and the gzip trailer written by [`ObjectBuilder::finish`].
pub struct ObjectBuilder {}

impl ObjectBuilder {
    pub fn new(log: LogType, hour: Hour) -> ObjectBuilder {
        let _ = (log, hour);
        todo!("ObjectBuilder::new")
    }

    /// Appends complete rows produced by [`Formatter::append_rows`].
    pub fn append(&mut self, rows: &[u8]) {
        let _ = rows;
        todo!("ObjectBuilder::append")
    }

    /// Compressed bytes so far, for memory accounting.
    pub fn compressed_len(&self) -> usize {
        todo!("ObjectBuilder::compressed_len")
    }

    pub fn finish(self) -> Vec<u8> {
        todo!("ObjectBuilder::finish")
    }
}

/// The object name below the root: `<YYYY-MM-DD>/<path>.<HH>:00:00-<HH+1>:00:00-<writer>.log.gz`.
/// `writer` must already be limited to `[A-Za-z0-9._-]`.
pub fn object_path(log: LogType, hour: Hour, writer: &str) -> String {
    let _ = (log, hour, writer);
    todo!("object_path")
}
