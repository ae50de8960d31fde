//! What Winlogbeat 7 and later add to every event about the machine it runs on: `agent.*`
//! and the `host.ip` list of `add_host_metadata`.
//!
//! These describe the shipper, which is the endpoint only when its host name matches the
//! computer name; deciding that (and the agent UUID) is `zeek`'s job, so values pass
//! through as given. Winlogbeat 6 and NXLog documents name only their collector, and their
//! extractors do not call this.

use std::net::IpAddr;

use super::document::{AgentFields, HostFields, Scalar};
use super::values::{optional_text, parse_ip};
use crate::event::Agent;

/// `agent.id`, and `agent.hostname` or else `agent.name` (Winlogbeat 8 and later have only
/// `agent.name`). Empty strings count as absent.
pub(crate) fn agent(fields: Option<AgentFields<'_>>) -> Agent<'_> {
    let Some(fields) = fields else {
        return Agent::default();
    };
    Agent {
        id: optional_text(fields.id),
        hostname: optional_text(fields.hostname).or_else(|| optional_text(fields.name)),
    }
}

/// The addresses in `host.ip`, in document order, without the entries that are not
/// addresses (an unusable entry costs a DNS row, never the event).
pub(crate) fn host_ips(fields: Option<HostFields<'_>>) -> Vec<IpAddr> {
    let Some(fields) = fields else {
        return Vec::new();
    };
    fields
        .ip
        .iter()
        .filter_map(|entry| match entry {
            Scalar::Str(text) => parse_ip(text),
            _ => None,
        })
        .collect()
}
