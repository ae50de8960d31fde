//! Where events come in: the Kafka consumer, its librdkafka settings, and the callbacks
//! that report rebalances, lag and broker errors.
//!
//! Callbacks run inside `poll` on the consuming thread; rebalances are queued here and
//! handled by the loop right after the `poll` that delivered them, before any message.

use std::sync::{Arc, Mutex, PoisonError};

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;
use rdkafka::statistics::Statistics;

use crate::config::KafkaConfig;
use crate::health::Health;
use crate::metrics;

/// A partition of a topic.
pub type TopicPartition = (String, i32);

/// A change of assignment, in the order librdkafka reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentChange {
    Assigned(Vec<TopicPartition>),
    Revoked(Vec<TopicPartition>),
}

/// The consumer's context: queues rebalances and turns statistics and errors into metrics.
pub struct EspyContext {
    changes: Mutex<Vec<AssignmentChange>>,
    health: Arc<Health>,
    /// The latest client error, to explain a failed start-up.
    last_error: Mutex<Option<String>>,
}

impl EspyContext {
    /// Takes the assignment changes reported since the last call.
    pub fn take_changes(&self) -> Vec<AssignmentChange> {
        std::mem::take(&mut *self.changes.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The latest error librdkafka reported, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ClientContext for EspyContext {
    fn stats(&self, statistics: Statistics) {
        // Bootstrap entries never reach UP once the real brokers are known; any broker up
        // means the cluster answers.
        let reachable = statistics
            .brokers
            .values()
            .any(|broker| broker.state == "UP");
        self.health.set_broker_reachable(reachable);
        for (topic, stats) in &statistics.topics {
            for (partition, partition_stats) in &stats.partitions {
                // Partition -1 is librdkafka's internal bookkeeping; negative lag is unknown.
                if *partition < 0 || partition_stats.consumer_lag < 0 {
                    continue;
                }
                metrics::gauge!(metrics::CONSUMER_LAG,
                    "topic" => topic.clone(), "partition" => partition.to_string())
                .set(partition_stats.consumer_lag as f64);
            }
        }
    }

    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_librdkafka(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        metrics::counter!(metrics::BROKER_ERRORS, "kind" => "client").increment(1);
        if matches!(
            error.rdkafka_error_code(),
            Some(rdkafka::types::RDKafkaErrorCode::AllBrokersDown)
        ) {
            self.health.set_broker_reachable(false);
        }
        tracing::error!(error = %error, reason, "kafka client error");
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(reason.to_string());
    }
}

impl ConsumerContext for EspyContext {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let partitions = |list: &rdkafka::TopicPartitionList| -> Vec<TopicPartition> {
            list.elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect()
        };
        let change = match rebalance {
            Rebalance::Assign(list) => AssignmentChange::Assigned(partitions(list)),
            Rebalance::Revoke(list) => AssignmentChange::Revoked(partitions(list)),
            Rebalance::Error(err) => {
                metrics::counter!(metrics::BROKER_ERRORS, "kind" => "rebalance").increment(1);
                tracing::error!(error = %err, "rebalance failed");
                return;
            }
        };
        self.health.set_joined(true);
        self.changes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(change);
    }
}

/// Forwards a librdkafka log line to `tracing` at the matching level; its chatty levels
/// become debug.
pub fn log_librdkafka(level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => tracing::error!(facility, "librdkafka: {message}"),
        RDKafkaLogLevel::Warning => tracing::warn!(facility, "librdkafka: {message}"),
        _ => tracing::debug!(facility, "librdkafka: {message}"),
    }
}

/// librdkafka settings espy chooses; the operator's pass-through options override them.
fn client_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &kafka.brokers);
    config
}

/// Builds the group consumer, subscribed to the configured topics.
pub fn consumer(
    kafka: &KafkaConfig,
    health: Arc<Health>,
) -> Result<BaseConsumer<EspyContext>, KafkaError> {
    let mut config = client_config(kafka);
    config
        .set("group.id", &kafka.group_id)
        .set("enable.auto.commit", "false")
        // Offsets are stored and committed by espy only after a segment is durable.
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", &kafka.assignment_strategy)
        // Prefetched messages, per partition: librdkafka's default (64 MiB) times the
        // partitions a replica may own would be most of its memory, and a compressed batch
        // stays decompressed in memory until its last message is processed. 1 MiB per
        // partition measured within 3% of 4 MiB's throughput at less than half the RSS.
        .set("queued.max.messages.kbytes", "1024")
        // With a small queue the fetcher often finds it full; librdkafka's default of
        // waiting 1 s before it looks again starves the consumer.
        .set("fetch.queue.backoff.ms", "10")
        .set("statistics.interval.ms", "15000");
    for (key, value) in kafka.librdkafka_options() {
        config.set(key, value);
    }
    let context = EspyContext {
        changes: Mutex::new(Vec::new()),
        health,
        last_error: Mutex::new(None),
    };
    let consumer: BaseConsumer<EspyContext> = config.create_with_context(context)?;
    let topics: Vec<&str> = kafka.topics.iter().map(String::as_str).collect();
    rdkafka::consumer::Consumer::subscribe(&consumer, &topics)?;
    Ok(consumer)
}

/// Builds the producer for the dead-letter topic, with the same connection settings.
pub fn dead_letter_producer(kafka: &KafkaConfig) -> Result<FutureProducer, KafkaError> {
    let mut config = client_config(kafka);
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        // Oversize documents are dead-lettered whole.
        .set(
            "message.max.bytes",
            (kafka.max_message_bytes.max(1 << 20) * 2).to_string(),
        );
    for (key, value) in kafka.librdkafka_options() {
        config.set(key, value);
    }
    // Lag comes from the consumer's statistics; the producer's would only be logged.
    config.set("statistics.interval.ms", "0");
    config.create()
}
