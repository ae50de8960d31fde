//! Where documents come in: shape detection and field extraction for every supported
//! document shape, producing a [`SysmonEvent`] or a typed reason to skip or reject.
//!
//! Decoding knows nothing of Kafka, files or Zeek; callers supply the reference time that
//! bounds event times and decide what to do with skips and rejects.

use crate::event::{Micros, Shape, SysmonEvent};

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
    /// A port or pid that does not parse.
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
    pub detail: String,
}

/// Decodes one document. `reference` is the time events may not be more than 24 hours
/// after: the Kafka message timestamp in `run`, the wall clock at start in `convert`.
pub fn decode(document: &[u8], reference: Micros) -> Decoded<'_> {
    let _ = (document, reference);
    todo!("input::decode")
}
