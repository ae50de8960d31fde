//! What `conn.log` and `dns.log` rows share: the event-level columns (agent, process, user,
//! pid), the start and end of every uid, and small column writers.
//!
//! The per-log column order lives in `conn` and `dns`; this file writes values, not rows.

use crate::event::SysmonEvent;

use super::escape;
use super::identity::AgentUuid;
use super::uid::{Uid, UidHasher};
use super::value;

/// One event with what the formatter worked out about its host.
pub(crate) struct Common<'e> {
    pub event: &'e SysmonEvent<'e>,
    pub agent: AgentUuid,
    /// The `agent_hostname` value, before escaping.
    pub hostname: &'e str,
}

impl Common<'_> {
    /// A uid hasher already fed with what every event's identity starts with: the agent
    /// UUID, the computer name as given, and the event time.
    pub fn uid_start(&self, event_id: u8) -> UidHasher {
        let mut hasher = UidHasher::new(event_id);
        hasher.raw(self.agent.uuid.as_bytes());
        hasher.str(&self.event.computer_name);
        hasher.i64(self.event.time);
        hasher
    }

    /// Ends a uid with what every event's identity ends with: the process GUID and pid.
    pub fn uid_finish(&self, mut hasher: UidHasher) -> Uid {
        hasher.opt_str(self.event.process.guid.as_deref());
        hasher.opt_u32(self.event.process.pid);
        hasher.finish()
    }

    /// `agent_uuid` and `agent_hostname`, tab-separated.
    pub fn agent_columns(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.agent.text);
        tab(out);
        escape::field(out, self.hostname.as_bytes());
    }

    /// `process`, `user` and `pid`, tab-separated.
    pub fn process_columns(&self, out: &mut Vec<u8>) {
        let process = &self.event.process;
        opt_string(out, process.image.as_deref());
        tab(out);
        opt_string(out, process.user.as_deref());
        tab(out);
        match process.pid {
            Some(pid) => value::count(out, pid),
            None => unset(out),
        }
    }
}

pub(crate) fn tab(out: &mut Vec<u8>) {
    out.push(b'\t');
}

pub(crate) fn unset(out: &mut Vec<u8>) {
    out.extend_from_slice(escape::UNSET);
}

/// A string column that may be absent: unset when absent, escaped otherwise.
pub(crate) fn opt_string(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => escape::field(out, value.as_bytes()),
        None => unset(out),
    }
}
