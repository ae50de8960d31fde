//! Where documents come in: shape detection and field extraction for every supported
//! document shape, producing a [`SysmonEvent`] or a typed reason to skip or reject.
//!
//! Decoding knows nothing of Kafka, files or Zeek; callers supply the reference time that
//! bounds event times and decide what to do with skips and rejects. The data flows through
//! the files in this order: `scan` (skip without parsing), `document` (one borrowed serde
//! pass), `identify` (Sysmon 3 or 22, and which shape), then `raw` or `ecs` (fields), which
//! read values through `values`, `time`, `answers` and `beats`.

mod answers;
mod beats;
mod document;
mod ecs;
mod identify;
mod raw;
mod scan;
mod time;
mod values;

use crate::event::{Micros, Shape, SysmonEvent};
use document::Document;
use identify::NotNetwork;

/// What became of one document.
#[derive(Debug)]
pub enum Decoded<'a> {
    /// A Sysmon event 3 or 22 with everything a record needs.
    Event(SysmonEvent<'a>),
    /// Not a Sysmon network event: counted, never dead-lettered.
    Skipped(Skip),
    /// A Sysmon network event (or something that could be one) that cannot be converted.
    Rejected(Reject),
}

/// Why a document was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// Another provider or channel (Security, Linux-Sysmon, ...), possibly decided by a
    /// byte scan without parsing.
    NotSysmon,
    /// Sysmon, but an event id other than 3 or 22.
    OtherEventId,
}

impl Skip {
    pub const ALL: [Skip; 2] = [Skip::NotSysmon, Skip::OtherEventId];

    pub fn as_str(self) -> &'static str {
        match self {
            Skip::NotSysmon => "not_sysmon",
            Skip::OtherEventId => "other_event_id",
        }
    }
}

/// Why a document was rejected; the label goes into dead-letter headers and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Not valid JSON (or not a JSON object) although it could be a network event.
    NotJson,
    /// A Sysmon 3/22 event in a document shape espy does not know.
    UnsupportedShape,
    /// A field a record needs is absent or empty.
    MissingField,
    /// An address that does not parse.
    BadAddress,
    /// A number that does not parse (port, pid, event id, `QueryStatus`), or one of the fixed
    /// words Sysmon writes (`Initiated` true/false, `Protocol` tcp/udp) that is something
    /// else.
    BadNumber,
    /// A time that does not parse.
    BadTime,
    /// A time before 2000-01-01 or more than 24 hours after the reference time.
    TimeOutOfRange,
    /// A message over the configured size limit; decided by the caller, never by `decode`.
    Oversize,
}

impl RejectReason {
    pub const ALL: [RejectReason; 8] = [
        RejectReason::NotJson,
        RejectReason::UnsupportedShape,
        RejectReason::MissingField,
        RejectReason::BadAddress,
        RejectReason::BadNumber,
        RejectReason::BadTime,
        RejectReason::TimeOutOfRange,
        RejectReason::Oversize,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::NotJson => "not_json",
            RejectReason::UnsupportedShape => "unsupported_shape",
            RejectReason::MissingField => "missing_field",
            RejectReason::BadAddress => "bad_address",
            RejectReason::BadNumber => "bad_number",
            RejectReason::BadTime => "bad_time",
            RejectReason::TimeOutOfRange => "time_out_of_range",
            RejectReason::Oversize => "oversize",
        }
    }
}

/// A rejected document's reason and a human-readable detail naming the field and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub reason: RejectReason,
    /// Shape, when it was detected before the failure.
    pub shape: Option<Shape>,
    /// What failed, naming the field by its path in the document and quoting the value
    /// (escaped, and cut after [`DETAIL_VALUE_CHARS`] characters).
    pub detail: String,
}

impl Reject {
    pub(crate) fn new(reason: RejectReason, detail: String) -> Reject {
        Reject {
            reason,
            shape: None,
            detail,
        }
    }
}

/// How much of a value a reject detail quotes: enough to recognise it, short enough for a
/// Kafka header and a log line.
pub const DETAIL_VALUE_CHARS: usize = 64;

/// A value for a reject detail: quoted with control characters escaped (a detail goes into
/// headers and logs, so a value must not be able to forge a line), cut to
/// [`DETAIL_VALUE_CHARS`] characters.
pub(crate) fn describe(value: &str) -> String {
    match value.char_indices().nth(DETAIL_VALUE_CHARS) {
        Some((cut, _)) => format!("{:?}... ({} bytes)", &value[..cut], value.len()),
        None => format!("{value:?}"),
    }
}

/// Decodes one document. `reference` is the time events may not be more than 24 hours
/// after: the Kafka message timestamp in `run`, the wall clock at start in `convert`.
///
/// A document that cannot be a Sysmon network event is skipped, often by a byte scan
/// without parsing. One that could be but is not a JSON object is rejected `not_json`;
/// "could be" means it mentions `Microsoft-Windows-Sysmon` at all, so a truncated Sysmon
/// event is rejected while unrelated garbage is skipped. A leading UTF-8 byte order mark
/// is ignored, since Windows tools write one at the start of files.
pub fn decode(document: &[u8], reference: Micros) -> Decoded<'_> {
    let document = document.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(document);
    if let scan::Verdict::Skip(skip) = scan::scan(document) {
        return Decoded::Skipped(skip);
    }
    let parsed: Document<'_> = match serde_json::from_slice(document) {
        Ok(parsed) => parsed,
        Err(_) if !scan::mentions_sysmon(document) => return Decoded::Skipped(Skip::NotSysmon),
        Err(err) => {
            return Decoded::Rejected(Reject::new(RejectReason::NotJson, err.to_string()));
        }
    };
    let kind = match identify::identify(&parsed) {
        Ok(kind) => kind,
        Err(NotNetwork::Skip(skip)) => return Decoded::Skipped(skip),
        Err(NotNetwork::Reject(reject)) => return Decoded::Rejected(reject),
    };
    let Some(shape) = identify::shape(&parsed, kind) else {
        return Decoded::Rejected(identify::unsupported(&parsed, kind));
    };
    let extracted = match shape {
        Shape::Winlogbeat7Ecs | Shape::ElasticEcs => ecs::event(parsed, shape, kind, reference),
        Shape::Winlogbeat8 | Shape::Winlogbeat6 | Shape::Nxlog => {
            raw::event(parsed, shape, kind, reference)
        }
    };
    match extracted {
        Ok(event) => Decoded::Event(event),
        Err(reject) => Decoded::Rejected(Reject {
            shape: Some(shape),
            ..reject
        }),
    }
}
