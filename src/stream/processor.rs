//! Where each assigned partition's messages become segments: a message is converted and
//! added to its partition's open segment, and a full, passed or aged segment is closed
//! (written, then committed) before anything after it is.
//!
//! It owns the partitions' state and nothing else: polling, signals and start-up are in
//! `stream::run`, writing and committing in `writer`.

use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::BorrowedMessage;

use super::consumer::{AssignmentChange, EspyContext};
use super::counters::OutcomeCounters;
use super::dead_letter::{DeadLetter, DeadLetters};
use super::segment::{CloseCause, Segment};
use super::writer::SegmentWriter;
use crate::config::Config;
use crate::event::Micros;
use crate::input::{self, Decoded, RejectReason};
use crate::metrics;
use crate::zeek::{Formatter, LogType};

/// Makes the partition deliver `offset` again, dropping what it buffered since.
fn rewind(consumer: &BaseConsumer<EspyContext>, partition: &mut Partition, offset: i64) {
    partition.segment = None;
    let seek = consumer.seek(
        &partition.topic,
        partition.partition,
        rdkafka::Offset::Offset(offset),
        Duration::from_secs(10),
    );
    if let Err(err) = seek {
        tracing::error!(topic = %partition.topic, partition = partition.partition, error = %err,
            "cannot seek back; the partition stops until it is assigned again");
        partition.stopped = true;
    }
}

/// What one message became.
enum Outcome {
    /// An event whose `count` rows are in `Processor::rows`.
    Rows {
        log: LogType,
        time: Micros,
        count: usize,
    },
    Skipped,
    Rejected {
        reason: RejectReason,
        detail: String,
    },
}

/// How closing a partition's segment ended, which decides what may happen next there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    /// Written and committed, or no segment was open.
    Committed,
    /// Written but not committed; the next segment's commit covers it.
    Uncommitted,
    /// Not written; the partition was sought back to the segment's first offset.
    Rewound,
    /// Not written: librdkafka considers the assignment lost, and the partition's next
    /// owner replays the segment from the committed offset.
    Abandoned,
    /// A conflicting object stopped the partition for good.
    Stopped,
}

/// One assigned partition and its open segment.
struct Partition {
    topic: String,
    partition: i32,
    segment: Option<Segment>,
    /// Set when a segment could not be written for good (a conflicting object): the
    /// partition is paused and nothing more is committed for it.
    stopped: bool,
}

/// The consuming thread's state: what is assigned and what is buffered.
pub(super) struct Processor {
    config: Config,
    formatter: Formatter,
    pub(super) writer: SegmentWriter,
    dead_letters: DeadLetters,
    partitions: Vec<Partition>,
    counters: OutcomeCounters,
    /// Scratch space for one event's rows.
    rows: Vec<u8>,
}

impl Processor {
    pub(super) fn new(
        config: Config,
        formatter: Formatter,
        writer: SegmentWriter,
        dead_letters: DeadLetters,
    ) -> Processor {
        Processor {
            config,
            formatter,
            writer,
            dead_letters,
            partitions: Vec::new(),
            counters: OutcomeCounters::new(),
            rows: Vec::with_capacity(4096),
        }
    }

    pub(super) fn apply(&mut self, consumer: &BaseConsumer<EspyContext>, change: AssignmentChange) {
        match change {
            AssignmentChange::Assigned(assigned) => {
                metrics::counter!(metrics::REBALANCES, "kind" => "assign").increment(1);
                tracing::info!(partitions = ?assigned, "partitions assigned");
                // librdkafka keeps a partition paused through a revoke and a new assignment
                // (librdkafka#1849): one stopped here by a conflict and assigned here again
                // would never deliver, although a stopped partition continues wherever it is
                // assigned next. Resuming a partition that is not paused changes nothing.
                let mut list = rdkafka::TopicPartitionList::new();
                for (topic, partition) in &assigned {
                    list.add_partition(topic, *partition);
                }
                if let Err(err) = consumer.resume(&list) {
                    tracing::warn!(error = %err, "cannot resume assigned partitions");
                }
                for (topic, partition) in assigned {
                    if self.position(&topic, partition).is_none() {
                        self.partitions.push(Partition {
                            topic,
                            partition,
                            segment: None,
                            stopped: false,
                        });
                    }
                }
            }
            AssignmentChange::Revoked(revoked) => {
                metrics::counter!(metrics::REBALANCES, "kind" => "revoke").increment(1);
                tracing::info!(partitions = ?revoked, "partitions revoked; open segments abandoned to the next owner");
                self.partitions.retain(|p| {
                    !revoked
                        .iter()
                        .any(|(t, n)| *t == p.topic && *n == p.partition)
                });
            }
        }
        metrics::gauge!(metrics::ASSIGNED_PARTITIONS).set(self.partitions.len() as f64);
    }

    fn position(&self, topic: &str, partition: i32) -> Option<usize> {
        self.partitions
            .iter()
            .position(|p| p.partition == partition && p.topic == topic)
    }

    /// Adds one message to its partition's segment and closes the segment when full.
    pub(super) fn process(
        &mut self,
        consumer: &BaseConsumer<EspyContext>,
        message: &BorrowedMessage<'_>,
    ) {
        let Some(index) = self.position(message.topic(), message.partition()) else {
            // Fetched before a revoke; the partition's new owner reads it again.
            return;
        };
        if self.partitions[index].stopped {
            return;
        }
        let offset = message.offset();
        let payload = message.payload().unwrap_or_default();
        let outcome = self.convert(payload, message);
        let limits = &self.config.segment;
        if let Outcome::Rows { time, .. } = outcome
            && self.partitions[index]
                .segment
                .as_ref()
                .is_some_and(|segment| segment.passed_by(time, limits))
            && matches!(
                self.close(consumer, index, CloseCause::EventTime),
                Closed::Rewound | Closed::Stopped | Closed::Abandoned
            )
        {
            // This message comes again after the rewind or to the next owner, or never after
            // a stop: opening a segment at it would seek past the rewound segment, or commit
            // past the stop or the abandoned segment.
            return;
        }

        let partition = &mut self.partitions[index];
        let segment = match &mut partition.segment {
            Some(segment) => segment,
            None => {
                match self
                    .writer
                    .marked_last_offset(&partition.topic, partition.partition, offset)
                {
                    Ok(marked) => partition.segment.insert(Segment::open(offset, marked)),
                    Err(err) => {
                        tracing::warn!(topic = %partition.topic, partition = partition.partition,
                        offset, error = %err, "cannot read the segment marker; reading again");
                        rewind(consumer, partition, offset);
                        return;
                    }
                }
            }
        };
        match outcome {
            Outcome::Rows { log, time, count } => {
                segment.add_rows(log, time, &self.rows, count, &self.config.segment)
            }
            Outcome::Skipped => {}
            Outcome::Rejected { reason, detail } => {
                tracing::warn!(topic = message.topic(), partition = message.partition(), offset,
                    reason = reason.as_str(), %detail, "document rejected");
                self.dead_letters.send(DeadLetter {
                    key: message.key().map(<[u8]>::to_vec),
                    payload: payload.to_vec(),
                    reason,
                    detail,
                    source_topic: message.topic().to_string(),
                    source_partition: message.partition(),
                    source_offset: offset,
                });
            }
        }
        segment.add_message(offset, payload.len());
        if let Some(cause) = segment.full(&self.config.segment) {
            self.close(consumer, index, cause);
        }
    }

    /// Decodes one message and formats its rows into `self.rows`, counting the outcome.
    fn convert(&mut self, payload: &[u8], message: &BorrowedMessage<'_>) -> Outcome {
        let limit = self.config.kafka.max_message_bytes;
        if payload.len() > limit {
            self.counters.count_reject(RejectReason::Oversize, None);
            return Outcome::Rejected {
                reason: RejectReason::Oversize,
                detail: format!(
                    "message of {} bytes is over the {limit}-byte limit",
                    payload.len()
                ),
            };
        }
        // Kafka's timestamp is part of the message, so replays bound event times alike.
        let reference: Micros = message
            .timestamp()
            .to_millis()
            .map_or(i64::MAX / 2, |ms| ms.saturating_mul(1000));
        let decoded = input::decode(payload, reference);
        self.counters.count(&decoded);
        match decoded {
            Decoded::Event(event) => {
                self.rows.clear();
                let count = self.formatter.append_rows(&event, &mut self.rows);
                Outcome::Rows {
                    log: LogType::of(&event),
                    time: event.time,
                    count,
                }
            }
            Decoded::Skipped(_) => Outcome::Skipped,
            Decoded::Rejected(reject) => Outcome::Rejected {
                reason: reject.reason,
                detail: reject.detail,
            },
        }
    }

    /// Writes the partition's open segment and commits after it.
    fn close(
        &mut self,
        consumer: &BaseConsumer<EspyContext>,
        index: usize,
        cause: CloseCause,
    ) -> Closed {
        let partition = &mut self.partitions[index];
        let Some(segment) = partition.segment.take() else {
            return Closed::Committed;
        };
        let first_offset = segment.first_offset();
        if consumer.assignment_lost() {
            // librdkafka gave up the membership (session timed out, poll interval exceeded,
            // typically while this thread waited on the store): the partition may already be
            // another replica's, reading this segment from the committed offset and cutting
            // it at its own end. The revoke that librdkafka queued removes the partition at
            // the next poll; until then nothing more is written for it.
            tracing::warn!(topic = %partition.topic, partition = partition.partition, first_offset,
                "assignment lost; segment left to the partition's next owner");
            return Closed::Abandoned;
        }
        match self.writer.write_and_commit(
            consumer,
            &partition.topic,
            partition.partition,
            segment,
            cause,
            &mut self.dead_letters,
        ) {
            Ok(()) => Closed::Committed,
            Err(err) if err.is_permanent() => {
                tracing::error!(topic = %partition.topic, partition = partition.partition, error = %err,
                    "partition stopped: a human must resolve this before it can continue");
                partition.stopped = true;
                let mut list = rdkafka::TopicPartitionList::new();
                list.add_partition(&partition.topic, partition.partition);
                if let Err(err) = consumer.pause(&list) {
                    tracing::warn!(error = %err, "cannot pause stopped partition");
                }
                Closed::Stopped
            }
            Err(err) if err.objects_durable() => {
                // The next segment's commit covers this one; until then a new owner would
                // replay it and rewrite identical objects.
                tracing::warn!(topic = %partition.topic, partition = partition.partition, error = %err,
                    "segment written but not committed");
                Closed::Uncommitted
            }
            Err(err) => {
                // Going on would let the next commit pass rows that are not durable: read
                // the segment again instead.
                tracing::warn!(topic = %partition.topic, partition = partition.partition, error = %err,
                    first_offset, "segment not written; reading it again");
                rewind(consumer, partition, first_offset);
                Closed::Rewound
            }
        }
    }

    /// Closes segments past the age limit and refreshes the buffer gauges.
    ///
    /// Closing stops once the tick has spent the write timeout; the other expired segments
    /// wait for the next tick, after a poll. Segments opened together after an assignment
    /// expire together, and in a store outage each close takes the whole write timeout:
    /// back to back they would keep the thread from polling past `max.poll.interval.ms`,
    /// and the group would give the partitions to another replica while this one still
    /// writes their segments under the same names, cut elsewhere.
    pub(super) fn tick(&mut self, consumer: &BaseConsumer<EspyContext>) {
        let max_age = Duration::from_secs(self.config.segment.max_age_secs);
        let budget = Duration::from_secs(self.config.output.write_timeout_secs);
        let started = Instant::now();
        for index in 0..self.partitions.len() {
            if self.partitions[index]
                .segment
                .as_ref()
                .is_some_and(|segment| segment.expired(max_age))
            {
                self.close(consumer, index, CloseCause::Age);
                // Checked after a close, so that every tick closes at least one.
                if started.elapsed() >= budget {
                    break;
                }
            }
        }
        let open = || self.partitions.iter().filter_map(|p| p.segment.as_ref());
        metrics::gauge!(metrics::BUFFERED_RECORDS)
            .set(open().map(Segment::rows).sum::<u64>() as f64);
        metrics::gauge!(metrics::BUFFERED_BYTES)
            .set(open().map(Segment::compressed_len).sum::<usize>() as f64);
    }

    /// Closes every open segment; returns whether all were written and committed.
    ///
    /// A segment replayed up to an earlier attempt's marker that has not reached the marked
    /// offset is left to the next owner, which replays it to the marker: written shorter,
    /// its objects would hold fewer rows under the names the earlier attempt may already
    /// have written, a conflict that stops the partition or, without create-only, rows that
    /// the next segment writes again.
    pub(super) fn close_all(
        &mut self,
        consumer: &BaseConsumer<EspyContext>,
        cause: CloseCause,
    ) -> bool {
        // Every segment gets its attempt, whatever became of the ones before it.
        let mut complete = true;
        for index in 0..self.partitions.len() {
            let partition = &mut self.partitions[index];
            if partition
                .segment
                .as_ref()
                .is_some_and(Segment::short_of_marker)
            {
                tracing::info!(topic = %partition.topic, partition = partition.partition,
                    "leaving a segment short of its marked offset to the next owner");
                partition.segment = None;
                continue;
            }
            complete &= self.close(consumer, index, cause) == Closed::Committed;
        }
        complete
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::{consumer, marker};
    use super::*;
    use crate::config::{OutputConfig, S3Config, SegmentConfig};
    use crate::health::Health;
    use crate::store::Store;
    use crate::zeek::FormatSettings;
    use tokio_util::sync::CancellationToken;

    const WRITE_TIMEOUT: Duration = Duration::from_secs(1);
    /// 2019-12-05 04:27:40 UTC.
    const TIME: Micros = 1_575_520_060_000_000;

    /// A processor writing to `output`, with a consumer that has no broker (nothing listens
    /// on port 1) and `segments` open on partitions 0, 1, ... of `winlogbeat`. Segments
    /// expire at once.
    fn processor(
        runtime: &tokio::runtime::Runtime,
        output: OutputConfig,
        segments: Vec<Segment>,
    ) -> (Processor, BaseConsumer<EspyContext>) {
        let mut config = Config::default();
        config.kafka.brokers = "127.0.0.1:1".into();
        // Without a coordinator a commit waits for one for a session timeout: keep it short.
        config.kafka.options = [
            ("session.timeout.ms", "1000"),
            ("heartbeat.interval.ms", "100"),
        ]
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .into();
        config.output = OutputConfig {
            write_timeout_secs: WRITE_TIMEOUT.as_secs(),
            ..output
        };
        config.segment = SegmentConfig {
            max_age_secs: 0,
            ..SegmentConfig::default()
        };
        let health = Arc::new(Health::default());
        let consumer = consumer::consumer(&config.kafka, health.clone()).expect("consumer");
        let dead_letters = DeadLetters::new(
            consumer::dead_letter_producer(&config.kafka).expect("producer"),
            config.kafka.dead_letter_topic.clone(),
        );
        let writer = SegmentWriter::new(
            Store::open(&config.output).expect("store"),
            WRITE_TIMEOUT,
            runtime.handle().clone(),
            health,
            CancellationToken::new(),
        );
        let partitions = segments
            .into_iter()
            .zip(0..)
            .map(|(segment, partition)| Partition {
                topic: "winlogbeat".into(),
                partition,
                segment: Some(segment),
                stopped: false,
            })
            .collect();
        let processor = Processor {
            formatter: Formatter::new(FormatSettings::default()).expect("formatter"),
            writer,
            dead_letters,
            partitions,
            counters: OutcomeCounters::new(),
            config,
            rows: Vec::new(),
        };
        (processor, consumer)
    }

    /// A store that never answers: nothing listens on port 1.
    fn unreachable_store() -> OutputConfig {
        OutputConfig {
            root: "s3://espy/zeek".into(),
            s3: S3Config {
                endpoint: Some("http://127.0.0.1:1".into()),
                region: Some("test".into()),
                access_key_id: Some("key".into()),
                secret_access_key: Some("secret".into()),
                allow_http: true,
            },
            ..OutputConfig::default()
        }
    }

    fn folder(root: &std::path::Path) -> OutputConfig {
        OutputConfig {
            root: root.to_string_lossy().into_owned(),
            ..OutputConfig::default()
        }
    }

    /// A segment from `first` to `last` with one conn row per message, an hour apart.
    fn segment(first: i64, last: i64, marked_last_offset: Option<i64>) -> Segment {
        let mut segment = Segment::open(first, marked_last_offset);
        for offset in first..=last {
            let time = TIME + (offset - first) * 3_600_000_000;
            segment.add_rows(LogType::Conn, time, b"row\n", 1, &SegmentConfig::default());
            segment.add_message(offset, 1_000);
        }
        segment
    }

    /// Every file under `root`, relative, sorted.
    fn files(root: &std::path::Path) -> Vec<String> {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    let relative = path.strip_prefix(root).expect("below root");
                    out.push(relative.to_string_lossy().into_owned());
                }
            }
        }
        let mut out = Vec::new();
        walk(root, root, &mut out);
        out.sort();
        out
    }

    #[test]
    fn a_tick_in_a_store_outage_returns_to_polling_within_the_write_timeout() {
        // Segments of many partitions expire in the same tick (they opened together after an
        // assignment). One write timeout each, back to back, would keep the thread from
        // polling for longer than max.poll.interval.ms: the group would move the partitions
        // while this replica still writes them.
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let segments = (0..4).map(|_| segment(100, 100, None)).collect();
        let (mut processor, consumer) = processor(&runtime, unreachable_store(), segments);

        let started = Instant::now();
        processor.tick(&consumer);
        let spent = started.elapsed();

        assert!(
            spent < 2 * WRITE_TIMEOUT,
            "one tick blocked the consuming thread for {spent:?}"
        );
        let still_open = processor
            .partitions
            .iter()
            .filter(|p| p.segment.is_some())
            .count();
        assert_eq!(
            still_open, 3,
            "segments not tried yet must wait for the next tick"
        );
    }

    #[test]
    fn shutdown_leaves_a_replayed_segment_short_of_its_marker_to_the_next_owner() {
        // An earlier attempt cut the segment at offset 103 and may have written some of its
        // objects before it died. Written at shutdown up to offset 101, the same object names
        // would hold fewer rows: a conflict that stops the partition, or, without
        // create-only, rows of 102 and 103 that the next segment writes again.
        let dir = tempfile::tempdir().expect("temp dir");
        let marker = dir.path().join(marker::marker_path("winlogbeat", 0, 100));
        std::fs::create_dir_all(marker.parent().expect("folder")).expect("marker folder");
        let earlier = br#"{"partition":0,"first_offset":100,"last_offset":103}"#;
        std::fs::write(&marker, earlier).expect("marker");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let segments = vec![segment(100, 101, Some(103))];
        let (mut processor, consumer) = processor(&runtime, folder(dir.path()), segments);

        let complete = processor.close_all(&consumer, CloseCause::Shutdown);

        assert!(complete, "leaving a segment to its replay is a clean stop");
        assert_eq!(
            files(dir.path()),
            ["_espy/markers/winlogbeat/p0000/o000000000100.json"]
        );
        assert_eq!(std::fs::read(&marker).expect("marker"), earlier);
    }

    #[test]
    fn a_segment_whose_marker_another_attempt_wrote_with_another_end_is_read_again() {
        // Another replica (one that lost its partition while it wrote) cut the segment that
        // starts at offset 100 at offset 103, and may be writing its objects. Writing this
        // attempt's cut under the same names would mix the two; reading the segment again
        // follows the marker that was there first.
        let dir = tempfile::tempdir().expect("temp dir");
        let marker = dir.path().join(marker::marker_path("winlogbeat", 0, 100));
        std::fs::create_dir_all(marker.parent().expect("folder")).expect("marker folder");
        let first = br#"{"partition":0,"first_offset":100,"last_offset":103}"#;
        std::fs::write(&marker, first).expect("marker");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let segments = vec![segment(100, 101, None)];
        let (mut processor, consumer) = processor(&runtime, folder(dir.path()), segments);

        let closed = processor.close(&consumer, 0, CloseCause::Age);

        assert_eq!(closed, Closed::Rewound);
        assert_eq!(
            files(dir.path()),
            ["_espy/markers/winlogbeat/p0000/o000000000100.json"]
        );
        assert_eq!(std::fs::read(&marker).expect("marker"), first);
    }

    #[test]
    fn a_marker_that_does_not_describe_its_segment_is_removed_and_not_followed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let marker = dir.path().join(marker::marker_path("winlogbeat", 0, 100));
        std::fs::create_dir_all(marker.parent().expect("folder")).expect("marker folder");
        std::fs::write(
            &marker,
            br#"{"partition":7,"first_offset":100,"last_offset":103}"#,
        )
        .expect("marker");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let (processor, _consumer) = processor(&runtime, folder(dir.path()), vec![]);

        let marked = processor.writer.marked_last_offset("winlogbeat", 0, 100);

        assert!(matches!(marked, Ok(None)), "{marked:?}");
        assert!(
            !marker.exists(),
            "the stray marker would block this attempt's own"
        );
    }

    #[test]
    fn a_commit_that_waited_out_an_absent_coordinator_is_not_tried_again_and_again() {
        // Without a group coordinator librdkafka holds a commit for up to a session timeout
        // before failing it. Four more such attempts would keep the consuming thread from
        // polling for minutes, and a shutdown far past its grace period.
        let dir = tempfile::tempdir().expect("temp dir");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let segments = vec![segment(100, 101, None)];
        let (mut processor, _) = processor(&runtime, folder(dir.path()), segments);
        let mut kafka = processor.config.kafka.clone();
        kafka.options = [
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "500"),
        ]
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .into();
        let consumer = consumer::consumer(&kafka, Arc::new(Health::default())).expect("consumer");

        let started = Instant::now();
        let closed = processor.close(&consumer, 0, CloseCause::Age);
        let spent = started.elapsed();

        assert_eq!(closed, Closed::Uncommitted);
        assert!(
            spent < Duration::from_secs(15),
            "the commit held the thread for {spent:?}"
        );
    }
}
