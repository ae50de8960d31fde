//! The parts of a document that `input` reads, as one union of every supported shape's
//! fields, filled by a single borrowed serde pass over the bytes.
//!
//! Every field is optional and accepts any JSON type: a value of an unexpected type is for
//! the extractors to judge, never a parse error, so a parse fails only on invalid JSON or a
//! repeated key. Unknown keys are skipped; strings borrow from the document unless they hold
//! escapes (`SHIRE\\pgustavo`).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

pub(crate) use super::lenient::Scalar;
use super::lenient::{Lenient, RawKey, absent_unless_handled, list, object};

/// Sysmon's own event fields, wherever the shape puts them: `winlog.event_data` (Winlogbeat 8
/// raw), `event_data` (Winlogbeat 6), or the top level (NXLog). Only the ones espy writes.
#[derive(Debug, Default)]
pub(crate) struct EventData<'a> {
    pub utc_time: Option<Scalar<'a>>,
    pub process_guid: Option<Scalar<'a>>,
    pub process_id: Option<Scalar<'a>>,
    pub image: Option<Scalar<'a>>,
    pub user: Option<Scalar<'a>>,
    pub protocol: Option<Scalar<'a>>,
    pub initiated: Option<Scalar<'a>>,
    pub source_ip: Option<Scalar<'a>>,
    pub source_port: Option<Scalar<'a>>,
    pub destination_ip: Option<Scalar<'a>>,
    pub destination_port: Option<Scalar<'a>>,
    pub destination_port_name: Option<Scalar<'a>>,
    pub query_name: Option<Scalar<'a>>,
    pub query_status: Option<Scalar<'a>>,
    pub query_results: Option<Scalar<'a>>,
}

/// The Sysmon fields espy reads. Names are case-sensitive: NXLog's own `ProcessID` (the
/// Sysmon service's pid) is not Sysmon's `ProcessId`.
#[derive(Debug, Clone, Copy)]
enum DataField {
    UtcTime,
    ProcessGuid,
    ProcessId,
    Image,
    User,
    Protocol,
    Initiated,
    SourceIp,
    SourcePort,
    DestinationIp,
    DestinationPort,
    DestinationPortName,
    QueryName,
    QueryStatus,
    QueryResults,
}

impl DataField {
    /// The field for a key; keys are compared by length first, since most keys of a
    /// document are ones espy does not read.
    fn of(key: &[u8]) -> Option<DataField> {
        use DataField::*;
        Some(match (key.len(), key) {
            (4, b"User") => User,
            (5, b"Image") => Image,
            (7, b"UtcTime") => UtcTime,
            (8, b"Protocol") => Protocol,
            (8, b"SourceIp") => SourceIp,
            (9, b"ProcessId") => ProcessId,
            (9, b"Initiated") => Initiated,
            (9, b"QueryName") => QueryName,
            (10, b"SourcePort") => SourcePort,
            (11, b"ProcessGuid") => ProcessGuid,
            (11, b"QueryStatus") => QueryStatus,
            (12, b"QueryResults") => QueryResults,
            (13, b"DestinationIp") => DestinationIp,
            (15, b"DestinationPort") => DestinationPort,
            (19, b"DestinationPortName") => DestinationPortName,
            _ => return None,
        })
    }
}

impl<'a> EventData<'a> {
    /// The slot for a field, with its name as a static string for errors.
    fn slot(&mut self, field: DataField) -> (&mut Option<Scalar<'a>>, &'static str) {
        match field {
            DataField::UtcTime => (&mut self.utc_time, "UtcTime"),
            DataField::ProcessGuid => (&mut self.process_guid, "ProcessGuid"),
            DataField::ProcessId => (&mut self.process_id, "ProcessId"),
            DataField::Image => (&mut self.image, "Image"),
            DataField::User => (&mut self.user, "User"),
            DataField::Protocol => (&mut self.protocol, "Protocol"),
            DataField::Initiated => (&mut self.initiated, "Initiated"),
            DataField::SourceIp => (&mut self.source_ip, "SourceIp"),
            DataField::SourcePort => (&mut self.source_port, "SourcePort"),
            DataField::DestinationIp => (&mut self.destination_ip, "DestinationIp"),
            DataField::DestinationPort => (&mut self.destination_port, "DestinationPort"),
            DataField::DestinationPortName => {
                (&mut self.destination_port_name, "DestinationPortName")
            }
            DataField::QueryName => (&mut self.query_name, "QueryName"),
            DataField::QueryStatus => (&mut self.query_status, "QueryStatus"),
            DataField::QueryResults => (&mut self.query_results, "QueryResults"),
        }
    }
}

/// One document, every shape's fields side by side.
#[derive(Debug, Default)]
pub(crate) struct Document<'a> {
    /// `@timestamp`: UtcTime in the ECS shapes, the shipper's time elsewhere.
    pub timestamp: Option<Scalar<'a>>,
    pub winlog: Option<Winlog<'a>>,
    pub event: Option<EventMeta<'a>>,
    pub agent: Option<AgentFields<'a>>,
    pub host: Option<HostFields<'a>>,
    pub ecs: Ecs<'a>,
    pub wlb6: Wlb6<'a>,
    pub flat: Flat<'a>,
    /// Azure Monitor's provider fields, read only to recognise Sysmon in a shape espy
    /// rejects as unsupported.
    pub azure_provider: Option<Scalar<'a>>,
    pub azure_event_source_name: Option<Scalar<'a>>,
}

/// ECS fields written by Winlogbeat 7's Sysmon processor or Elastic's ingest pipeline.
#[derive(Debug, Default)]
pub(crate) struct Ecs<'a> {
    pub source: Option<EcsEndpoint<'a>>,
    pub destination: Option<EcsEndpoint<'a>>,
    pub network: Option<Network<'a>>,
    pub process: Option<EcsProcess<'a>>,
    pub user: Option<EcsUser<'a>>,
    pub dns: Option<EcsDns<'a>>,
    pub sysmon: Option<SysmonFields<'a>>,
}

/// Winlogbeat 6's top-level fields.
#[derive(Debug, Default)]
pub(crate) struct Wlb6<'a> {
    pub source_name: Option<Scalar<'a>>,
    pub log_name: Option<Scalar<'a>>,
    pub computer_name: Option<Scalar<'a>>,
    pub event_id: Option<Scalar<'a>>,
    pub event_data: Option<EventData<'a>>,
}

/// NXLog's flat header fields, and the Sysmon fields it puts beside them.
#[derive(Debug, Default)]
pub(crate) struct Flat<'a> {
    pub source_name: Option<Scalar<'a>>,
    pub channel: Option<Scalar<'a>>,
    pub event_id: Option<Scalar<'a>>,
    pub hostname: Option<Scalar<'a>>,
    pub data: EventData<'a>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Winlog<'a> {
    #[serde(borrow)]
    pub provider_name: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub channel: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub event_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub computer_name: Option<Scalar<'a>>,
    #[serde(borrow, deserialize_with = "object")]
    pub event_data: Option<EventData<'a>>,
}

/// ECS `event.*`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct EventMeta<'a> {
    #[serde(borrow)]
    pub provider: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub code: Option<Scalar<'a>>,
}

/// Beats' `agent.*`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct AgentFields<'a> {
    #[serde(borrow)]
    pub id: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub hostname: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub name: Option<Scalar<'a>>,
}

/// Beats' `host.*` from `add_host_metadata`; `ip` is a list of strings (or one string).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct HostFields<'a> {
    #[serde(borrow, deserialize_with = "list")]
    pub ip: Vec<Scalar<'a>>,
}

/// ECS `source` and `destination`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct EcsEndpoint<'a> {
    #[serde(borrow)]
    pub ip: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub port: Option<Scalar<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Network<'a> {
    #[serde(borrow)]
    pub transport: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub direction: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub protocol: Option<Scalar<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct EcsProcess<'a> {
    #[serde(borrow)]
    pub executable: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub pid: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub entity_id: Option<Scalar<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct EcsUser<'a> {
    #[serde(borrow)]
    pub domain: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub name: Option<Scalar<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct EcsDns<'a> {
    #[serde(borrow, deserialize_with = "object")]
    pub question: Option<Question<'a>>,
    #[serde(borrow, deserialize_with = "list")]
    pub answers: Vec<EcsAnswer<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Question<'a> {
    #[serde(borrow)]
    pub name: Option<Scalar<'a>>,
}

/// One `dns.answers` entry. Only `data` is read: whether it is an address is decided from
/// the value itself, the same way as for Sysmon's `QueryResults`.
#[derive(Debug, Default)]
pub(crate) struct EcsAnswer<'a> {
    pub data: Option<Scalar<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct EcsAnswerObject<'a> {
    #[serde(borrow)]
    data: Option<Scalar<'a>>,
}

/// `sysmon.*`, where the processor puts the DNS status.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SysmonFields<'a> {
    #[serde(borrow, deserialize_with = "object")]
    pub dns: Option<SysmonDns<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SysmonDns<'a> {
    #[serde(borrow)]
    pub status: Option<Scalar<'a>>,
}

// Deserialisation of the shapes: hand-written where keys are many (the top level, Sysmon
// fields) and most are skipped, derived for the small nested objects.

impl<'a> Document<'a> {
    /// Parses `bytes` into `self`, which should be empty. Parsing in place rather than
    /// returning the document saves copying it (about 2 KB) several times per event.
    ///
    /// A document that is valid UTF-8 as a whole (every real one) is checked once and
    /// parsed as text, which spares serde_json a UTF-8 check per string read; one that is
    /// not is parsed as bytes, so that invalid bytes in a field espy skips (a message, say)
    /// do not cost the event, while invalid bytes in a field it reads are still an error.
    pub(crate) fn parse_into(&mut self, bytes: &'a [u8]) -> Result<(), serde_json::Error> {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                let mut deserializer = serde_json::Deserializer::from_str(text);
                DocumentSeed(self).deserialize(&mut deserializer)?;
                deserializer.end()
            }
            Err(_) => {
                let mut deserializer = serde_json::Deserializer::from_slice(bytes);
                DocumentSeed(self).deserialize(&mut deserializer)?;
                deserializer.end()
            }
        }
    }
}

/// Fills a [`Document`] in place.
struct DocumentSeed<'d, 'a>(&'d mut Document<'a>);

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let doc = self.0;
        while let Some(RawKey(key)) = map.next_key()? {
            let key: &[u8] = &key;
            // Length first: most keys are ones espy does not read, and this rules them out
            // with one comparison or two.
            match (key.len(), key) {
                (3, b"dns") => put_object(&mut doc.ecs.dns, "dns", &mut map)?,
                (4, b"host") => put_object(&mut doc.host, "host", &mut map)?,
                (4, b"user") => put_object(&mut doc.ecs.user, "user", &mut map)?,
                (5, b"event") => put_object(&mut doc.event, "event", &mut map)?,
                (5, b"agent") => put_object(&mut doc.agent, "agent", &mut map)?,
                (6, b"winlog") => put_object(&mut doc.winlog, "winlog", &mut map)?,
                (6, b"source") => put_object(&mut doc.ecs.source, "source", &mut map)?,
                (6, b"sysmon") => put_object(&mut doc.ecs.sysmon, "sysmon", &mut map)?,
                (7, b"network") => put_object(&mut doc.ecs.network, "network", &mut map)?,
                (7, b"process") => put_object(&mut doc.ecs.process, "process", &mut map)?,
                (7, b"Channel") => put(&mut doc.flat.channel, "Channel", &mut map)?,
                (7, b"EventID") => put(&mut doc.flat.event_id, "EventID", &mut map)?,
                (8, b"log_name") => put(&mut doc.wlb6.log_name, "log_name", &mut map)?,
                (8, b"event_id") => put(&mut doc.wlb6.event_id, "event_id", &mut map)?,
                (8, b"Hostname") => put(&mut doc.flat.hostname, "Hostname", &mut map)?,
                (8, b"Provider") => put(&mut doc.azure_provider, "Provider", &mut map)?,
                (10, b"@timestamp") => put(&mut doc.timestamp, "@timestamp", &mut map)?,
                (10, b"event_data") => {
                    put_object(&mut doc.wlb6.event_data, "event_data", &mut map)?
                }
                (10, b"SourceName") => put(&mut doc.flat.source_name, "SourceName", &mut map)?,
                (11, b"destination") => {
                    put_object(&mut doc.ecs.destination, "destination", &mut map)?
                }
                (11, b"source_name") => put(&mut doc.wlb6.source_name, "source_name", &mut map)?,
                (13, b"computer_name") => {
                    put(&mut doc.wlb6.computer_name, "computer_name", &mut map)?
                }
                (15, b"EventSourceName") => put(
                    &mut doc.azure_event_source_name,
                    "EventSourceName",
                    &mut map,
                )?,
                _ => match DataField::of(key) {
                    Some(field) => {
                        let (slot, name) = doc.flat.data.slot(field);
                        put(slot, name, &mut map)?
                    }
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                },
            }
        }
        Ok(())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for EventData<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EventDataVisitor(PhantomData))
    }
}

struct EventDataVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for EventDataVisitor<'a> {
    type Value = EventData<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of Sysmon event fields")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EventData<'a>, A::Error> {
        let mut data = EventData::default();
        while let Some(RawKey(key)) = map.next_key()? {
            match DataField::of(&key) {
                Some(field) => {
                    let (slot, name) = data.slot(field);
                    put(slot, name, &mut map)?
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(data)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for EcsAnswer<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EcsAnswerVisitor(PhantomData))
    }
}

/// An answer is normally `{type, data}`; a bare string is taken as its data.
struct EcsAnswerVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for EcsAnswerVisitor<'a> {
    type Value = EcsAnswer<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a DNS answer")
    }

    absent_unless_handled!(EcsAnswer { data: None });

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<EcsAnswer<'a>, E> {
        Ok(EcsAnswer {
            data: Some(Scalar::Str(Cow::Borrowed(v))),
        })
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<EcsAnswer<'a>, E> {
        Ok(EcsAnswer {
            data: Some(Scalar::Str(Cow::Owned(v.to_owned()))),
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<EcsAnswer<'a>, A::Error> {
        let object = EcsAnswerObject::deserialize(MapAccessDeserializer::new(map))?;
        Ok(EcsAnswer { data: object.data })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EcsAnswer<'a>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(EcsAnswer { data: None })
    }
}

/// Reads a scalar value into `slot`, `null` as absent; a key seen twice is an error, because
/// a document with two different values for a field espy reads has no single meaning.
fn put<'de: 'a, 'a, A>(
    slot: &mut Option<Scalar<'a>>,
    key: &'static str,
    map: &mut A,
) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
{
    if slot.is_some() {
        return Err(de::Error::duplicate_field(key));
    }
    *slot = match map.next_value::<Scalar<'a>>()? {
        Scalar::Null => None,
        scalar => Some(scalar),
    };
    Ok(())
}

/// Like [`put`] for an object: a value that is not an object counts as absent.
fn put_object<'de, A, T>(
    slot: &mut Option<T>,
    key: &'static str,
    map: &mut A,
) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    if slot.is_some() {
        return Err(de::Error::duplicate_field(key));
    }
    *slot = map.next_value::<Lenient<T>>()?.0;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_parse(text: &str) -> Result<Document<'_>, serde_json::Error> {
        let mut doc = Document::default();
        doc.parse_into(text.as_bytes()).map(|()| doc)
    }

    fn parse(text: &str) -> Document<'_> {
        try_parse(text).expect("valid document")
    }

    #[test]
    fn strings_without_escapes_borrow_from_the_document() {
        let doc = parse(r#"{"Hostname":"IT001.shire.com","User":"SHIRE\\pgustavo"}"#);
        assert!(matches!(
            doc.flat.hostname,
            Some(Scalar::Str(Cow::Borrowed("IT001.shire.com")))
        ));
        assert!(
            matches!(&doc.flat.data.user, Some(Scalar::Str(Cow::Owned(user))) if user == "SHIRE\\pgustavo")
        );
    }

    #[test]
    fn unexpected_types_are_absent_or_typed_not_errors() {
        let doc = parse(
            r#"{"winlog":"text","event":[1,2],"host":{"ip":"10.0.0.1"},"EventID":"3",
                "SourcePort":443,"source":{"port":{"a":1}},"dns":{"answers":{"data":"x"}}}"#,
        );
        assert!(doc.winlog.is_none());
        assert!(doc.event.is_none());
        assert_eq!(
            doc.host.map(|h| h.ip),
            Some(vec![Scalar::Str("10.0.0.1".into())])
        );
        assert_eq!(doc.flat.event_id, Some(Scalar::Str("3".into())));
        assert_eq!(doc.flat.data.source_port, Some(Scalar::UInt(443)));
        assert_eq!(doc.ecs.source.and_then(|s| s.port), Some(Scalar::Other));
        let answers = doc.ecs.dns.map(|d| d.answers).unwrap_or_default();
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].data, Some(Scalar::Str("x".into())));
    }

    #[test]
    fn null_is_absent() {
        let doc = parse(r#"{"Hostname":null,"winlog":null,"host":{"ip":[null,"::1"]}}"#);
        assert!(doc.flat.hostname.is_none());
        assert!(doc.winlog.is_none());
        assert_eq!(
            doc.host.map(|h| h.ip),
            Some(vec![Scalar::Null, Scalar::Str("::1".into())])
        );
    }

    #[test]
    fn a_repeated_key_that_espy_reads_is_an_error() {
        let result = try_parse(r#"{"EventID":3,"EventID":1}"#);
        let message = result.expect_err("duplicate").to_string();
        assert!(message.contains("duplicate field `EventID`"), "{message}");
        let nested =
            try_parse(r#"{"winlog":{"event_data":{"SourceIp":"1.1.1.1","SourceIp":"2.2.2.2"}}}"#);
        assert!(nested.is_err());
    }

    #[test]
    fn repeated_keys_espy_ignores_are_fine() {
        assert!(try_parse(r#"{"Message":"a","Message":"b"}"#).is_ok());
    }

    #[test]
    fn a_document_must_be_an_object() {
        assert!(try_parse(r#"["EventID",3]"#).is_err());
        assert!(try_parse(r#""text""#).is_err());
    }
}
