//! The dead-letter topic: documents that cannot be converted are produced there unchanged,
//! with headers naming the reason and where they came from.
//!
//! Delivery is at least once: a partition's offset is committed only after every letter
//! sent so far is acknowledged, and a failed delivery is sent again.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;

use crate::input::RejectReason;
use crate::metrics;

/// Header names a dead-letter consumer can rely on.
pub const REASON_HEADER: &str = "espy.reason";
pub const DETAIL_HEADER: &str = "espy.detail";
pub const SOURCE_TOPIC_HEADER: &str = "espy.source.topic";
pub const SOURCE_PARTITION_HEADER: &str = "espy.source.partition";
pub const SOURCE_OFFSET_HEADER: &str = "espy.source.offset";

/// One rejected message, owned so that it can be sent again.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub reason: RejectReason,
    pub detail: String,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
}

impl DeadLetter {
    fn headers(&self) -> OwnedHeaders {
        let partition = self.source_partition.to_string();
        let offset = self.source_offset.to_string();
        [
            (REASON_HEADER, self.reason.as_str()),
            (DETAIL_HEADER, self.detail.as_str()),
            (SOURCE_TOPIC_HEADER, self.source_topic.as_str()),
            (SOURCE_PARTITION_HEADER, partition.as_str()),
            (SOURCE_OFFSET_HEADER, offset.as_str()),
        ]
        .into_iter()
        .fold(OwnedHeaders::new(), |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(value),
            })
        })
    }

    fn record<'a>(&'a self, topic: &'a str) -> FutureRecord<'a, [u8], [u8]> {
        let record = FutureRecord::to(topic)
            .payload(self.payload.as_slice())
            .headers(self.headers());
        match &self.key {
            Some(key) => record.key(key.as_slice()),
            None => record,
        }
    }
}

/// A dead letter that could not be delivered before espy had to give up (shutdown).
#[derive(Debug, thiserror::Error)]
#[error("dead letter for {topic}/{partition}@{offset} not delivered: {source}")]
pub struct DeadLetterError {
    topic: String,
    partition: i32,
    offset: i64,
    source: KafkaError,
}

/// The producer for the dead-letter topic and the letters not yet acknowledged.
pub struct DeadLetters {
    producer: FutureProducer,
    topic: String,
    /// Letters sent and their delivery, `None` where the producer queue refused them.
    pending: Vec<(DeadLetter, Option<DeliveryFuture>)>,
}

impl DeadLetters {
    pub fn new(producer: FutureProducer, topic: String) -> DeadLetters {
        DeadLetters {
            producer,
            topic,
            pending: Vec::new(),
        }
    }

    /// Letters sent but not yet acknowledged.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Queues a letter for sending; [`DeadLetters::confirm`] waits for it. A full producer
    /// queue is not an error here: the letter is delivered by `confirm` instead.
    pub fn send(&mut self, letter: DeadLetter) {
        metrics::counter!(metrics::DEAD_LETTERS, "reason" => letter.reason.as_str()).increment(1);
        match self.producer.send_result(letter.record(&self.topic)) {
            Ok(delivery) => self.pending.push((letter, Some(delivery))),
            Err((err, _)) => {
                tracing::warn!(error = %err, "dead-letter queue full; sending at next commit");
                self.pending.push((letter, None));
            }
        }
    }

    /// Waits until every letter sent so far is acknowledged, sending failed ones again
    /// with backoff until they are delivered or `give_up` is cancelled.
    pub async fn confirm(&mut self, give_up: &CancellationToken) -> Result<(), DeadLetterError> {
        for (letter, delivery) in std::mem::take(&mut self.pending) {
            if let Some(delivery) = delivery
                && matches!(delivery.await, Ok(Ok(_)))
            {
                continue;
            }
            let deliver = || async {
                self.producer
                    .send(letter.record(&self.topic), Duration::from_secs(30))
                    .await
                    .map(|_| ())
                    .map_err(|(err, _)| err)
            };
            let retried = deliver.retry(backoff()).notify(|err, wait| {
                metrics::counter!(metrics::BROKER_ERRORS, "kind" => "produce").increment(1);
                tracing::warn!(error = %err, retry_in = ?wait, "dead letter not delivered");
            });
            let outcome = tokio::select! {
                outcome = retried => outcome,
                _ = give_up.cancelled() => Err(KafkaError::Canceled),
            };
            outcome.map_err(|source| DeadLetterError {
                topic: letter.source_topic.clone(),
                partition: letter.source_partition,
                offset: letter.source_offset,
                source,
            })?;
        }
        Ok(())
    }
}

/// The retry schedule for broker and store operations: exponential from 100 ms up to 30 s,
/// without a limit on attempts, since giving up would lose data.
pub fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(30))
        .with_jitter()
        .without_max_times()
}
