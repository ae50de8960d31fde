//! Markers: small objects that record where a segment ended before its objects are
//! written, so that a replay after a crash or a rebalance closes at the same offset.
//!
//! Data-driven closes would repeat by themselves, but age and shutdown closes depend on the
//! wall clock, and limits may change between attempts; one rule for every close is simpler
//! than deciding which closes are reproducible. A marker is deleted once its segment's
//! offset is committed, since no replay can start there after that.

use serde::{Deserialize, Serialize};

/// Where a segment that starts at `first_offset` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub partition: i32,
    pub first_offset: i64,
    pub last_offset: i64,
}

/// The marker's object name: outside the date folders, so hunting tools never see it.
pub fn marker_path(topic: &str, partition: i32, first_offset: i64) -> String {
    format!("_espy/markers/{topic}/p{partition:04}/o{first_offset:012}.json")
}

/// The writer part of object names for a segment: deterministic and unique per topic,
/// partition and first offset.
pub fn writer_name(topic: &str, partition: i32, first_offset: i64) -> String {
    format!("{topic}.p{partition:04}.o{first_offset:012}")
}
