//! The messages a replay publishes, prepared before the timed phase so that producing
//! them is a copy: each document becomes a template (its JSON with holes where a
//! synthetic host's name or agent id goes), its key rule and its message timestamp.
//!
//! Synthetic hosts: the input's endpoints, in order of first appearance, are numbered
//! `0..k`; synthetic host `i` (of `--hosts N`) is a clone of endpoint `i mod k`, publishing
//! exactly that endpoint's documents under its own identity: every field naming the
//! endpoint becomes `<first label>-h<i>` plus the rest of the name
//! (`IT001.shire.com` -> `IT001-h00042.shire.com`), and an endpoint agent's `agent.id`
//! becomes a UUID v5 of the seed and `i`. A collector's fields (a Windows Event
//! Collector's `host.name`, its agent) stay as they are, as they would in reality.
//! With `N < k` the endpoints from `N` on are left out.

use std::collections::HashMap;

use memchr::memmem;
use serde_json::Value;
use uuid::Uuid;

use super::document::{self, AGENT_ID, AGENT_NAMES, COMPUTER_NAME, FieldPath, Identity};

/// The namespace of synthetic agent ids; ids are v5 of `<seed>/<host index>` under it.
const SYNTHETIC_AGENT_NAMESPACE: Uuid = Uuid::from_u128(0xbde014d0_34a5_4361_b3fe_867e8085aa59);

/// How documents are turned into messages.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Synthetic hosts to clone the input's endpoints into; `None` publishes as read.
    pub hosts: Option<usize>,
    /// Seed of synthetic agent ids: the same seed gives the same ids on every run.
    pub seed: String,
    /// Whole seconds to move every `UtcTime` and `@timestamp` by.
    pub shift_seconds: Option<i64>,
}

/// What goes into one hole of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    /// A field that named the endpoint; holds the field's original value.
    Name(String),
    /// `agent.id` of an agent running on the endpoint.
    AgentId,
}

/// How a message's key is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyRule {
    /// `agent.id`; `synthetic` when it is the endpoint's own agent, replaced per host.
    AgentId { original: String, synthetic: bool },
    /// The lower-cased computer name, renamed per host.
    ComputerName(String),
    /// No key: librdkafka's partitioner picks a partition.
    None,
}

/// One document, ready to be rendered for any host.
#[derive(Debug, Clone)]
struct Prepared {
    /// The serialised document, holes included.
    bytes: Vec<u8>,
    /// Byte ranges of `bytes` replaced on rendering, in order, with what replaces them.
    holes: Vec<(std::ops::Range<usize>, Slot)>,
    key: KeyRule,
    /// Milliseconds since the epoch for the message timestamp; `None` leaves it to the
    /// producer's clock.
    timestamp: Option<i64>,
    /// The endpoint it belongs to, for cloning; `None` is published once, unchanged.
    endpoint: Option<usize>,
}

/// Counts of what the plan was made from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanStats {
    pub documents: u64,
    /// Documents that are not a JSON object; they are published unchanged, unkeyed.
    pub not_json: u64,
    /// Distinct endpoints in the input.
    pub endpoints: usize,
    /// Documents whose times were shifted.
    pub shifted: u64,
}

/// Every message of one pass over the input, in publishing order via [`Plan::messages`].
#[derive(Debug)]
pub struct Plan {
    documents: Vec<Prepared>,
    hosts: Option<SyntheticHosts>,
    pub stats: PlanStats,
}

#[derive(Debug)]
struct SyntheticHosts {
    count: usize,
    /// Digits of the host index in names: five, or more for 100 000 hosts and up.
    width: usize,
    agent_ids: Vec<String>,
}

/// A template could not be built; a bug rather than bad input, reported with the line.
#[derive(Debug, thiserror::Error)]
#[error("cannot prepare document {index} for synthetic hosts: {reason}")]
pub struct PlanError {
    index: usize,
    reason: String,
}

impl Plan {
    /// Prepares `documents` (one NDJSON line each, without line ending).
    pub fn build(documents: &[Vec<u8>], options: &PlanOptions) -> Result<Plan, PlanError> {
        let mut stats = PlanStats::default();
        let mut endpoints: HashMap<String, usize> = HashMap::new();
        let mut prepared = Vec::with_capacity(documents.len());
        for (index, raw) in documents.iter().enumerate() {
            stats.documents += 1;
            let mut doc = match serde_json::from_slice::<Value>(raw) {
                Ok(doc) if doc.is_object() => doc,
                _ => {
                    stats.not_json += 1;
                    prepared.push(Prepared::verbatim(raw.clone(), KeyRule::None, None, None));
                    continue;
                }
            };
            let shifted = options
                .shift_seconds
                .is_some_and(|seconds| document::shift_times(&mut doc, seconds));
            stats.shifted += u64::from(shifted);
            let identity = Identity::of(&doc);
            let endpoint = identity.endpoint().map(|name| {
                let next = endpoints.len();
                *endpoints.entry(name).or_insert(next)
            });
            let timestamp = document::timestamp(&doc).map(|time| time.timestamp_millis());
            let next = match (options.hosts, endpoint) {
                (Some(_), Some(endpoint)) => {
                    Prepared::template(doc, &identity, timestamp, endpoint)
                        .map_err(|reason| PlanError { index, reason })?
                }
                _ => {
                    let key = match (&identity.agent_id, identity.key()) {
                        (Some(id), _) => KeyRule::AgentId {
                            original: id.clone(),
                            synthetic: false,
                        },
                        (None, Some(name)) => KeyRule::ComputerName(name),
                        (None, None) => KeyRule::None,
                    };
                    // Unchanged documents go out byte for byte as read.
                    let bytes = if shifted {
                        serde_json::to_vec(&doc).map_err(|err| PlanError {
                            index,
                            reason: err.to_string(),
                        })?
                    } else {
                        raw.clone()
                    };
                    Prepared::verbatim(bytes, key, timestamp, None)
                }
            };
            prepared.push(next);
        }
        stats.endpoints = endpoints.len();
        let hosts = options
            .hosts
            .map(|count| SyntheticHosts::new(count, &options.seed));
        Ok(Plan {
            documents: prepared,
            hosts,
            stats,
        })
    }

    /// Messages of one pass, as (document, synthetic host) in publishing order: file
    /// order, and within a document every host cloning its endpoint, so that all hosts
    /// advance through time together and each host's documents keep their order.
    pub fn messages(&self) -> Messages<'_> {
        Messages {
            plan: self,
            document: 0,
            clone: 0,
        }
    }

    /// How many messages one pass publishes.
    pub fn len(&self) -> u64 {
        self.messages().count() as u64
    }

    /// Whether a pass publishes nothing.
    pub fn is_empty(&self) -> bool {
        self.messages().next().is_none()
    }

    /// Distinct hosts the messages name: synthetic hosts, or the input's endpoints.
    pub fn host_count(&self) -> usize {
        match &self.hosts {
            Some(_) if self.stats.endpoints == 0 => 0,
            Some(hosts) => hosts.count,
            None => self.stats.endpoints,
        }
    }

    /// Writes message `(document, host)` into `payload` and `key` (cleared first) and
    /// returns its timestamp; `key` stays empty for an unkeyed message.
    pub fn render(
        &self,
        (document, host): (usize, Option<usize>),
        payload: &mut Vec<u8>,
        key: &mut Vec<u8>,
    ) -> Option<i64> {
        payload.clear();
        key.clear();
        let prepared = &self.documents[document];
        let host = host.zip(self.hosts.as_ref());
        let mut from = 0;
        for (range, slot) in &prepared.holes {
            payload.extend_from_slice(&prepared.bytes[from..range.start]);
            let value = match (slot, host) {
                (Slot::Name(original), Some((index, hosts))) => hosts.name(original, index),
                (Slot::AgentId, Some((index, hosts))) => hosts.agent_ids[index].clone(),
                (Slot::Name(original), None) => original.clone(),
                // Never built without hosts; keep the hole well-formed regardless.
                (Slot::AgentId, None) => String::new(),
            };
            // Serialising a &str cannot fail.
            let _ = serde_json::to_writer(&mut *payload, &value);
            from = range.end;
        }
        payload.extend_from_slice(&prepared.bytes[from..]);
        match (&prepared.key, host) {
            (
                KeyRule::AgentId {
                    synthetic: true, ..
                },
                Some((index, hosts)),
            ) => {
                key.extend_from_slice(hosts.agent_ids[index].as_bytes());
            }
            (KeyRule::AgentId { original, .. }, _) => key.extend_from_slice(original.as_bytes()),
            (KeyRule::ComputerName(name), Some((index, hosts))) => {
                key.extend_from_slice(hosts.name(name, index).as_bytes());
            }
            (KeyRule::ComputerName(name), None) => key.extend_from_slice(name.as_bytes()),
            (KeyRule::None, _) => {}
        }
        prepared.timestamp
    }
}

/// Iterator over one pass of a [`Plan`].
pub struct Messages<'a> {
    plan: &'a Plan,
    document: usize,
    /// Which clone of the current document's endpoint comes next.
    clone: usize,
}

impl Iterator for Messages<'_> {
    type Item = (usize, Option<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let prepared = self.plan.documents.get(self.document)?;
            let (Some(hosts), Some(endpoint)) = (&self.plan.hosts, prepared.endpoint) else {
                self.document += 1;
                return Some((self.document - 1, None));
            };
            let host = endpoint + self.clone * self.plan.stats.endpoints;
            if host < hosts.count {
                self.clone += 1;
                return Some((self.document, Some(host)));
            }
            self.document += 1;
            self.clone = 0;
        }
    }
}

impl Prepared {
    fn verbatim(
        bytes: Vec<u8>,
        key: KeyRule,
        timestamp: Option<i64>,
        endpoint: Option<usize>,
    ) -> Prepared {
        Prepared {
            bytes,
            holes: Vec::new(),
            key,
            timestamp,
            endpoint,
        }
    }

    /// Serialises `doc` with a unique marker string in every field that names the endpoint
    /// or its agent, then records where each marker landed: serde_json decides the
    /// layout, replay only finds its own markers in it.
    fn template(
        mut doc: Value,
        identity: &Identity,
        timestamp: Option<i64>,
        endpoint: usize,
    ) -> Result<Prepared, String> {
        let mut slots: Vec<(FieldPath, Slot)> = Vec::new();
        for path in COMPUTER_NAME {
            if let Some(name) = document::get_str(&doc, path) {
                slots.push((path, Slot::Name(name.to_string())));
            }
        }
        for path in AGENT_NAMES {
            if let Some(name) = document::get_str(&doc, path)
                && identity.names_endpoint(name)
            {
                slots.push((path, Slot::Name(name.to_string())));
            }
        }
        let agent_is_synthetic = identity.agent_id.is_some() && identity.agent_is_endpoint;
        if agent_is_synthetic {
            slots.push((AGENT_ID, Slot::AgentId));
        }
        let key = match (&identity.agent_id, &identity.computer_name) {
            (Some(id), _) => KeyRule::AgentId {
                original: id.clone(),
                synthetic: agent_is_synthetic,
            },
            (None, Some(name)) => KeyRule::ComputerName(name.to_lowercase()),
            (None, None) => KeyRule::None,
        };

        let markers: Vec<String> = (0..slots.len())
            .map(|n| format!("\u{0}espy-replay-slot-{n}\u{0}"))
            .collect();
        for ((path, _), marker) in slots.iter().zip(&markers) {
            if let Some(value) = document::get_mut(&mut doc, path) {
                *value = Value::String(marker.clone());
            }
        }
        let bytes = serde_json::to_vec(&doc).map_err(|err| err.to_string())?;
        let mut holes = Vec::with_capacity(slots.len());
        for ((_, slot), marker) in slots.into_iter().zip(&markers) {
            let needle = serde_json::to_vec(marker).map_err(|err| err.to_string())?;
            let mut found = memmem::find_iter(&bytes, &needle);
            match (found.next(), found.next()) {
                (Some(start), None) => holes.push((start..start + needle.len(), slot)),
                _ => return Err("a field marker is missing or repeated".into()),
            }
        }
        holes.sort_by_key(|(range, _)| range.start);
        Ok(Prepared {
            bytes,
            holes,
            key,
            timestamp,
            endpoint: Some(endpoint),
        })
    }
}

impl SyntheticHosts {
    fn new(count: usize, seed: &str) -> SyntheticHosts {
        let width = count.saturating_sub(1).to_string().len().max(5);
        let agent_ids = (0..count)
            .map(|index| synthetic_agent_id(seed, index).to_string())
            .collect();
        SyntheticHosts {
            count,
            width,
            agent_ids,
        }
    }

    fn name(&self, original: &str, index: usize) -> String {
        synthetic_name(original, index, self.width)
    }
}

/// The agent id of synthetic host `index`: deterministic, distinct per seed and index.
pub fn synthetic_agent_id(seed: &str, index: usize) -> Uuid {
    Uuid::new_v5(
        &SYNTHETIC_AGENT_NAMESPACE,
        format!("{seed}/{index}").as_bytes(),
    )
}

/// `IT001.shire.com` -> `IT001-h00042.shire.com`; a single label gets the suffix at its end.
pub fn synthetic_name(original: &str, index: usize, width: usize) -> String {
    let (first, rest) = original.split_at(original.find('.').unwrap_or(original.len()));
    format!("{first}-h{index:0width$}{rest}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn line(doc: Value) -> Vec<u8> {
        serde_json::to_vec(&doc).unwrap()
    }

    fn render(plan: &Plan, message: (usize, Option<usize>)) -> (Value, String) {
        let (mut payload, mut key) = (Vec::new(), Vec::new());
        plan.render(message, &mut payload, &mut key);
        (
            serde_json::from_slice(&payload).unwrap(),
            String::from_utf8(key).unwrap(),
        )
    }

    #[test]
    fn synthetic_names_keep_the_domain_and_grow_the_index_when_needed() {
        assert_eq!(
            synthetic_name("IT001.shire.com", 42, 5),
            "IT001-h00042.shire.com"
        );
        assert_eq!(synthetic_name("WORKSTATION5", 7, 5), "WORKSTATION5-h00007");
        assert_eq!(
            SyntheticHosts::new(250_000, "s").name("a.b", 3),
            "a-h000003.b"
        );
    }

    #[test]
    fn without_hosts_documents_are_published_byte_for_byte() {
        let raw = br#"{"Hostname":"HFDC01.shire.com",  "@timestamp":"2019-12-05T04:47:40.123Z"}"#;

        let plan = Plan::build(&[raw.to_vec()], &PlanOptions::default()).unwrap();
        let (mut payload, mut key) = (Vec::new(), Vec::new());
        let timestamp = plan.render((0, None), &mut payload, &mut key);

        assert_eq!(payload, raw);
        assert_eq!(key, b"hfdc01.shire.com");
        assert_eq!(timestamp, Some(1_575_521_260_123));
    }

    #[test]
    fn each_synthetic_host_clones_one_endpoint_and_renames_only_endpoint_fields() {
        let docs = [
            line(
                json!({"computer_name": "IT001.shire.com", "host": {"name": "WECserver"},
                "event_data": {"Image": "IT001.exe"}}),
            ),
            line(json!({"computer_name": "HR001.shire.com", "host": {"name": "WECserver"}})),
            line(json!({"computer_name": "IT001.shire.com", "host": {"name": "WECserver"}})),
        ];
        let options = PlanOptions {
            hosts: Some(3),
            seed: "s".into(),
            shift_seconds: None,
        };

        let plan = Plan::build(&docs, &options).unwrap();
        let messages: Vec<_> = plan.messages().collect();

        // Hosts 0 and 2 clone IT001 (endpoint 0), host 1 clones HR001.
        assert_eq!(
            messages,
            [
                (0, Some(0)),
                (0, Some(2)),
                (1, Some(1)),
                (2, Some(0)),
                (2, Some(2))
            ]
        );
        let (doc, key) = render(&plan, (0, Some(2)));
        assert_eq!(doc["computer_name"], "IT001-h00002.shire.com");
        assert_eq!(
            doc["host"]["name"], "WECserver",
            "the collector keeps its name"
        );
        assert_eq!(doc["event_data"]["Image"], "IT001.exe");
        assert_eq!(key, "it001-h00002.shire.com");
    }

    #[test]
    fn an_endpoint_agent_gets_a_synthetic_id_and_key_per_host() {
        let doc = line(
            json!({"winlog": {"computer_name": "WS5.corp"}, "host": {"name": "ws5"},
            "agent": {"id": "0f6a5d9e-0000-4000-8000-000000000001", "name": "WS5"}}),
        );
        let options = PlanOptions {
            hosts: Some(2),
            seed: "seed".into(),
            shift_seconds: None,
        };

        let plan = Plan::build(&[doc], &options).unwrap();
        let (doc, key) = render(&plan, (0, Some(1)));

        let id = synthetic_agent_id("seed", 1).to_string();
        assert_eq!(doc["agent"]["id"], id.as_str());
        assert_eq!(key, id);
        assert_eq!(doc["agent"]["name"], "WS5-h00001");
        assert_eq!(doc["host"]["name"], "ws5-h00001");
        assert_eq!(doc["winlog"]["computer_name"], "WS5-h00001.corp");
    }

    #[test]
    fn fewer_hosts_than_endpoints_leave_the_later_endpoints_out() {
        let docs = [
            line(json!({"Hostname": "A"})),
            line(json!({"Hostname": "B"})),
            b"not json".to_vec(),
        ];
        let options = PlanOptions {
            hosts: Some(1),
            ..PlanOptions::default()
        };

        let plan = Plan::build(&docs, &options).unwrap();

        assert_eq!(
            plan.messages().collect::<Vec<_>>(),
            [(0, Some(0)), (2, None)]
        );
        assert_eq!(plan.stats.not_json, 1);
    }
}
