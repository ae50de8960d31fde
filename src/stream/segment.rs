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
    /// An event arrived past the end of the segment's oldest on-time hour plus the allowed
    /// lateness; it opens the next segment.
    EventTime,
    /// The segment holds as many (log type, hour) objects as allowed.
    Hours,
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
            CloseCause::Hours => "hours",
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
    /// The newest event time among the segment's rows.
    newest_time: Option<Micros>,
    /// The oldest hour among rows that were on time when they arrived; late rows (a laptop's
    /// backlog, a clock far behind) ride along without holding the segment to their hour.
    oldest_on_time_hour: Option<Hour>,
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
            oldest_on_time_hour: None,
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

    /// Whether an event at `time` must open the next segment instead of joining this one:
    /// it is past the end of this segment's oldest on-time hour plus the allowed lateness.
    ///
    /// The event starts the next segment rather than ending this one, so that a segment
    /// that began with a backlog row closes at the first live row instead of right after
    /// it, and the live row's segment then treats the backlog as late.
    pub fn passed_by(&self, time: Micros, limits: &SegmentConfig) -> bool {
        if self.marked_last_offset.is_some() {
            // An earlier attempt's close wins: limits may have changed since.
            return false;
        }
        self.oldest_on_time_hour
            .is_some_and(|oldest| time >= oldest.end().saturating_add(lateness(limits)))
    }

    /// Adds a converted event's rows.
    pub fn add_rows(
        &mut self,
        log: LogType,
        time: Micros,
        rows: &[u8],
        count: usize,
        limits: &SegmentConfig,
    ) {
        let hour = Hour::of(time);
        let late = self
            .newest_time
            .is_some_and(|newest| hour.end().saturating_add(lateness(limits)) <= newest);
        if !late {
            self.oldest_on_time_hour = Some(self.oldest_on_time_hour.map_or(hour, |h| h.min(hour)));
        }
        self.newest_time = Some(self.newest_time.map_or(time, |newest| newest.max(time)));
        self.buckets.append(log, hour, rows, count);
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
            Some(CloseCause::Records)
        } else if self.bytes >= limits.max_bytes {
            Some(CloseCause::Bytes)
        } else if self.buckets.len() >= limits.max_hours {
            Some(CloseCause::Hours)
        } else {
            None
        }
    }

    /// Whether an earlier attempt's marker fixes this segment's end at an offset not yet
    /// reached. Such a segment cannot be written now: the earlier attempt may have written
    /// some of its objects, with the rows up to the marked offset.
    pub fn short_of_marker(&self) -> bool {
        self.marked_last_offset
            .is_some_and(|last| self.last_offset < last)
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

/// The allowed lateness in microseconds; an absurd setting means "never", not an overflow.
fn lateness(limits: &SegmentConfig) -> Micros {
    Micros::try_from(limits.allowed_lateness_secs)
        .unwrap_or(Micros::MAX)
        .saturating_mul(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Micros = 60_000_000;
    /// 2019-12-05 04:00:00 UTC, an hour of the NXLog corpus.
    const HOUR_START: Micros = 1_575_518_400_000_000;

    fn limits() -> SegmentConfig {
        SegmentConfig {
            max_records: 1_000,
            allowed_lateness_secs: 300,
            ..SegmentConfig::default()
        }
    }

    /// Adds one conn row at `time` as message `offset`, as the consumer loop does.
    fn add(segment: &mut Segment, offset: i64, time: Micros) {
        segment.add_rows(LogType::Conn, time, b"row\n", 1, &limits());
        segment.add_message(offset, 100);
    }

    #[test]
    fn an_event_past_the_oldest_hour_plus_lateness_opens_the_next_segment() {
        let mut segment = Segment::open(0, None);
        add(&mut segment, 0, HOUR_START + 10 * MINUTE);
        add(&mut segment, 1, HOUR_START + 59 * MINUTE);

        assert!(!segment.passed_by(HOUR_START + 64 * MINUTE, &limits()));
        assert!(segment.passed_by(HOUR_START + 65 * MINUTE, &limits()));
        assert_eq!(segment.full(&limits()), None);
    }

    #[test]
    fn backlog_rows_that_arrive_late_do_not_hold_a_live_segment_to_their_hour() {
        let mut segment = Segment::open(0, None);
        add(&mut segment, 0, HOUR_START + 10 * MINUTE);
        // A laptop back online after three days.
        add(&mut segment, 1, HOUR_START - 72 * 60 * MINUTE);
        add(&mut segment, 2, HOUR_START - 71 * 60 * MINUTE);

        assert!(!segment.passed_by(HOUR_START + 20 * MINUTE, &limits()));
        assert!(segment.passed_by(HOUR_START + 65 * MINUTE, &limits()));
        assert_eq!(segment.into_buckets().len(), 3);
    }

    #[test]
    fn a_segment_that_starts_with_backlog_ends_at_the_first_live_row() {
        let mut segment = Segment::open(0, None);
        add(&mut segment, 0, HOUR_START - 72 * 60 * MINUTE);

        assert!(segment.passed_by(HOUR_START, &limits()));
    }

    #[test]
    fn the_record_limit_counts_every_message_from_the_first_offset() {
        let limits = SegmentConfig {
            max_records: 3,
            ..limits()
        };
        let mut segment = Segment::open(40, None);
        add(&mut segment, 40, HOUR_START);
        segment.add_message(41, 100);
        assert_eq!(segment.full(&limits), None);
        segment.add_message(42, 100);

        assert_eq!(segment.full(&limits), Some(CloseCause::Records));
        assert_eq!((segment.first_offset(), segment.last_offset()), (40, 42));
    }

    #[test]
    fn a_segment_holding_the_most_hours_allowed_closes() {
        let limits = SegmentConfig {
            max_hours: 2,
            ..limits()
        };
        let mut segment = Segment::open(0, None);
        add(&mut segment, 0, HOUR_START - 50 * 60 * MINUTE);
        assert_eq!(segment.full(&limits), None);
        add(&mut segment, 1, HOUR_START - 40 * 60 * MINUTE);

        assert_eq!(segment.full(&limits), Some(CloseCause::Hours));
    }

    #[test]
    fn a_marked_segment_closes_at_its_marked_offset_whatever_the_limits_say() {
        let limits = SegmentConfig {
            max_records: 1,
            ..limits()
        };
        let mut segment = Segment::open(10, Some(12));
        add(&mut segment, 10, HOUR_START);
        assert!(!segment.passed_by(HOUR_START + 120 * MINUTE, &limits));
        assert_eq!(segment.full(&limits), None);
        add(&mut segment, 11, HOUR_START + 120 * MINUTE);
        add(&mut segment, 12, HOUR_START + 121 * MINUTE);

        assert_eq!(segment.full(&limits), Some(CloseCause::Marker));
        assert!(!segment.expired(Duration::ZERO));
    }
}
