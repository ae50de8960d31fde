//! A segment: consecutive offsets of one partition whose rows are written together and
//! whose end is the next committed offset.
//!
//! A segment decides from its own messages when it is full, so that a replay from its
//! first offset closes it at the same place. Wall-clock closes are the caller's; every
//! close is made replayable by a marker written before the objects (see `marker`).

use std::time::{Duration, Instant};

use crate::buckets::HourBuckets;
use crate::config::SegmentConfig;
use crate::event::Micros;
use crate::zeek::{Hour, LogType};

/// Why a segment was closed; the metrics label of `espy_segments_closed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCause {
    /// The record limit, counted from the first offset.
    Records,
    /// The byte limit, counted from the first offset.
    Bytes,
    /// The newest event time passed the oldest hour's end plus the allowed lateness.
    EventTime,
    /// A marker left by an earlier owner said where this segment ends.
    Marker,
    /// The wall-clock age limit on a quiet partition.
    Age,
    /// SIGTERM: the replica writes what it holds before leaving.
    Shutdown,
}

impl CloseCause {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseCause::Records => "records",
            CloseCause::Bytes => "bytes",
            CloseCause::EventTime => "event_time",
            CloseCause::Marker => "marker",
            CloseCause::Age => "age",
            CloseCause::Shutdown => "shutdown",
        }
    }
}

/// An open segment of one partition.
pub struct Segment {
    first_offset: i64,
    last_offset: i64,
    messages: u64,
    bytes: u64,
    newest_time: Option<Micros>,
    opened_at: Instant,
    /// Set when a marker from an earlier attempt fixes the last offset.
    marked_last_offset: Option<i64>,
    buckets: HourBuckets,
}

impl Segment {
    /// Opens a segment at `first_offset`; `marked_last_offset` comes from a marker object
    /// left by an earlier attempt to write this same segment.
    pub fn open(first_offset: i64, marked_last_offset: Option<i64>) -> Segment {
        Segment {
            first_offset,
            last_offset: first_offset,
            messages: 0,
            bytes: 0,
            newest_time: None,
            opened_at: Instant::now(),
            marked_last_offset,
            buckets: HourBuckets::default(),
        }
    }

    pub fn first_offset(&self) -> i64 {
        self.first_offset
    }

    pub fn last_offset(&self) -> i64 {
        self.last_offset
    }

    /// Counts a message, whatever became of it.
    pub fn add_message(&mut self, offset: i64, len: usize) {
        self.last_offset = offset;
        self.messages += 1;
        self.bytes += len as u64;
    }

    /// Adds a converted event's rows.
    pub fn add_rows(&mut self, log: LogType, time: Micros, rows: &[u8], count: usize) {
        self.buckets.append(log, Hour::of(time), rows, count);
        self.newest_time = Some(self.newest_time.map_or(time, |newest| newest.max(time)));
    }

    /// Whether the messages so far close the segment, and why. Checked after every
    /// message, so the segment ends at the message that filled it.
    pub fn full(&self, limits: &SegmentConfig) -> Option<CloseCause> {
        if let Some(last) = self.marked_last_offset {
            // The earlier attempt's close wins over limits, which may have changed since, and
            // over the wall clock, which never repeats.
            return (self.last_offset >= last).then_some(CloseCause::Marker);
        }
        if self.messages >= limits.max_records {
            return Some(CloseCause::Records);
        }
        if self.bytes >= limits.max_bytes {
            return Some(CloseCause::Bytes);
        }
        let lateness = limits.allowed_lateness_secs as i64 * 1_000_000;
        match (self.buckets.oldest_hour(), self.newest_time) {
            (Some(oldest), Some(newest)) if newest >= oldest.end() + lateness => {
                Some(CloseCause::EventTime)
            }
            _ => None,
        }
    }

    /// Whether the wall-clock age limit has passed. A marked segment waits for its
    /// marked offset instead.
    pub fn expired(&self, max_age: Duration) -> bool {
        self.marked_last_offset.is_none() && self.opened_at.elapsed() >= max_age
    }

    pub fn rows(&self) -> u64 {
        self.buckets.rows()
    }

    pub fn compressed_len(&self) -> usize {
        self.buckets.compressed_len()
    }

    /// The objects of this segment, named after the partition and first offset.
    pub fn into_buckets(self) -> HourBuckets {
        self.buckets
    }
}
