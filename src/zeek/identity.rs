//! Who an event is from, as RITA will group it: the agent UUID (the shipping agent's own id
//! when the agent is the endpoint, a named network's, or one derived from the computer
//! name) and the `agent_hostname` column.
//!
//! A small cache of recent hosts keeps the UUID v5 (SHA-1) and pattern matching off the hot
//! path; it stores only what pure functions of the event computed, so it cannot change output.

use std::cell::RefCell;

use uuid::Uuid;

use super::settings::Settings;
use crate::event::Agent;

/// espy's UUID v5 namespace, for UUIDs derived from computer names and network names.
pub const ESPY_NAMESPACE: Uuid = Uuid::from_u128(0x6f8794fe_9130_5e2c_9369_2b552cfdb8cf);

/// The agent UUID of one event, binary for uids and text for the column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AgentUuid {
    pub uuid: Uuid,
    /// Hyphenated, lower case: how RITA and Winlogbeat write UUIDs.
    pub text: [u8; 36],
}

impl AgentUuid {
    fn new(uuid: Uuid) -> AgentUuid {
        let mut text = [0u8; 36];
        uuid.hyphenated().encode_lower(&mut text);
        AgentUuid { uuid, text }
    }
}

/// Decides an event's agent UUID under the configured named networks:
///
/// 1. The first named network that claims the host by computer-name pattern, or the agent
///    by id. An agent id claims every host that agent forwards, so that a collector serving
///    one office can put that office in one network.
/// 2. `agent.id`, when it is a UUID and the agent is the endpoint: `agent.hostname` (or
///    `agent.name`) has the computer name's first label, compared case-insensitively. The
///    nil UUID never counts: a zeroed id would merge unrelated hosts in RITA.
/// 3. UUID v5 of the lower-cased full computer name under [`ESPY_NAMESPACE`].
///
/// Lower-casing is ASCII only, here and in the comparison: Unicode case mappings can change
/// between Unicode versions, and a host's UUID must not. A Windows computer name is ASCII
/// in practice (NetBIOS and DNS rules), and one host reports its name in one form anyway.
pub(crate) fn resolve(settings: &Settings, computer_name: &str, agent: &Agent<'_>) -> AgentUuid {
    let agent_id = agent.id.as_deref();
    if settings.has_networks()
        && let Some(uuid) = settings.network_of(computer_name, agent_id)
    {
        return AgentUuid::new(uuid);
    }
    if let Some(id) = agent_id
        && let Ok(uuid) = Uuid::try_parse(id.trim())
        && !uuid.is_nil()
        && agent_is_endpoint(computer_name, agent)
    {
        return AgentUuid::new(uuid);
    }
    AgentUuid::new(Uuid::new_v5(
        &ESPY_NAMESPACE,
        computer_name.to_ascii_lowercase().as_bytes(),
    ))
}

/// Whether the shipping agent runs on the endpoint itself rather than on a collector that
/// forwards many endpoints: its host name has the computer name's first label.
pub(crate) fn agent_is_endpoint(computer_name: &str, agent: &Agent<'_>) -> bool {
    agent
        .hostname
        .as_deref()
        .is_some_and(|agent_host| same_host(agent_host, computer_name))
}

/// Whether two host names have the same, non-empty first label, ignoring ASCII case.
fn same_host(a: &str, b: &str) -> bool {
    let (a, b) = (first_label(a), first_label(b));
    !a.is_empty() && a.eq_ignore_ascii_case(b)
}

/// The host name up to its first dot.
pub(crate) fn first_label(name: &str) -> &str {
    name.split_once('.').map_or(name, |(label, _)| label)
}

/// The `agent_hostname` column's value, before escaping.
pub(crate) fn agent_hostname<'a>(settings: &Settings, computer_name: &'a str) -> &'a str {
    if settings.full_hostname {
        computer_name
    } else {
        first_label(computer_name)
    }
}

/// An agent id as configured or as shipped, in the form they are compared in: a UUID in
/// any of its spellings (braces, upper case, no hyphens) as its hyphenated lower-case form,
/// anything else as given, lower-cased.
pub(crate) fn normalised_agent_id(id: &str) -> String {
    let id = id.trim();
    match Uuid::try_parse(id) {
        Ok(uuid) => uuid.hyphenated().to_string(),
        Err(_) => id.to_ascii_lowercase(),
    }
}

/// How many recent (computer name, agent) pairs the cache remembers. A partition's
/// messages come from the hosts keyed to it, in runs; a handful of entries catches the runs
/// without a hash map.
const CACHE_ENTRIES: usize = 16;

/// Recently resolved hosts. Interior mutability keeps `Formatter::append_rows` at `&self`;
/// a formatter is used by one thread at a time (it is `Send`, not `Sync`), and no borrow
/// outlives one call of [`IdentityCache::get`].
#[derive(Debug, Clone, Default)]
pub(crate) struct IdentityCache {
    entries: RefCell<Entries>,
}

#[derive(Debug, Clone, Default)]
struct Entries {
    slots: Vec<Entry>,
    next: usize,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    computer_name: String,
    agent_id: Option<String>,
    agent_hostname: Option<String>,
    uuid: Option<AgentUuid>,
}

impl Entry {
    fn is(&self, computer_name: &str, agent: &Agent<'_>) -> bool {
        self.computer_name == computer_name
            && self.agent_id.as_deref() == agent.id.as_deref()
            && self.agent_hostname.as_deref() == agent.hostname.as_deref()
    }

    fn store(&mut self, computer_name: &str, agent: &Agent<'_>, uuid: AgentUuid) {
        fn set(slot: &mut Option<String>, value: Option<&str>) {
            match (slot.as_mut(), value) {
                (Some(text), Some(value)) => {
                    text.clear();
                    text.push_str(value);
                }
                (_, value) => *slot = value.map(str::to_owned),
            }
        }
        self.computer_name.clear();
        self.computer_name.push_str(computer_name);
        set(&mut self.agent_id, agent.id.as_deref());
        set(&mut self.agent_hostname, agent.hostname.as_deref());
        self.uuid = Some(uuid);
    }
}

impl IdentityCache {
    /// The agent UUID of an event, from the cache or resolved and remembered.
    pub fn get(&self, settings: &Settings, computer_name: &str, agent: &Agent<'_>) -> AgentUuid {
        let mut entries = self.entries.borrow_mut();
        if let Some(uuid) = entries
            .slots
            .iter()
            .find(|entry| entry.is(computer_name, agent))
            .and_then(|entry| entry.uuid)
        {
            return uuid;
        }
        let uuid = resolve(settings, computer_name, agent);
        let Entries { slots, next } = &mut *entries;
        if slots.len() < CACHE_ENTRIES {
            slots.push(Entry::default());
        }
        let slot = *next % slots.len();
        slots[slot].store(computer_name, agent, uuid);
        *next = (slot + 1) % CACHE_ENTRIES;
        uuid
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::zeek::settings::{FormatSettings, NetworkSettings, network_uuid};

    const AGENT: &str = "0a8e3c5e-56a4-4a6b-9bd7-3f1d2e4c5b6a";

    fn agent(id: Option<&str>, hostname: Option<&str>) -> Agent<'static> {
        Agent {
            id: id.map(|s| Cow::Owned(s.to_string())),
            hostname: hostname.map(|s| Cow::Owned(s.to_string())),
        }
    }

    fn defaults() -> Settings {
        Settings::compile(&FormatSettings::default()).unwrap()
    }

    fn text(uuid: AgentUuid) -> String {
        String::from_utf8(uuid.text.to_vec()).unwrap()
    }

    #[test]
    fn the_agents_own_id_is_used_when_the_agent_is_the_endpoint() {
        let uuid = resolve(
            &defaults(),
            "IT001.shire.com",
            &agent(Some(AGENT), Some("it001")),
        );
        assert_eq!(text(uuid), AGENT);
        // Upper case, braces: still that UUID, written the usual way.
        let braced = format!("{{{}}}", AGENT.to_uppercase());
        let uuid = resolve(
            &defaults(),
            "it001",
            &agent(Some(&braced), Some("IT001.shire.com")),
        );
        assert_eq!(text(uuid), AGENT);
    }

    #[test]
    fn a_collector_agent_gets_a_uuid_derived_from_the_computer_name() {
        let uuid = resolve(
            &defaults(),
            "IT001.shire.com",
            &agent(Some(AGENT), Some("WECserver")),
        );
        // uuid.uuid5(uuid.UUID("6f8794fe-9130-5e2c-9369-2b552cfdb8cf"), "it001.shire.com")
        assert_eq!(text(uuid), "016efa53-5921-5a88-b246-b2eaacbdeda0");
        assert_eq!(
            uuid,
            resolve(&defaults(), "it001.SHIRE.com", &agent(None, None))
        );
    }

    #[test]
    fn an_agent_id_that_is_not_a_uuid_or_is_nil_is_not_used() {
        let derived = resolve(&defaults(), "IT001.shire.com", &agent(None, None));
        for id in ["not-a-uuid", "", "00000000-0000-0000-0000-000000000000"] {
            let uuid = resolve(
                &defaults(),
                "IT001.shire.com",
                &agent(Some(id), Some("IT001")),
            );
            assert_eq!(uuid, derived, "{id:?}");
        }
        // No host name to compare: the agent cannot be shown to be the endpoint.
        let uuid = resolve(&defaults(), "IT001.shire.com", &agent(Some(AGENT), None));
        assert_eq!(uuid, derived);
        // An empty first label matches nothing.
        let uuid = resolve(
            &defaults(),
            ".shire.com",
            &agent(Some(AGENT), Some(".other")),
        );
        assert_ne!(text(uuid), AGENT);
    }

    #[test]
    fn named_networks_claim_hosts_by_pattern_and_agents_by_id() {
        let settings = Settings::compile(&FormatSettings {
            networks: vec![
                NetworkSettings {
                    name: "hq".into(),
                    hosts: vec!["*.HQ.example.com".into()],
                    agents: vec![],
                },
                NetworkSettings {
                    name: "branch".into(),
                    hosts: vec![],
                    agents: vec![AGENT.to_uppercase()],
                },
            ],
            ..FormatSettings::default()
        })
        .unwrap();
        // uuid.uuid5(namespace, "network:hq")
        assert_eq!(
            text(AgentUuid::new(network_uuid("hq"))),
            "724eecad-ee44-58b1-b1b9-21b1c514c4d3"
        );
        let hq = resolve(
            &settings,
            "pc7.hq.EXAMPLE.com",
            &agent(Some(AGENT), Some("pc7")),
        );
        assert_eq!(hq.uuid, network_uuid("hq"));
        let branch = resolve(
            &settings,
            "till3.shop",
            &agent(Some(AGENT), Some("collector")),
        );
        assert_eq!(branch.uuid, network_uuid("branch"));
        let own = resolve(&settings, "laptop", &agent(None, None));
        assert_eq!(own, resolve(&defaults(), "laptop", &agent(None, None)));
    }

    #[test]
    fn agent_hostname_is_the_first_label_as_given_unless_full_names_are_kept() {
        assert_eq!(agent_hostname(&defaults(), "IT001.shire.com"), "IT001");
        assert_eq!(agent_hostname(&defaults(), "WORKSTATION5"), "WORKSTATION5");
        let full = Settings::compile(&FormatSettings {
            full_hostname: true,
            ..FormatSettings::default()
        })
        .unwrap();
        assert_eq!(agent_hostname(&full, "IT001.shire.com"), "IT001.shire.com");
    }

    #[test]
    fn the_cache_answers_as_resolving_does_for_every_host_it_sees() {
        let settings = defaults();
        let cache = IdentityCache::default();
        let hosts: Vec<(String, Agent<'static>)> = (0..40)
            .map(|i| {
                let name = format!("host{}.example.com", i % 23);
                let endpoint = if i % 3 == 0 {
                    Some(format!("HOST{}", i % 23))
                } else {
                    None
                };
                (name, agent(Some(AGENT), endpoint.as_deref()))
            })
            .collect();
        for _ in 0..3 {
            for (name, agent) in &hosts {
                assert_eq!(
                    cache.get(&settings, name, agent),
                    resolve(&settings, name, agent)
                );
            }
        }
    }
}
