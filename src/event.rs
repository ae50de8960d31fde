//! A Sysmon network event as espy understands it, whatever document shape it came in.
//!
//! `input` builds these from documents; `zeek` turns them into log rows. Nothing here
//! knows about JSON or about Zeek: it is the contract between the two.

use std::borrow::Cow;
use std::net::IpAddr;

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

/// The document shapes espy recognises, detected per document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// Winlogbeat 8.x and later without an ingest pipeline: `winlog.event_data.*`.
    Winlogbeat8,
    /// Winlogbeat 7.x with the beat-side Sysmon processor: ECS `source.*`, `destination.*`.
    Winlogbeat7Ecs,
    /// Documents that went through Elastic's ingest pipeline (ECS, string ids).
    ElasticEcs,
    /// Winlogbeat 6.x: `event_data.*`, `computer_name`.
    Winlogbeat6,
    /// NXLog JSON: flat `SourceName`/`EventID`/`Hostname` with event fields at top level.
    Nxlog,
}

impl Shape {
    /// Every shape, for metrics that want a zero for each.
    pub const ALL: [Shape; 5] = [
        Shape::Winlogbeat8,
        Shape::Winlogbeat7Ecs,
        Shape::ElasticEcs,
        Shape::Winlogbeat6,
        Shape::Nxlog,
    ];

    /// The label used in metrics and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Winlogbeat8 => "winlogbeat8",
            Shape::Winlogbeat7Ecs => "winlogbeat7_ecs",
            Shape::ElasticEcs => "elastic_ecs",
            Shape::Winlogbeat6 => "winlogbeat6",
            Shape::Nxlog => "nxlog",
        }
    }
}

/// One Sysmon event 3 or 22, with every field espy writes, borrowed from the document
/// where possible.
#[derive(Debug, Clone, PartialEq)]
pub struct SysmonEvent<'a> {
    pub shape: Shape,
    /// Sysmon's `UtcTime`, or `@timestamp` in the ECS shapes, which carry UtcTime there.
    pub time: Micros,
    /// The endpoint's computer name as given (`winlog.computer_name`, `computer_name`,
    /// `Hostname`), often a fully qualified name.
    pub computer_name: Cow<'a, str>,
    /// The shipping agent, when the document names one.
    pub agent: Agent<'a>,
    /// `host.ip` (Winlogbeat's `add_host_metadata`), in document order, without entries that
    /// are not addresses; empty when the shape has none. These are the addresses of the
    /// shipping agent's machine: the endpoint's only when the agent is the endpoint.
    pub host_ips: Vec<IpAddr>,
    pub process: Process<'a>,
    pub detail: Detail<'a>,
}

/// The agent that shipped the event. It is the endpoint itself only when its host name
/// matches the computer name; collectors forward many endpoints.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Agent<'a> {
    /// `agent.id` exactly as given; it is not guaranteed to be a valid UUID.
    pub id: Option<Cow<'a, str>>,
    /// `agent.hostname`, or `agent.name` where the shape has no hostname.
    pub hostname: Option<Cow<'a, str>>,
}

/// The process that made the connection or the query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Process<'a> {
    /// `Image` or `process.executable`.
    pub image: Option<Cow<'a, str>>,
    /// `User`, or `user.domain\user.name` in the ECS shapes.
    pub user: Option<Cow<'a, str>>,
    pub pid: Option<u32>,
    /// `ProcessGuid` or `process.entity_id`, as given.
    pub guid: Option<Cow<'a, str>>,
}

/// What kind of event this is, with its own fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail<'a> {
    /// Sysmon event 3, NetworkConnect.
    Connection(Connection<'a>),
    /// Sysmon event 22, DNSEvent.
    Dns(DnsQuery<'a>),
}

/// An address and port as Sysmon reported them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// Sysmon event 3, in Sysmon's own orientation: `source` is not always the originator.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection<'a> {
    pub source: Endpoint,
    pub destination: Endpoint,
    pub transport: Transport,
    /// `Initiated`; in ECS shapes, `network.direction` other than `ingress` (or the older
    /// `inbound`).
    pub initiated: bool,
    /// `DestinationPortName` (`network.protocol` in ECS), absent when Sysmon left it empty
    /// or wrote `-`.
    pub port_name: Option<Cow<'a, str>>,
}

/// Sysmon event 22.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsQuery<'a> {
    pub name: Cow<'a, str>,
    /// The raw Windows `QueryStatus` (0 success, 9003 name error, ...); absent when the
    /// shape only kept a status name espy cannot map back.
    pub status: Option<u32>,
    /// The answers in order; empty for none (`-` or missing `QueryResults`).
    pub answers: Vec<DnsAnswer<'a>>,
}

impl DnsQuery<'_> {
    /// Whether the name has no dot (`wpad`, `localhost`, a bare host name). Such rows are
    /// written like any other, but RITA skips them by its own rule, so they are counted.
    pub fn is_single_label(&self) -> bool {
        !self.name.contains('.')
    }
}

/// One entry of `QueryResults` or `dns.answers`.
#[derive(Debug, Clone, PartialEq)]
pub enum DnsAnswer<'a> {
    /// An address answer, IPv4-mapped forms already unmapped.
    Address(IpAddr),
    /// A non-address answer (CNAME, PTR, SRV, ...) or an entry espy could not interpret,
    /// kept as text; never empty.
    Text(Cow<'a, str>),
}
