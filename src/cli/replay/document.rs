//! What replay needs to know about one JSON document: the endpoint and agent it names, its
//! times, and how to move those times. Field paths come from `corpus/FORMATS.md`.
//!
//! Replay never decides whether a document is a Sysmon event; espy does that on the other
//! side of Kafka, so replay treats every document alike.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde_json::Value;

/// A JSON path of object keys; none of the shapes uses dotted keys.
pub type FieldPath = &'static [&'static str];

/// Where each shape names the endpoint: Winlogbeat 7+, Winlogbeat 6, NXLog, Azure Monitor.
pub const COMPUTER_NAME: [FieldPath; 4] = [
    &["winlog", "computer_name"],
    &["computer_name"],
    &["Hostname"],
    &["Computer"],
];

/// Fields naming the shipping agent or the machine it runs on. They name the endpoint only
/// when the agent runs there; on a Windows Event Collector they name the collector
/// (Winlogbeat 6's `beat.hostname` and `host.name` are `WECserver` for every event).
pub const AGENT_NAMES: [FieldPath; 6] = [
    &["agent", "hostname"],
    &["agent", "name"],
    &["host", "name"],
    &["host", "hostname"],
    &["beat", "hostname"],
    &["beat", "name"],
];

/// The agent's own fields, compared with the computer name to tell an endpoint's agent
/// from a collector's.
const AGENT_OWN_NAMES: [FieldPath; 2] = [&["agent", "hostname"], &["agent", "name"]];

/// The Beats agent UUID, Winlogbeat's Kafka key (`key: '%{[agent.id]}'`).
pub const AGENT_ID: FieldPath = &["agent", "id"];

/// Sysmon's `UtcTime` (`YYYY-MM-DD HH:MM:SS.mmm`, UTC): Winlogbeat 7+, Winlogbeat 6, NXLog.
const UTC_TIME: [FieldPath; 3] = [
    &["winlog", "event_data", "UtcTime"],
    &["event_data", "UtcTime"],
    &["UtcTime"],
];

/// The shipper's event time; the Beats Kafka output sends it as the message timestamp.
const TIMESTAMP: FieldPath = &["@timestamp"];

/// The string at `path`, if there is one.
pub fn get_str<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(doc, |value, key| value.get(key))?
        .as_str()
}

/// The value at `path`, for rewriting it in place.
pub fn get_mut<'a>(doc: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    path.iter().try_fold(doc, |value, key| value.get_mut(key))
}

/// Who a document says it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The endpoint's computer name as written, from the first of [`COMPUTER_NAME`].
    pub computer_name: Option<String>,
    /// `agent.id`, when present and not empty.
    pub agent_id: Option<String>,
    /// Whether the agent runs on the endpoint: its name has the computer name's first
    /// label, or the document names no other machine. False for a collector's agent.
    pub agent_is_endpoint: bool,
}

impl Identity {
    /// Reads the identity fields of `doc`.
    pub fn of(doc: &Value) -> Identity {
        let computer_name = COMPUTER_NAME
            .iter()
            .find_map(|path| get_str(doc, path))
            .map(str::to_string);
        let agent_id = get_str(doc, AGENT_ID)
            .filter(|id| !id.is_empty())
            .map(str::to_string);
        let mut agent_names = AGENT_OWN_NAMES
            .iter()
            .filter_map(|p| get_str(doc, p))
            .peekable();
        let agent_is_endpoint = match &computer_name {
            None => true,
            Some(_) if agent_names.peek().is_none() => true,
            Some(computer) => agent_names.any(|name| same_first_label(name, computer)),
        };
        Identity {
            computer_name,
            agent_id,
            agent_is_endpoint,
        }
    }

    /// The Kafka key Winlogbeat would use: `agent.id`; without one (Winlogbeat 6, NXLog)
    /// the lower-cased computer name, which is as stable per host and keeps each host in
    /// one partition. `None` when the document names neither.
    pub fn key(&self) -> Option<String> {
        self.agent_id
            .clone()
            .or_else(|| self.computer_name.as_deref().map(str::to_lowercase))
    }

    /// What groups documents into one endpoint: the lower-cased computer name, else the
    /// agent id.
    pub fn endpoint(&self) -> Option<String> {
        self.computer_name
            .as_deref()
            .map(str::to_lowercase)
            .or_else(|| self.agent_id.clone())
    }

    /// Whether the value of an [`AGENT_NAMES`] field names this endpoint.
    pub fn names_endpoint(&self, name: &str) -> bool {
        match &self.computer_name {
            Some(computer) => same_first_label(name, computer),
            None => true,
        }
    }
}

/// Whether two host names have the same first label (up to the first dot), ignoring case.
fn same_first_label(a: &str, b: &str) -> bool {
    let first = |name: &str| name.split('.').next().unwrap_or_default().to_string();
    first(a).eq_ignore_ascii_case(&first(b))
}

/// When the event happened: Sysmon's `UtcTime`, else `@timestamp` (the ECS shapes carry
/// the Sysmon time there).
pub fn event_time(doc: &Value) -> Option<DateTime<Utc>> {
    UTC_TIME
        .iter()
        .find_map(|path| get_str(doc, path))
        .and_then(parse_utc_time)
        .or_else(|| timestamp(doc))
}

/// `@timestamp` as a time, when it is RFC 3339.
pub fn timestamp(doc: &Value) -> Option<DateTime<Utc>> {
    let text = get_str(doc, TIMESTAMP)?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// Parses Sysmon's `YYYY-MM-DD HH:MM:SS.mmm`, which is UTC without a zone.
fn parse_utc_time(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|time| time.and_utc())
}

/// Moves `UtcTime` and `@timestamp` by whole seconds; returns whether anything changed.
/// Whole seconds keep each value's fraction digits and zone suffix exactly as written.
pub fn shift_times(doc: &mut Value, seconds: i64) -> bool {
    let mut changed = false;
    for path in UTC_TIME.iter().chain([&TIMESTAMP]) {
        if let Some(value) = get_mut(doc, path)
            && let Some(shifted) = value.as_str().and_then(|text| shift_text(text, seconds))
        {
            *value = Value::String(shifted);
            changed = true;
        }
    }
    changed
}

/// Shifts a text that starts with `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS`; what
/// follows (fraction, `Z` or offset) is kept, so the shift is the same in absolute time.
fn shift_text(text: &str, seconds: i64) -> Option<String> {
    let (head, tail) = text.split_at_checked(19)?;
    let format = match head.as_bytes().get(10) {
        Some(b'T') => "%Y-%m-%dT%H:%M:%S",
        Some(b' ') => "%Y-%m-%d %H:%M:%S",
        _ => return None,
    };
    let time = NaiveDateTime::parse_from_str(head, format).ok()?;
    let shifted = time.checked_add_signed(TimeDelta::try_seconds(seconds)?)?;
    Some(format!("{}{tail}", shifted.format(format)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn winlogbeat_6_forwarded_by_a_collector_is_keyed_by_its_computer_name() {
        let doc = json!({"computer_name": "IT001.shire.com",
            "beat": {"hostname": "WECserver"}, "host": {"name": "WECserver"}});

        let identity = Identity::of(&doc);

        assert_eq!(identity.key().as_deref(), Some("it001.shire.com"));
        assert!(!identity.names_endpoint("WECserver"));
        assert!(identity.names_endpoint("it001"));
    }

    #[test]
    fn an_agent_on_the_endpoint_gives_the_key_and_a_collector_agent_is_told_apart() {
        let own = json!({"winlog": {"computer_name": "WS5.corp"},
            "agent": {"id": "4d3f0a52-0b0e-4a5e-9a3c-8f1f3c1d2e11", "name": "ws5"}});
        let relayed = json!({"winlog": {"computer_name": "WS5.corp"},
            "agent": {"id": "4d3f0a52-0b0e-4a5e-9a3c-8f1f3c1d2e11", "hostname": "wec01"}});

        assert!(Identity::of(&own).agent_is_endpoint);
        assert!(!Identity::of(&relayed).agent_is_endpoint);
        assert_eq!(
            Identity::of(&relayed).key().as_deref(),
            Some("4d3f0a52-0b0e-4a5e-9a3c-8f1f3c1d2e11")
        );
    }

    #[test]
    fn utc_time_is_the_event_time_even_when_timestamp_is_days_later() {
        let doc = json!({"@timestamp": "2019-05-18T15:03:31.000Z",
            "event_data": {"UtcTime": "2019-05-07 02:11:00.123"}});

        assert_eq!(
            event_time(&doc).map(|t| t.timestamp_millis()),
            Some(1_557_195_060_123)
        );
        assert_eq!(
            timestamp(&doc).map(|t| t.timestamp_millis()),
            Some(1_558_191_811_000)
        );
    }

    #[test]
    fn without_utc_time_the_event_time_is_timestamp() {
        let ecs = json!({"@timestamp": "2019-03-18T16:57:48.07Z"});

        assert_eq!(
            event_time(&ecs).map(|t| t.timestamp_millis()),
            Some(1_552_928_268_070)
        );
    }

    #[test]
    fn shifting_keeps_fraction_digits_and_zone_as_written() {
        let mut doc = json!({"@timestamp": "2019-12-31T23:59:59.3405807Z",
            "winlog": {"event_data": {"UtcTime": "2019-12-31 23:59:58.931"}}});

        assert!(shift_times(&mut doc, 3601));

        assert_eq!(doc["@timestamp"], "2020-01-01T01:00:00.3405807Z");
        assert_eq!(
            doc["winlog"]["event_data"]["UtcTime"],
            "2020-01-01 00:59:59.931"
        );
    }

    #[test]
    fn a_time_that_does_not_parse_is_left_alone() {
        let mut doc = json!({"@timestamp": "yesterday", "UtcTime": "-"});

        assert!(!shift_times(&mut doc, 60));

        assert_eq!(doc, json!({"@timestamp": "yesterday", "UtcTime": "-"}));
    }
}
