//! The `[records]` settings as written in the config file, and their compiled form: local
//! networks as masks, named networks as one case-insensitive glob set and an agent table.
//!
//! Validation happens once, in [`Settings::compile`]; nothing here looks at events beyond
//! answering "is this address local" and "which named network is this host in".

use std::collections::HashMap;
use std::net::IpAddr;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use ipnet::IpNet;
use uuid::Uuid;

use super::identity::{ESPY_NAMESPACE, normalised_agent_id};

/// Settings that decide how events become rows; the `[records]` section of the config.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FormatSettings {
    /// Networks counted as local for conn.log `local_orig` / `local_resp`, in CIDR form;
    /// a bare address counts as a single-host network.
    /// Example: `["10.0.0.0/8", "fc00::/7"]`. Default: [`default_local_networks`].
    pub local_networks: Vec<String>,
    /// `false` (the default): `agent_hostname` is the first label of the computer name
    /// (`IT001` for `IT001.shire.com`); `true` keeps the full name.
    pub full_hostname: bool,
    /// Named networks whose hosts share one `agent_uuid`, so that RITA treats their private
    /// addresses as one network. The first network that claims a host wins.
    pub networks: Vec<NetworkSettings>,
}

impl Default for FormatSettings {
    fn default() -> Self {
        FormatSettings {
            local_networks: default_local_networks(),
            full_hostname: false,
            networks: Vec::new(),
        }
    }
}

/// RFC 1918 private networks, RFC 6598 shared address space (carrier-grade NAT), RFC 4193
/// unique local IPv6, IPv4 and IPv6 link-local (RFC 3927, RFC 4291) and loopback: the
/// networks a remote worker's own traffic is local to.
pub fn default_local_networks() -> Vec<String> {
    [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
        "169.254.0.0/16",
        "fe80::/10",
        "127.0.0.0/8",
        "::1/128",
    ]
    .map(String::from)
    .to_vec()
}

/// One named network: `[[records.networks]]`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSettings {
    /// The network's name; its agent UUID is UUID v5 of `network:<name>` under espy's
    /// namespace. Example: `"headquarters"`.
    pub name: String,
    /// Glob patterns matched against the full computer name, case-insensitively.
    /// Example: `["*.hq.example.com", "HQ-*"]`.
    pub hosts: Vec<String>,
    /// Agent ids (`agent.id`) whose events all belong to this network, whatever host they
    /// name: a Windows Event Collector that forwards one office, for example.
    pub agents: Vec<String>,
}

/// Settings that cannot be used, naming the offending value.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("records.local_networks: {value:?} is neither a network (10.0.0.0/8) nor an address")]
    LocalNetwork { value: String },
    #[error("records.networks[{index}]: the name is empty")]
    EmptyNetworkName { index: usize },
    #[error("records.networks: the name {name:?} is given twice")]
    DuplicateNetworkName { name: String },
    #[error("records.networks {name:?}: neither hosts nor agents are given")]
    EmptyNetwork { name: String },
    #[error("records.networks {name:?}: host pattern {pattern:?} is not a glob: {reason}")]
    HostPattern {
        name: String,
        pattern: String,
        reason: String,
    },
    #[error("records.networks: agent {agent:?} is in both {first:?} and {second:?}")]
    AgentInTwoNetworks {
        agent: String,
        first: String,
        second: String,
    },
    #[error("records.networks: the host patterns cannot be compiled: {reason}")]
    HostPatterns { reason: String },
}

/// [`FormatSettings`] checked and compiled for the hot path.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub full_hostname: bool,
    local_v4: Vec<(u32, u32)>,
    local_v6: Vec<(u128, u128)>,
    /// The agent UUID of each named network, in configuration order.
    network_uuids: Vec<Uuid>,
    host_patterns: GlobSet,
    /// For each pattern of `host_patterns`, the index of its network.
    pattern_network: Vec<usize>,
    /// Normalised agent id to network index.
    agent_network: HashMap<String, usize>,
}

impl Settings {
    pub fn compile(settings: &FormatSettings) -> Result<Settings, FormatError> {
        let mut local_v4 = Vec::new();
        let mut local_v6 = Vec::new();
        for value in &settings.local_networks {
            match parse_network(value) {
                Some(IpNet::V4(net)) => {
                    local_v4.push((net.network().to_bits(), net.netmask().to_bits()))
                }
                Some(IpNet::V6(net)) => {
                    local_v6.push((net.network().to_bits(), net.netmask().to_bits()))
                }
                None => {
                    return Err(FormatError::LocalNetwork {
                        value: value.clone(),
                    });
                }
            }
        }

        let mut network_uuids = Vec::new();
        let mut patterns = GlobSetBuilder::new();
        let mut pattern_network = Vec::new();
        let mut agent_network: HashMap<String, usize> = HashMap::new();
        for (index, network) in settings.networks.iter().enumerate() {
            if network.name.is_empty() {
                return Err(FormatError::EmptyNetworkName { index });
            }
            if settings.networks[..index]
                .iter()
                .any(|n| n.name == network.name)
            {
                return Err(FormatError::DuplicateNetworkName {
                    name: network.name.clone(),
                });
            }
            if network.hosts.is_empty() && network.agents.is_empty() {
                return Err(FormatError::EmptyNetwork {
                    name: network.name.clone(),
                });
            }
            network_uuids.push(network_uuid(&network.name));
            for pattern in &network.hosts {
                let glob = GlobBuilder::new(pattern)
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| FormatError::HostPattern {
                        name: network.name.clone(),
                        pattern: pattern.clone(),
                        reason: e.kind().to_string(),
                    })?;
                patterns.add(glob);
                pattern_network.push(index);
            }
            for agent in &network.agents {
                let key = normalised_agent_id(agent);
                if let Some(&first) = agent_network.get(&key) {
                    if first != index {
                        return Err(FormatError::AgentInTwoNetworks {
                            agent: agent.clone(),
                            first: settings.networks[first].name.clone(),
                            second: network.name.clone(),
                        });
                    }
                } else {
                    agent_network.insert(key, index);
                }
            }
        }
        let host_patterns = patterns.build().map_err(|e| FormatError::HostPatterns {
            reason: e.to_string(),
        })?;

        Ok(Settings {
            full_hostname: settings.full_hostname,
            local_v4,
            local_v6,
            network_uuids,
            host_patterns,
            pattern_network,
            agent_network,
        })
    }

    /// Whether `ip` (already canonical: IPv4-mapped addresses unmapped) is in a local network.
    pub fn is_local(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => {
                let bits = v4.to_bits();
                self.local_v4.iter().any(|&(net, mask)| bits & mask == net)
            }
            IpAddr::V6(v6) => {
                let bits = v6.to_bits();
                self.local_v6.iter().any(|&(net, mask)| bits & mask == net)
            }
        }
    }

    pub fn has_networks(&self) -> bool {
        !self.network_uuids.is_empty()
    }

    /// The UUID of the first named network that claims this host, by computer-name pattern
    /// or by agent id.
    pub fn network_of(&self, computer_name: &str, agent_id: Option<&str>) -> Option<Uuid> {
        let by_host = if self.pattern_network.is_empty() {
            None
        } else {
            self.host_patterns
                .matches(computer_name)
                .into_iter()
                .map(|pattern| self.pattern_network[pattern])
                .min()
        };
        let by_agent = agent_id
            .filter(|_| !self.agent_network.is_empty())
            .and_then(|id| self.agent_network.get(&normalised_agent_id(id)).copied());
        let index = match (by_host, by_agent) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(self.network_uuids[index])
    }
}

/// A CIDR network, or a bare address as a single-host network. Host bits are cleared.
fn parse_network(value: &str) -> Option<IpNet> {
    let value = value.trim();
    if let Ok(net) = value.parse::<IpNet>() {
        return Some(net.trunc());
    }
    value.parse::<IpAddr>().ok().map(IpNet::from)
}

/// The agent UUID shared by a named network's hosts.
pub(crate) fn network_uuid(name: &str) -> Uuid {
    let mut key = String::with_capacity(8 + name.len());
    key.push_str("network:");
    key.push_str(name);
    Uuid::new_v5(&ESPY_NAMESPACE, key.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(name: &str, hosts: &[&str], agents: &[&str]) -> NetworkSettings {
        NetworkSettings {
            name: name.into(),
            hosts: hosts.iter().map(|s| s.to_string()).collect(),
            agents: agents.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn compile(networks: Vec<NetworkSettings>) -> Result<Settings, FormatError> {
        Settings::compile(&FormatSettings {
            networks,
            ..FormatSettings::default()
        })
    }

    #[test]
    fn default_local_networks_cover_private_cgnat_link_local_and_loopback() {
        let settings = Settings::compile(&FormatSettings::default()).unwrap();
        for local in [
            "10.1.2.3",
            "172.31.255.255",
            "192.168.0.1",
            "100.64.0.1",
            "169.254.9.9",
            "127.0.0.1",
            "fd00::1",
            "fe80::1",
            "::1",
        ] {
            assert!(settings.is_local(local.parse().unwrap()), "{local}");
        }
        for remote in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2001:db8::1",
            "::2",
            "ff02::1",
        ] {
            assert!(!settings.is_local(remote.parse().unwrap()), "{remote}");
        }
    }

    #[test]
    fn the_example_config_records_section_parses_and_compiles() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/espy.toml"))
                .unwrap();
        let config: toml::Table = toml::from_str(&text).unwrap();
        let records: FormatSettings = config["records"].clone().try_into().unwrap();
        assert_eq!(records.local_networks, default_local_networks());
        Settings::compile(&records).unwrap();
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let result: Result<FormatSettings, _> = toml::from_str("full_hostnames = true");
        assert!(result.is_err());
        let result: Result<FormatSettings, _> =
            toml::from_str("[[networks]]\nname = \"hq\"\nhost = [\"*\"]");
        assert!(result.is_err());
    }

    #[test]
    fn bad_networks_name_the_offending_value() {
        let error = Settings::compile(&FormatSettings {
            local_networks: vec!["10.0.0.0/33".into()],
            ..FormatSettings::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("10.0.0.0/33"), "{error}");

        let error = compile(vec![network("hq", &["[a-"], &[])]).unwrap_err();
        assert!(error.to_string().contains("[a-"), "{error}");
        assert!(matches!(
            compile(vec![network("", &["*"], &[])]),
            Err(FormatError::EmptyNetworkName { index: 0 })
        ));
        assert!(matches!(
            compile(vec![network("hq", &[], &[])]),
            Err(FormatError::EmptyNetwork { .. })
        ));
        assert!(matches!(
            compile(vec![network("hq", &["a"], &[]), network("hq", &["b"], &[])]),
            Err(FormatError::DuplicateNetworkName { .. })
        ));
        assert!(matches!(
            compile(vec![network("a", &[], &["x"]), network("b", &[], &["X"])]),
            Err(FormatError::AgentInTwoNetworks { .. })
        ));
    }

    #[test]
    fn a_bare_address_is_a_single_host_local_network() {
        let settings = Settings::compile(&FormatSettings {
            local_networks: vec!["203.0.113.7".into(), "2001:db8::1/64".into()],
            ..FormatSettings::default()
        })
        .unwrap();
        assert!(settings.is_local("203.0.113.7".parse().unwrap()));
        assert!(!settings.is_local("203.0.113.8".parse().unwrap()));
        assert!(settings.is_local("2001:db8::ffff".parse().unwrap()));
    }

    #[test]
    fn the_first_network_that_claims_a_host_wins() {
        let settings = compile(vec![
            network("branch", &["*.branch.example.com"], &["AAAA"]),
            network("hq", &["*.EXAMPLE.com"], &[]),
        ])
        .unwrap();
        let hq = network_uuid("hq");
        let branch = network_uuid("branch");
        assert_eq!(settings.network_of("pc1.example.com", None), Some(hq));
        assert_eq!(
            settings.network_of("PC2.Branch.Example.COM", None),
            Some(branch)
        );
        assert_eq!(
            settings.network_of("pc1.example.com", Some("aaaa")),
            Some(branch)
        );
        assert_eq!(settings.network_of("pc1.example.org", None), None);
    }
}
