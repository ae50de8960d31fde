//! Where a [`SysmonEvent`] becomes Zeek: row formatting for `conn.log` and `dns.log`, the
//! agent identity and orientation rules, uids, escaping, and whole gzip log objects with
//! their header and names.
//!
//! Nothing here does I/O; objects are built in memory and handed to a store. The pieces:
//! `settings` (the `[records]` config, compiled), `identity` (agent UUID and host name),
//! `orientation` (which end is the originator), `uid`, `escape` and `value` (how strings and
//! other values are written), `conn` and `dns` (the rows), `object` (gzip objects, names).

mod conn;
mod dns;
pub mod escape;
mod identity;
mod object;
mod orientation;
mod row;
mod settings;
mod uid;
mod value;

#[cfg(test)]
mod tests;

use crate::event::{Detail, Micros, SysmonEvent};

pub use identity::ESPY_NAMESPACE;
use identity::IdentityCache;
pub use object::{MEMBER_BYTES, ObjectBuilder, object_path};
use row::Common;
use settings::Settings;
pub use settings::{FormatError, FormatSettings, NetworkSettings, default_local_networks};
pub use uid::UID_LEN;

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

/// Turns events into Zeek rows under one set of [`FormatSettings`].
///
/// It is `Send` but not `Sync`: a small cache of recent hosts' agent UUIDs sits behind
/// interior mutability, and each consuming thread owns its formatter (`Clone` gives another).
#[derive(Debug, Clone)]
pub struct Formatter {
    settings: Settings,
    identities: IdentityCache,
}

impl Formatter {
    /// Checks and compiles the settings: local networks, named networks' patterns and ids.
    pub fn new(settings: FormatSettings) -> Result<Formatter, FormatError> {
        Ok(Formatter {
            settings: Settings::compile(&settings)?,
            identities: IdentityCache::default(),
        })
    }

    /// Appends the event's row (conn) or rows (dns, one per host address) to `out`, each
    /// ending in a newline, and returns how many rows it wrote.
    pub fn append_rows(&self, event: &SysmonEvent<'_>, out: &mut Vec<u8>) -> usize {
        let common = Common {
            event,
            agent: self
                .identities
                .get(&self.settings, &event.computer_name, &event.agent),
            hostname: identity::agent_hostname(&self.settings, &event.computer_name),
        };
        match &event.detail {
            Detail::Connection(connection) => {
                conn::append_row(&self.settings, &common, connection, out);
                1
            }
            Detail::Dns(query) => dns::append_rows(&common, query, out),
        }
    }
}
