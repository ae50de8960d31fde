//! How replay's messages reach Kafka: one librdkafka producer tuned for throughput, pacing
//! against absolute deadlines (so a long run at `--rate` never drifts), and delivery
//! accounting from librdkafka's delivery reports.
//!
//! It does not retry what librdkafka gave up on: a message not delivered within
//! `message.timeout.ms` is counted as failed and reported.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::util::Timeout;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::plan::Plan;
use crate::config::KafkaConfig;

/// Delivery errors logged one by one; the rest are only counted.
const LOGGED_FAILURES: u64 = 10;

/// A failure to start publishing, naming the brokers or topic.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot create a Kafka producer for {brokers}: {source}")]
    Producer {
        brokers: String,
        source: Box<KafkaError>,
    },
    #[error("brokers {brokers} did not answer a metadata request for topic {topic}: {source}")]
    Unreachable {
        brokers: String,
        topic: String,
        source: Box<KafkaError>,
    },
    #[error("topic {topic} is not available on {brokers}: {reason}")]
    Topic {
        brokers: String,
        topic: String,
        reason: String,
    },
}

/// What a publishing run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Messages handed to librdkafka or refused by it.
    pub attempted: u64,
    pub delivered: u64,
    /// Messages refused at send or reported undelivered.
    pub failed: u64,
    /// Key and payload bytes of delivered messages.
    pub bytes: u64,
    /// From the first send to the last delivery report.
    pub seconds: f64,
    /// The first delivery error, for the final message.
    pub first_error: Option<String>,
    /// Stopped early by Ctrl-C.
    pub interrupted: bool,
}

/// Counts delivery reports; they arrive on librdkafka's polling thread.
#[derive(Default)]
pub struct Deliveries {
    delivered: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    first_error: Mutex<Option<String>>,
    /// Signalled on every report, so a sender waiting for queue space wakes up.
    progress: Notify,
}

impl Deliveries {
    fn fail(&self, error: &KafkaError) {
        let failed = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
        if failed <= LOGGED_FAILURES {
            tracing::warn!(error = %error, failed, "message not delivered");
        }
        self.first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(|| error.to_string());
    }
}

impl ClientContext for Deliveries {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        crate::stream::consumer::log_librdkafka(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::error!(error = %error, reason, "kafka client error");
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(message) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
                let size = message.payload_len() + message.key_len();
                self.bytes.fetch_add(size as u64, Ordering::Relaxed);
            }
            Err((error, _)) => self.fail(error),
        }
        self.progress.notify_one();
    }
}

/// The producer replay publishes with.
pub type ReplayProducer = ThreadedProducer<Deliveries>;

/// Builds the producer: espy's throughput settings first, then the configuration's and the
/// command line's pass-through options, which win.
pub fn producer(kafka: &KafkaConfig, compression: &str) -> Result<ReplayProducer, PublishError> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &kafka.brokers)
        .set("compression.codec", compression)
        // Slightly above librdkafka's 5 ms: at load-test rates batches fill anyway, and at
        // low rates a replay has no latency to protect. Measured against tansu on this
        // project's 2-core machine, 5 to 50 ms all gave 220k-500k msgs/s of 1.5 KB with lz4;
        // the spread was other load, not the setting.
        .set("linger.ms", "10")
        .set("batch.num.messages", "10000")
        .set("batch.size", "1000000")
        // librdkafka's default of 100 000 queued messages stalls a fast sender on 1.5 KB
        // documents long before the 256 MiB bound below is reached.
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "262144")
        .set("statistics.interval.ms", "0");
    for (key, value) in kafka.librdkafka_options() {
        config.set(key, value);
    }
    config
        .create_with_context(Deliveries::default())
        .map_err(|source| PublishError::Producer {
            brokers: kafka.brokers.clone(),
            source: Box::new(source),
        })
}

/// Fails early, with the reason, when the brokers do not answer or lack the topic, instead
/// of letting every message time out.
pub fn check_topic(
    producer: &ReplayProducer,
    kafka: &KafkaConfig,
    topic: &str,
) -> Result<(), PublishError> {
    let timeout = Duration::from_secs(kafka.connect_timeout_secs.max(1));
    // A blocking call; the runtime is multi-threaded, so other tasks keep running.
    let metadata =
        tokio::task::block_in_place(|| producer.client().fetch_metadata(Some(topic), timeout))
            .map_err(|source| PublishError::Unreachable {
                brokers: kafka.brokers.clone(),
                topic: topic.to_string(),
                source: Box::new(source),
            })?;
    let missing = |reason: String| PublishError::Topic {
        brokers: kafka.brokers.clone(),
        topic: topic.to_string(),
        reason,
    };
    match metadata.topics().iter().find(|t| t.name() == topic) {
        None => Err(missing("not in the broker's metadata".into())),
        Some(found) => match found.error() {
            Some(code) => Err(missing(RDKafkaErrorCode::from(code).to_string())),
            None if found.partitions().is_empty() => Err(missing("it has no partitions".into())),
            None => Ok(()),
        },
    }
}

/// Publishes `repeat` passes of `plan` to `topic`, at most `rate` messages a second, then
/// waits for every delivery report. Stops sending when `cancel` fires.
pub async fn publish(
    producer: &ReplayProducer,
    topic: &str,
    plan: &Plan,
    repeat: u64,
    rate: Option<NonZeroU32>,
    cancel: &CancellationToken,
) -> Outcome {
    let deliveries = producer.context();
    let mut outcome = Outcome::default();
    let (mut payload, mut key) = (Vec::with_capacity(4096), Vec::with_capacity(64));
    // Checking the clock for every message would cost more than sending at high rates; a
    // thousandth of the rate keeps pacing within a millisecond of its schedule.
    let pace_every = rate.map_or(u64::MAX, |rate| u64::from(rate.get() / 1000).max(1));
    let start = Instant::now();

    'passes: for _ in 0..repeat {
        for message in plan.messages() {
            if cancel.is_cancelled() {
                outcome.interrupted = true;
                break 'passes;
            }
            if let Some(rate) = rate
                && outcome.attempted % pace_every == 0
            {
                let due = Duration::from_secs_f64(outcome.attempted as f64 / f64::from(rate.get()));
                tokio::time::sleep_until(start + due).await;
            }
            let timestamp = plan.render(message, &mut payload, &mut key);
            let mut record = BaseRecord::to(topic).payload(payload.as_slice());
            if !key.is_empty() {
                record = record.key(key.as_slice());
            }
            if let Some(timestamp) = timestamp {
                record = record.timestamp(timestamp);
            }
            outcome.attempted += 1;
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        // Space frees up as deliveries are reported; the timeout only
                        // covers a report that came between the send and this wait.
                        let _ = tokio::time::timeout(
                            Duration::from_millis(100),
                            deliveries.progress.notified(),
                        )
                        .await;
                    }
                    Err((error, _)) => {
                        deliveries.fail(&error);
                        break;
                    }
                }
            }
        }
    }

    // librdkafka reports every message within message.timeout.ms, so this ends.
    if let Err(error) = tokio::task::block_in_place(|| producer.flush(Timeout::Never)) {
        tracing::error!(error = %error, "flushing the producer failed");
    }
    outcome.seconds = start.elapsed().as_secs_f64();
    outcome.delivered = deliveries.delivered.load(Ordering::Relaxed);
    outcome.failed = deliveries.failed.load(Ordering::Relaxed);
    outcome.bytes = deliveries.bytes.load(Ordering::Relaxed);
    outcome.first_error = deliveries
        .first_error
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    outcome
}
