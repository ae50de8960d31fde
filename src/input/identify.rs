//! Which parsed documents are Sysmon network events, and in which shape: the provider (or
//! the channel, where a shape has no provider), the event id, then the fields that tell
//! the shapes apart.
//!
//! Field extraction is not done here; a shape decided here only promises where to look.

use super::document::{Document, Scalar};
use super::values::{Field, bad_number, describe_scalar, parse_decimal};
use super::{Reject, RejectReason, Skip};
use crate::event::Shape;

pub(crate) const PROVIDER: &str = "Microsoft-Windows-Sysmon";
pub(crate) const CHANNEL: &str = "Microsoft-Windows-Sysmon/Operational";

/// The two Sysmon events espy converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Event 3, NetworkConnect.
    Connection,
    /// Event 22, DNSEvent.
    Dns,
}

/// The outcome of identification when the document is not for extraction.
#[derive(Debug)]
pub(crate) enum NotNetwork {
    Skip(Skip),
    Reject(Reject),
}

/// Decides whether the document is a Sysmon event 3 or 22.
///
/// The provider is the first of `winlog.provider_name`, `event.provider`, `source_name`,
/// `SourceName`, `Provider` and `EventSourceName` that is present; only when none is, the
/// channel (`winlog.channel`, `log_name`, `Channel`) decides. The event id is the first of
/// `winlog.event_id`, `event.code`, `event_id` and `EventID`, a number or a decimal string.
pub(crate) fn identify(doc: &Document<'_>) -> Result<Kind, NotNetwork> {
    if !is_sysmon(doc) {
        return Err(NotNetwork::Skip(Skip::NotSysmon));
    }
    let Some((value, field)) = event_id(doc) else {
        return Err(NotNetwork::Reject(Reject::new(
            RejectReason::UnsupportedShape,
            "a Sysmon document without an event id in any field espy knows \
             (winlog.event_id, event.code, event_id, EventID)"
                .to_owned(),
        )));
    };
    let id = match value {
        Scalar::UInt(id) => Some(*id),
        Scalar::Str(text) => parse_decimal(text.as_bytes()),
        _ => None,
    };
    match id {
        Some(3) => Ok(Kind::Connection),
        Some(22) => Ok(Kind::Dns),
        Some(_) => Err(NotNetwork::Skip(Skip::OtherEventId)),
        None => Err(NotNetwork::Reject(bad_number(
            field,
            &describe_scalar(value),
            "an event id",
        ))),
    }
}

fn is_sysmon(doc: &Document<'_>) -> bool {
    let winlog = doc.winlog.as_ref();
    let provider = [
        winlog.and_then(|w| w.provider_name.as_ref()),
        doc.event.as_ref().and_then(|e| e.provider.as_ref()),
        doc.wlb6.source_name.as_ref(),
        doc.flat.source_name.as_ref(),
        doc.azure_provider.as_ref(),
        doc.azure_event_source_name.as_ref(),
    ]
    .into_iter()
    .flatten()
    .next();
    if let Some(provider) = provider {
        return provider.as_str() == Some(PROVIDER);
    }
    let channel = [
        winlog.and_then(|w| w.channel.as_ref()),
        doc.wlb6.log_name.as_ref(),
        doc.flat.channel.as_ref(),
    ]
    .into_iter()
    .flatten()
    .next();
    channel.and_then(Scalar::as_str) == Some(CHANNEL)
}

fn event_id<'d, 'a>(doc: &'d Document<'a>) -> Option<(&'d Scalar<'a>, Field)> {
    let winlog = doc.winlog.as_ref();
    [
        (
            winlog.and_then(|w| w.event_id.as_ref()),
            Field::top("winlog.event_id"),
        ),
        (
            doc.event.as_ref().and_then(|e| e.code.as_ref()),
            Field::top("event.code"),
        ),
        (doc.wlb6.event_id.as_ref(), Field::top("event_id")),
        (doc.flat.event_id.as_ref(), Field::top("EventID")),
    ]
    .into_iter()
    .find_map(|(value, field)| value.map(|value| (value, field)))
}

/// Decides the shape of a Sysmon network event, or `None` for a shape espy does not know.
///
/// - `winlog` with `winlog.event_data.UtcTime`: Winlogbeat raw (8.x, or 7.x without the
///   Sysmon processor), read from `event_data` even if ECS fields were added.
/// - `winlog` with ECS `source`/`destination` (event 3) or `dns` (event 22): ECS, from
///   Winlogbeat 7's processor when the event id is a number, from Elastic's ingest pipeline
///   when it is a string.
/// - `winlog` with some other `event_data`: Winlogbeat raw, which then lacks `UtcTime`.
/// - `event_data` at the top level: Winlogbeat 6.
/// - `EventID` at the top level with `Hostname` or Sysmon's `UtcTime` beside it: NXLog, or
///   the NXLog-like export without `SourceName`. (Azure's `WindowsEvent` has a top-level
///   `EventID` too, but neither of the others: its event fields are inside a string.)
pub(crate) fn shape(doc: &Document<'_>, kind: Kind) -> Option<Shape> {
    if let Some(winlog) = &doc.winlog {
        let raw_time = winlog
            .event_data
            .as_ref()
            .is_some_and(|data| data.utc_time.is_some());
        let ecs = match kind {
            Kind::Connection => doc.ecs.source.is_some() || doc.ecs.destination.is_some(),
            Kind::Dns => doc.ecs.dns.is_some(),
        };
        return if raw_time {
            Some(Shape::Winlogbeat8)
        } else if ecs {
            let id = winlog
                .event_id
                .as_ref()
                .or_else(|| doc.event.as_ref().and_then(|e| e.code.as_ref()));
            Some(match id {
                Some(Scalar::Str(_)) => Shape::ElasticEcs,
                _ => Shape::Winlogbeat7Ecs,
            })
        } else if winlog.event_data.is_some() {
            Some(Shape::Winlogbeat8)
        } else {
            None
        };
    }
    if doc.wlb6.event_data.is_some() {
        return Some(Shape::Winlogbeat6);
    }
    if doc.flat.event_id.is_some()
        && (doc.flat.hostname.is_some() || doc.flat.data.utc_time.is_some())
    {
        return Some(Shape::Nxlog);
    }
    None
}

/// The reject for a Sysmon network event in a shape espy does not know, naming what it saw.
pub(crate) fn unsupported(doc: &Document<'_>, kind: Kind) -> Reject {
    let event = match kind {
        Kind::Connection => "event 3",
        Kind::Dns => "event 22",
    };
    let seen = if doc.winlog.is_some() {
        "a `winlog` object without `winlog.event_data` or ECS fields"
    } else if doc.azure_provider.is_some() {
        "`Provider` without `Hostname` (Azure Monitor WindowsEvent keeps the event in an \
         `EventData` string)"
    } else if doc.flat.event_id.is_some() {
        "a top-level `EventID` without `Hostname` or `UtcTime`"
    } else if doc.wlb6.event_id.is_some() {
        "a top-level `event_id` without `event_data` (renamed fields, e.g. HELK)"
    } else {
        "no field layout espy knows"
    };
    Reject::new(
        RejectReason::UnsupportedShape,
        format!("Sysmon {event} in {seen}"),
    )
}
