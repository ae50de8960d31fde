//! When offsets are committed: a closed segment's marker, then its objects, then its
//! dead letters are made durable, and only then is the offset after it committed.
//!
//! Store and broker failures are retried with backoff for as long as it takes, unless the
//! shutdown grace period ends; an uncommitted segment is simply replayed later.

use std::future::Future;
use std::time::{Duration, Instant};

use backon::{BlockingRetryable, ExponentialBuilder, Retryable};
use bytes::Bytes;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use super::consumer::EspyContext;
use super::dead_letter::{DeadLetterError, DeadLetters, backoff};
use super::marker::{Marker, marker_path, writer_name};
use super::segment::{CloseCause, Segment};
use crate::health::Health;
use crate::metrics;
use crate::store::{Store, StoreError, Written};

/// How long after its first attempt a failed commit is still tried again.
const COMMIT_RETRY_WINDOW: Duration = Duration::from_secs(5);

/// Why a segment was not committed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    DeadLetter(#[from] DeadLetterError),
    #[error("cannot commit offset {offset} of {topic}/{partition}: {source}")]
    Commit {
        topic: String,
        partition: i32,
        offset: i64,
        source: KafkaError,
    },
    #[error("gave up at the end of the shutdown grace period")]
    GaveUp,
    #[error("the segment was not durable after {seconds} s of retries")]
    TimedOut { seconds: u64 },
    #[error("marker {path} records another end for this segment, written by another attempt")]
    MarkerTaken { path: String },
}

impl WriteError {
    /// Whether the partition cannot go on without a human (an object exists with other
    /// content); everything else resolves by replay.
    pub fn is_permanent(&self) -> bool {
        matches!(self, WriteError::Store(StoreError::Conflict { .. }))
    }

    /// Whether the segment's objects and dead letters were made durable before the failure,
    /// so that only its commit is missing.
    pub fn objects_durable(&self) -> bool {
        matches!(self, WriteError::Commit { .. })
    }
}

/// Writes closed segments and commits after them.
pub struct SegmentWriter {
    store: Store,
    /// How long one segment's writes are retried before the segment is read again, so that
    /// the consuming thread polls often enough to stay in its group.
    write_timeout: Duration,
    runtime: Handle,
    health: std::sync::Arc<Health>,
    give_up: CancellationToken,
}

impl SegmentWriter {
    pub fn new(
        store: Store,
        write_timeout: Duration,
        runtime: Handle,
        health: std::sync::Arc<Health>,
        give_up: CancellationToken,
    ) -> SegmentWriter {
        SegmentWriter {
            store,
            write_timeout,
            runtime,
            health,
            give_up,
        }
    }

    /// The last offset an earlier attempt recorded for the segment starting at
    /// `first_offset`, if it left a marker. An unreadable store is an error, never "no
    /// marker": cutting the segment elsewhere than the earlier attempt would conflict.
    pub fn marked_last_offset(
        &self,
        topic: &str,
        partition: i32,
        first_offset: i64,
    ) -> Result<Option<i64>, WriteError> {
        let path = marker_path(topic, partition, first_offset);
        let read = self.block_on_within_timeout(self.persist(|| self.store.get(&path)));
        if matches!(read, Err(WriteError::TimedOut { .. })) {
            self.store_timed_out();
        }
        let Some(bytes) = read? else {
            return Ok(None);
        };
        match serde_json::from_slice::<Marker>(&bytes) {
            Ok(marker) if marker.first_offset == first_offset && marker.partition == partition => {
                tracing::info!(
                    topic,
                    partition,
                    first_offset,
                    last_offset = marker.last_offset,
                    "replaying a segment up to its marked offset"
                );
                Ok(Some(marker.last_offset))
            }
            Ok(_) | Err(_) => {
                // Removed, so that this attempt can write its own marker create-only.
                tracing::warn!(topic, partition, %path, "removing a marker that does not describe this segment");
                self.block_on_within_timeout(self.persist(|| self.store.delete(&path)))?;
                Ok(None)
            }
        }
    }

    /// Checks in the background whether the store answers, for readiness while no segment
    /// is being written.
    pub fn probe_store(&self) {
        let (store, health) = (self.store.clone(), self.health.clone());
        let timeout = self.write_timeout;
        self.runtime.spawn(async move {
            let answered = tokio::time::timeout(timeout, store.check()).await;
            health.set_store_reachable(matches!(answered, Ok(Ok(()))));
        });
    }

    /// Reports a store wait that outlasted the write timeout as a store error and the store
    /// as unreachable: object_store retries an unanswered request by itself for longer than
    /// a short write timeout, so without this the outage would show in neither.
    fn store_timed_out(&self) {
        metrics::counter!(metrics::STORE_ERRORS, "operation" => "timeout").increment(1);
        self.health.set_store_reachable(false);
    }

    /// Runs store work on the runtime, failing with [`WriteError::TimedOut`] after the
    /// write timeout.
    fn block_on_within_timeout<T>(
        &self,
        work: impl Future<Output = Result<T, WriteError>>,
    ) -> Result<T, WriteError> {
        self.runtime.block_on(async {
            tokio::time::timeout(self.write_timeout, work)
                .await
                .unwrap_or(Err(WriteError::TimedOut {
                    seconds: self.write_timeout.as_secs(),
                }))
        })
    }

    /// Makes the segment durable and commits the offset after it.
    pub fn write_and_commit(
        &self,
        consumer: &BaseConsumer<EspyContext>,
        topic: &str,
        partition: i32,
        segment: Segment,
        cause: CloseCause,
        dead_letters: &mut DeadLetters,
    ) -> Result<(), WriteError> {
        let first_offset = segment.first_offset();
        let last_offset = segment.last_offset();
        metrics::counter!(metrics::SEGMENTS_CLOSED, "cause" => cause.as_str()).increment(1);
        let started = Instant::now();

        let marker = Marker {
            partition,
            first_offset,
            last_offset,
        };
        let marker_path = marker_path(topic, partition, first_offset);
        let marker_bytes = Bytes::from(serde_json::to_vec(&marker).unwrap_or_default());
        let objects = segment
            .into_buckets()
            .finish(&writer_name(topic, partition, first_offset));
        let object_count = objects.len();
        // Whether the store's part was done when the timeout struck, which leaves only the
        // dead letters (the broker) to blame.
        let stored = std::cell::Cell::new(false);
        let durable = async {
            // Create-only where the store supports it: the first marker of a segment fixes its
            // end for every writer. A replica that lost its partition while it wrote (session
            // lost, poll interval exceeded) and the partition's new owner may both be cutting
            // the segment; the one whose marker comes second reads the segment again and
            // follows the first, so that both write the same objects. Replays of one's own
            // attempts write an identical marker, which counts as written.
            match self
                .persist(|| self.store.put_object(&marker_path, marker_bytes.clone()))
                .await
            {
                Err(WriteError::Store(StoreError::Conflict { path })) => {
                    return Err(WriteError::MarkerTaken { path });
                }
                other => other?,
            };
            let writes = objects.into_iter().map(|object| async move {
                let bytes = Bytes::from(object.bytes);
                let written = self.persist(|| self.store.put_object(&object.path, bytes.clone())).await?;
                let log = object.log.as_str();
                metrics::counter!(metrics::OBJECTS_WRITTEN, "log" => log).increment(1);
                metrics::counter!(metrics::RECORDS_WRITTEN, "log" => log).increment(object.rows);
                metrics::counter!(metrics::OBJECT_BYTES_WRITTEN, "log" => log).increment(bytes.len() as u64);
                tracing::debug!(path = %object.path, rows = object.rows, identical_rewrite = written == Written::AlreadyIdentical, "object written");
                Ok::<(), WriteError>(())
            });
            futures::future::try_join_all(writes).await?;
            stored.set(true);
            dead_letters.confirm(&self.give_up).await?;
            Ok::<(), WriteError>(())
        };
        let outcome = self.block_on_within_timeout(durable);
        if matches!(outcome, Err(WriteError::TimedOut { .. })) && !stored.get() {
            self.store_timed_out();
        }
        outcome?;
        metrics::histogram!(metrics::FLUSH_SECONDS).record(started.elapsed().as_secs_f64());

        let committed = Instant::now();
        let next_offset = last_offset + 1;
        self.commit(consumer, topic, partition, next_offset)?;
        metrics::histogram!(metrics::COMMIT_SECONDS).record(committed.elapsed().as_secs_f64());
        tracing::info!(
            topic,
            partition,
            first_offset,
            last_offset,
            objects = object_count,
            cause = cause.as_str(),
            "segment written and committed"
        );

        // Nothing replays from first_offset once next_offset is committed, so a marker left
        // behind by a failed delete is harmless, and the consuming thread need not wait for
        // the delete (object_store retries a failing store for minutes).
        let store = self.store.clone();
        self.runtime.spawn(async move {
            if let Err(err) = store.delete(&marker_path).await {
                tracing::warn!(error = %err, "cannot delete marker");
            }
        });
        Ok(())
    }

    fn commit(
        &self,
        consumer: &BaseConsumer<EspyContext>,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<(), WriteError> {
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(topic, partition, Offset::Offset(offset))
            .map_err(|source| WriteError::Commit {
                topic: topic.into(),
                partition,
                offset,
                source,
            })?;
        // A commit that keeps failing means the group moved on (rebalance, session lost):
        // the next owner replays the segment and rewrites identical objects. Only quick
        // failures are tried again: without a coordinator librdkafka holds each attempt for
        // up to a session timeout, and four more of those would keep this thread from
        // polling for minutes.
        let attempts = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(100))
            .with_max_times(4);
        let started = Instant::now();
        (|| consumer.commit(&list, CommitMode::Sync))
            .retry(attempts)
            .when(|_| started.elapsed() < COMMIT_RETRY_WINDOW)
            .notify(|err, _| {
                metrics::counter!(metrics::BROKER_ERRORS, "kind" => "commit").increment(1);
                tracing::warn!(topic, partition, offset, error = %err, "commit failed");
            })
            .call()
            .map_err(|source| WriteError::Commit {
                topic: topic.into(),
                partition,
                offset,
                source,
            })
    }

    /// Runs a store operation with backoff until it succeeds, fails for good, or the
    /// shutdown grace period ends.
    async fn persist<T, F, Fut>(&self, operation: F) -> Result<T, WriteError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let retried = operation
            .retry(backoff())
            .when(StoreError::is_transient)
            .notify(|err: &StoreError, wait| {
                metrics::counter!(metrics::STORE_ERRORS, "operation" => err.operation())
                    .increment(1);
                self.health.set_store_reachable(false);
                tracing::warn!(error = %err, retry_in = ?wait, "store error");
            });
        let outcome = tokio::select! {
            outcome = retried => outcome.map_err(WriteError::from),
            _ = self.give_up.cancelled() => Err(WriteError::GaveUp),
        };
        if let Err(WriteError::Store(err)) = &outcome {
            metrics::counter!(metrics::STORE_ERRORS, "operation" => err.operation()).increment(1);
        } else if outcome.is_ok() {
            self.health.set_store_reachable(true);
        }
        outcome
    }
}
