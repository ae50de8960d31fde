//! Where documents come in: shape detection and field extraction for every supported
//! document shape, producing a [`SysmonEvent`] or a typed reason to skip or reject.
//!
//! Decoding knows nothing of Kafka, files or Zeek; callers supply the reference time that
//! bounds event times and decide what to do with skips and rejects. The data flows through
//! the files in this order: `scan` and `walk` (skip without parsing), `document` (one
//! borrowed serde pass, built from `lenient`), `identify` (Sysmon 3 or 22, and which
//! shape), then `raw` or `ecs` (fields), which read values through `values`, `time`,
//! `answers` and `beats`.

mod answers;
mod beats;
mod document;
mod ecs;
mod identify;
mod lenient;
mod raw;
mod scan;
mod time;
mod values;
mod walk;

use crate::event::{Micros, Shape, SysmonEvent};
use document::Document;
use identify::NotNetwork;

/// What became of one document.
// An event is the common outcome on the hot path: boxing it to shrink the rarer variants
// would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
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
    decode_parsed(document, reference)
}

/// The decision without the byte scan: parse, identify, extract.
fn decode_parsed(document: &[u8], reference: Micros) -> Decoded<'_> {
    let mut parsed = Document::default();
    match parsed.parse_into(document) {
        Ok(()) => {}
        Err(_) if !scan::mentions_sysmon(document) => return Decoded::Skipped(Skip::NotSysmon),
        Err(err) => {
            return Decoded::Rejected(Reject::new(RejectReason::NotJson, err.to_string()));
        }
    }
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proptest::prelude::*;

    use super::*;

    const REFERENCE: Micros = 1_735_689_600_000_000;

    /// Every line of the corpus and the fixtures.
    fn documents() -> Vec<Vec<u8>> {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let mut documents = Vec::new();
        for folder in ["corpus/nxlog", "corpus/winlogbeat6", "fixtures"] {
            let mut paths: Vec<_> = std::fs::read_dir(data.join(folder))
                .expect("test data")
                .filter_map(|entry| Some(entry.ok()?.path()))
                .filter(|path| path.extension().is_some_and(|e| e == "ndjson"))
                .collect();
            paths.sort();
            for path in paths {
                let text = std::fs::read(&path).expect("test file");
                documents.extend(
                    text.split(|b| *b == b'\n')
                        .filter(|line| !line.is_empty())
                        .map(<[u8]>::to_vec),
                );
            }
        }
        documents
    }

    /// The scan's promise: whatever it skips, the parser skips too, with the same reason.
    /// Broken JSON it may skip by design, and a repeated key that the decision does not
    /// depend on makes the parser reject what the scan rightly skips.
    fn assert_scan_agrees(document: &[u8]) {
        if let scan::Verdict::Skip(skip) = scan::scan(document)
            && serde_json::from_slice::<serde::de::IgnoredAny>(document).is_ok()
        {
            match decode_parsed(document, REFERENCE) {
                Decoded::Skipped(parsed) => assert_eq!(skip, parsed),
                Decoded::Rejected(reject)
                    if reject.reason == RejectReason::NotJson
                        && reject.detail.contains("duplicate field") => {}
                other => panic!(
                    "scan skipped what the parser decodes as {other:?}: {}",
                    String::from_utf8_lossy(document)
                ),
            }
        }
    }

    #[test]
    fn the_scan_skips_only_what_the_parser_skips_on_all_test_documents() {
        let documents = documents();
        assert!(documents.len() > 5000);
        let mut scanned = 0;
        for document in &documents {
            assert_scan_agrees(document);
            scanned += usize::from(scan::scan(document) != scan::Verdict::Parse);
        }
        // Most negatives never reach the parser.
        assert!(scanned > 2000, "{scanned} skipped by the scan");
    }

    /// Edits that move a document across the scan's decision boundaries: event ids, the
    /// provider, escapes, whitespace around keys, and keys written as values.
    fn edit() -> impl Strategy<Value = (String, String)> {
        let from = prop::sample::select(vec![
            "\"EventID\":3",
            "\"EventID\":22",
            "\"event_id\":3",
            "\"event_id\":\"3\"",
            "\"code\":\"3\"",
            "\"code\":3",
            "\"Microsoft-Windows-Sysmon\"",
            "\"Microsoft-Windows-Sysmon/Operational\"",
            "\"SourceName\"",
            "\"source_name\"",
            "\"provider_name\"",
            "\"winlog\":{",
            "\"Hostname\"",
        ]);
        let to = prop::sample::select(vec![
            "\"EventID\":1",
            "\"EventID\" : 22",
            "\"EventID\":\"22\"",
            "\"Event\\u0049D\":3",
            "\"event_id\":10",
            "\"event_id\":\"\\u0033\"",
            "\"code\":1",
            "\"code\":\"x\"",
            "\"x\":\"EventID\"",
            "\"Microsoft-Windows-Sysmo\\u006e\"",
            "\"Linux-Sysmon\"",
            "\"Microsoft-Windows-Sysmon\\/Operational\"",
            "\"Channel\"",
            "\"Provider\"",
            "\"EventID\":3,\"winlog\":{",
            "\"Hostnam\"",
            "\"x\":{\"EventID\":1},\"Task\":1,\"y\"",
            "\"x\":[{\"event_id\":\"1\",\"code\":1}],\"y\"",
            "\"code\":1,\"Task\"",
            "\"event\":{\"code\":\"1\"},\"y\":{",
            "\"winlog\":{\"event_id\":1},\"y\":{",
            "\"EventID\":null,\"event_id\":1",
            "\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\"x\"",
            "",
        ]);
        (from, to).prop_map(|(from, to)| (from.to_owned(), to.to_owned()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn the_scan_skips_only_what_the_parser_skips_on_edited_documents(
            pick in any::<prop::sample::Index>(),
            edits in prop::collection::vec(edit(), 1..4),
        ) {
            static DOCUMENTS: std::sync::LazyLock<Vec<Vec<u8>>> =
                std::sync::LazyLock::new(documents);
            let mut text = String::from_utf8_lossy(&DOCUMENTS[pick.index(DOCUMENTS.len())]).into_owned();
            for (from, to) in &edits {
                text = text.replacen(from.as_str(), to, 1);
            }
            assert_scan_agrees(text.as_bytes());
        }
    }
}
