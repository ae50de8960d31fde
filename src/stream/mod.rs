//! `espy run`: the Kafka consumer that cuts each partition into segments, writes a closed
//! segment's objects and only then commits the offset after it.
//!
//! One thread polls the consumer and converts; store and broker calls are made through the
//! tokio runtime and awaited there, so a partition never moves past data that is not
//! durable. Files: `consumer` (where events come in), `processor` (each partition's messages
//! into its segment), `segment` (when a segment closes), `marker` (how a close is made
//! replayable), `writer` (objects, then the commit), `dead_letter` (rejects), `counters`
//! (per-document metrics).

pub mod consumer;
pub mod counters;
pub mod dead_letter;
pub mod marker;
mod processor;
pub mod segment;
pub mod writer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::health::{self, Health};
use crate::metrics;
use crate::store::Store;
use crate::zeek::Formatter;
use consumer::EspyContext;
use dead_letter::DeadLetters;
use processor::Processor;
use segment::CloseCause;
use writer::SegmentWriter;

/// A failure that stops `espy run`.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Health(#[from] health::HealthError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Records(#[from] crate::zeek::FormatError),
    #[error("cannot create the Kafka client: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("brokers {brokers} did not answer within {seconds} s: {reason}")]
    BrokerUnreachable {
        brokers: String,
        seconds: u64,
        reason: String,
    },
    #[error("cannot start the runtime: {0}")]
    Runtime(#[from] std::io::Error),
    #[error("shutdown grace period ended before all segments were written; they will be replayed")]
    GraceExceeded,
}

/// How often open segments are checked against the age limit and gauges are updated.
const TICK: Duration = Duration::from_secs(1);
/// How often the store is probed for readiness.
const STORE_PROBE: Duration = Duration::from_secs(15);

/// Entry point of `espy run`: consumes until SIGTERM or SIGINT, then writes open
/// segments, commits and leaves the group within the configured grace period.
pub fn run(config: Config) -> Result<(), RunError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("espy-io")
        .build()?;
    let health = Arc::new(Health::default());
    let prometheus = health::install_recorder()?;
    let listen = runtime.block_on(health::serve(
        &config.metrics.listen,
        prometheus,
        health.clone(),
    ))?;
    tracing::info!(address = %listen, "serving metrics and probes");

    let store = Store::open(&config.output)?;
    let formatter = Formatter::new(config.records.clone())?;
    let consumer = consumer::consumer(&config.kafka, health.clone())?;
    let dead_letters = DeadLetters::new(
        consumer::dead_letter_producer(&config.kafka)?,
        config.kafka.dead_letter_topic.clone(),
    );
    check_brokers(&consumer, &config)?;
    health.set_broker_reachable(true);
    health.set_store_reachable(runtime.block_on(store.check()).is_ok());

    let stop = CancellationToken::new();
    let give_up = CancellationToken::new();
    runtime.spawn(watch_signals(
        stop.clone(),
        give_up.clone(),
        Duration::from_secs(config.shutdown.grace_secs),
    ));
    tracing::info!(topics = ?config.kafka.topics, group = %config.kafka.group_id, root = %store.root(), "espy run started");

    let writer = SegmentWriter::new(
        store,
        Duration::from_secs(config.output.write_timeout_secs),
        runtime.handle().clone(),
        health,
        give_up.clone(),
    );
    let mut processor = Processor::new(config, formatter, writer, dead_letters);
    let mut next_tick = Instant::now() + TICK;
    let mut next_probe = Instant::now() + STORE_PROBE;
    while !stop.is_cancelled() {
        let polled = consumer.poll(Duration::from_millis(100));
        for change in consumer.context().take_changes() {
            processor.apply(&consumer, change);
        }
        match polled {
            Some(Ok(message)) => processor.process(&consumer, &message),
            Some(Err(err)) => {
                metrics::counter!(metrics::BROKER_ERRORS, "kind" => "consume").increment(1);
                tracing::warn!(error = %err, "consume error");
            }
            None => {}
        }
        if Instant::now() >= next_tick {
            processor.tick(&consumer);
            next_tick = Instant::now() + TICK;
        }
        if Instant::now() >= next_probe {
            processor.writer.probe_store();
            next_probe = Instant::now() + STORE_PROBE;
        }
    }

    tracing::info!("shutting down: writing open segments");
    let complete = processor.close_all(&consumer, CloseCause::Shutdown);
    // Dropping the consumer leaves the group, so the partitions move on at once.
    drop(consumer);
    tracing::info!(complete, "espy run stopped");
    if complete {
        Ok(())
    } else {
        Err(RunError::GraceExceeded)
    }
}

/// Fails fast, naming librdkafka's reason (TLS, SASL, address), when the brokers do not
/// answer at start-up; once running, outages are retried instead.
fn check_brokers(consumer: &BaseConsumer<EspyContext>, config: &Config) -> Result<(), RunError> {
    let seconds = config.kafka.connect_timeout_secs;
    match consumer.fetch_metadata(None, Duration::from_secs(seconds)) {
        Ok(_) => Ok(()),
        Err(err) => Err(RunError::BrokerUnreachable {
            brokers: config.kafka.brokers.clone(),
            seconds,
            reason: consumer
                .context()
                .last_error()
                .unwrap_or_else(|| err.to_string()),
        }),
    }
}

/// Cancels `stop` on SIGTERM or SIGINT, then `give_up` when the grace period has passed.
async fn watch_signals(stop: CancellationToken, give_up: CancellationToken, grace: Duration) {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(err) => {
                tracing::error!(error = %err, "cannot watch SIGTERM");
                return;
            }
        };
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
    stop.cancel();
    tokio::time::sleep(grace).await;
    give_up.cancel();
}
