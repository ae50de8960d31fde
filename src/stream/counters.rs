//! Per-document metrics with their handles looked up once, since every message of every
//! partition passes through them.

use ::metrics::Counter;

use crate::event::{Detail, Shape};
use crate::input::{Decoded, RejectReason};
use crate::metrics;

/// Counter handles for document outcomes.
pub struct OutcomeCounters {
    converted: Vec<Counter>,
    rejected: Vec<Counter>,
    rejected_unknown_shape: Counter,
    skipped: Counter,
    reasons: Vec<Counter>,
    single_label_queries: Counter,
}

impl OutcomeCounters {
    pub fn new() -> OutcomeCounters {
        let events = |outcome: &'static str, shape: &'static str| metrics::counter!(metrics::EVENTS, "outcome" => outcome, "shape" => shape);
        OutcomeCounters {
            converted: Shape::ALL
                .iter()
                .map(|shape| events("converted", shape.as_str()))
                .collect(),
            rejected: Shape::ALL
                .iter()
                .map(|shape| events("rejected", shape.as_str()))
                .collect(),
            rejected_unknown_shape: events("rejected", "unknown"),
            skipped: events("skipped", "unknown"),
            reasons: RejectReason::ALL
                .iter()
                .map(|reason| metrics::counter!(metrics::REJECTS, "reason" => reason.as_str()))
                .collect(),
            single_label_queries: metrics::counter!(metrics::DNS_SINGLE_LABEL),
        }
    }

    /// Counts one document's outcome.
    pub fn count(&self, decoded: &Decoded<'_>) {
        match decoded {
            Decoded::Event(event) => {
                self.converted[shape_index(event.shape)].increment(1);
                if let Detail::Dns(query) = &event.detail
                    && query.is_single_label()
                {
                    self.single_label_queries.increment(1);
                }
            }
            Decoded::Skipped(_) => self.skipped.increment(1),
            Decoded::Rejected(reject) => self.count_reject(reject.reason, reject.shape),
        }
    }

    /// Counts a reject, including those decided before decoding (oversize).
    pub fn count_reject(&self, reason: RejectReason, shape: Option<Shape>) {
        match shape {
            Some(shape) => self.rejected[shape_index(shape)].increment(1),
            None => self.rejected_unknown_shape.increment(1),
        }
        let index = RejectReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or_default();
        self.reasons[index].increment(1);
    }
}

impl Default for OutcomeCounters {
    fn default() -> Self {
        Self::new()
    }
}

fn shape_index(shape: Shape) -> usize {
    Shape::ALL
        .iter()
        .position(|s| *s == shape)
        .unwrap_or_default()
}
