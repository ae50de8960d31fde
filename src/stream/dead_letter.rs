//! The dead-letter topic: documents that cannot be converted are produced there unchanged,
//! with headers naming the reason and where they came from.
//!
//! Delivery is at least once: a partition's offset is committed only after every letter
//! sent so far is acknowledged, and a failed delivery is sent again.

use std::collections::VecDeque;
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
    pending: VecDeque<(DeadLetter, Option<DeliveryFuture>)>,
}

impl DeadLetters {
    pub fn new(producer: FutureProducer, topic: String) -> DeadLetters {
        DeadLetters {
            producer,
            topic,
            pending: VecDeque::new(),
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
            Ok(delivery) => self.pending.push_back((letter, Some(delivery))),
            Err((err, _)) => {
                tracing::warn!(error = %err, "dead-letter queue full; sending at next commit");
                self.pending.push_back((letter, None));
            }
        }
    }

    /// Waits until every letter sent so far is acknowledged, sending failed ones again
    /// with backoff until they are delivered or `give_up` is cancelled.
    ///
    /// A letter leaves `pending` only once it is acknowledged, so that a confirmation cut
    /// short (the write timeout drops this future; `give_up` ends it) leaves every letter
    /// not yet acknowledged, of any partition, for the next commit to wait for. Forgetting
    /// them would let that commit pass a reject that is in neither the output nor the
    /// dead-letter topic.
    pub async fn confirm(&mut self, give_up: &CancellationToken) -> Result<(), DeadLetterError> {
        while let Some((letter, delivery)) = self.pending.front_mut() {
            // Awaited in place: an interrupted wait resumes at the next confirmation.
            let delivered = match delivery {
                Some(delivery) => matches!(delivery.await, Ok(Ok(_))),
                None => false,
            };
            if !delivered {
                *delivery = None;
                let letter = &*letter;
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
            self.pending.pop_front();
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::KafkaConfig;

    /// A producer whose deliveries all fail quickly: nothing listens on port 1.
    fn unreachable_letters() -> DeadLetters {
        let kafka = KafkaConfig {
            brokers: "127.0.0.1:1".into(),
            options: BTreeMap::from([("message.timeout.ms".to_string(), "100".to_string())]),
            ..KafkaConfig::default()
        };
        let producer = super::super::consumer::dead_letter_producer(&kafka).expect("producer");
        DeadLetters::new(producer, "espy-dead-letter".into())
    }

    fn letter(partition: i32, offset: i64) -> DeadLetter {
        DeadLetter {
            key: None,
            payload: b"{\"SourceName\":\"Microsoft-Windows-Sysmon\"".to_vec(),
            reason: RejectReason::NotJson,
            detail: "EOF while parsing an object".into(),
            source_topic: "winlogbeat".into(),
            source_partition: partition,
            source_offset: offset,
        }
    }

    #[tokio::test]
    async fn letters_stay_pending_when_the_write_timeout_cuts_a_confirmation_short() {
        let mut letters = unreachable_letters();
        // Letters of two partitions: the next commit of either must wait for all of them.
        letters.send(letter(0, 10));
        letters.send(letter(1, 20));
        letters.send(letter(1, 21));

        let never = CancellationToken::new();
        let cut = tokio::time::timeout(Duration::from_millis(1500), letters.confirm(&never)).await;

        assert!(cut.is_err(), "an undeliverable letter was confirmed");
        assert_eq!(letters.pending(), 3, "letters were forgotten unconfirmed");
    }

    #[tokio::test]
    async fn letters_after_the_one_that_gave_up_stay_pending() {
        let mut letters = unreachable_letters();
        letters.send(letter(0, 10));
        letters.send(letter(1, 20));

        let give_up = CancellationToken::new();
        give_up.cancel();
        let outcome = letters.confirm(&give_up).await;

        assert!(outcome.is_err(), "an undeliverable letter was confirmed");
        assert_eq!(letters.pending(), 2, "letters were forgotten unconfirmed");
    }
}
