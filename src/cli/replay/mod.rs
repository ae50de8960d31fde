//! `espy replay`: publishes NDJSON documents (plain or gzip) to Kafka keyed and
//! timestamped as Winlogbeat's Kafka output does, for quick starts and load tests.
//!
//! `plan` prepares every message before the timed phase (optionally as many synthetic
//! hosts, with times moved to now), `publish` sends them and counts deliveries. Replay
//! never decodes events; espy does that on the other side of Kafka.

mod document;
mod plan;
mod publish;

use std::io::{self, BufRead, Write};
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;

use anyhow::Context;
use indicatif::ProgressBar;
use tokio_util::sync::CancellationToken;

use self::plan::{Plan, PlanOptions};
use self::publish::Outcome;
use super::convert::{open_input, trim_line_end};
use crate::config::{Config, KafkaConfig};

/// Arguments of `espy replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// NDJSON input files, plain or gzip; `-` reads standard input.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Topic to publish to.
    #[arg(long)]
    pub topic: String,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Messages per second; without it, as fast as the brokers take them.
    #[arg(long)]
    pub rate: Option<NonZeroU32>,
    /// Publish the whole input this many times.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub repeat: u64,
    /// Clone the input's endpoints into this many synthetic hosts, each with its own
    /// computer name (`IT001-h00042.shire.com`) and agent id; host i clones the input's
    /// endpoint i mod (number of endpoints).
    #[arg(long)]
    pub hosts: Option<NonZeroUsize>,
    /// Seed of the synthetic agent ids (UUID v5 of seed and host index).
    #[arg(long, default_value = "espy-replay", requires = "hosts")]
    pub seed: String,
    /// Move every `UtcTime` and `@timestamp` by one offset, in whole seconds, so that the
    /// newest event happened now; message timestamps follow `@timestamp`.
    #[arg(long)]
    pub shift_to_now: bool,
    /// Compression of produced batches (librdkafka `compression.codec`). lz4 is cheap and
    /// moved 2.5 to 4 times as many messages a second as `none` against tansu, whose
    /// cost grows with the bytes it stores; zstd is not in espy's librdkafka build.
    #[arg(long, default_value = "lz4", value_parser = ["none", "lz4", "snappy", "gzip"])]
    pub compression: String,
}

/// Where to connect: an espy configuration's `[kafka]` section, overridden by flags.
#[derive(Debug, clap::Args)]
pub struct KafkaArgs {
    /// espy configuration whose `[kafka]` brokers and options (TLS, SASL) to use.
    /// Deliberately not read from `ESPY_CONFIG`: a load test should never reach a
    /// production cluster by accident.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Bootstrap servers; default `[kafka] brokers` of `--config`, else localhost:9092.
    #[arg(long)]
    pub brokers: Option<String>,
    /// librdkafka producer option `KEY=VALUE` (`security.protocol=sasl_ssl`,
    /// `linger.ms=50`), repeatable; wins over `--config` and espy's own settings.
    #[arg(long = "kafka-option", value_name = "KEY=VALUE", value_parser = parse_option)]
    pub options: Vec<(String, String)>,
}

impl KafkaArgs {
    /// The effective connection settings.
    pub fn kafka_config(&self) -> anyhow::Result<KafkaConfig> {
        let mut kafka = match &self.config {
            Some(path) => {
                Config::load(Some(path))
                    .with_context(|| format!("loading {}", path.display()))?
                    .kafka
            }
            None => KafkaConfig::default(),
        };
        if let Some(brokers) = &self.brokers {
            kafka.brokers = brokers.clone();
        }
        for (key, value) in &self.options {
            kafka.options.insert(key.clone(), value.clone());
        }
        Ok(kafka)
    }
}

fn parse_option(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

/// Entry point of `espy replay`.
pub async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let kafka = args.kafka.kafka_config()?;
    let documents = read_documents(&args.inputs)?;
    let shift_seconds = args
        .shift_to_now
        .then(|| shift_to_now(&documents))
        .flatten();
    let options = PlanOptions {
        hosts: args.hosts.map(NonZeroUsize::get),
        seed: args.seed.clone(),
        shift_seconds,
    };
    let plan = Plan::build(&documents, &options)?;
    drop(documents);
    if plan.is_empty() {
        anyhow::bail!("nothing to publish: the inputs hold no documents");
    }
    let messages = plan.len() * args.repeat;
    tracing::info!(
        topic = %args.topic,
        brokers = %kafka.brokers,
        documents = plan.stats.documents,
        not_json = plan.stats.not_json,
        hosts = plan.host_count(),
        shift_seconds,
        messages,
        "replay prepared"
    );

    let producer = publish::producer(&kafka, &args.compression)?;
    publish::check_topic(&producer, &kafka, &args.topic)?;
    let cancel = CancellationToken::new();
    tokio::spawn(interrupt_on_ctrl_c(cancel.clone()));
    let outcome = publish::publish(
        &producer,
        &args.topic,
        &plan,
        args.repeat,
        args.rate,
        &cancel,
    )
    .await;
    tracing::info!(
        topic = %args.topic,
        delivered = outcome.delivered,
        failed = outcome.failed,
        seconds = outcome.seconds,
        interrupted = outcome.interrupted,
        "replay finished"
    );
    print_summary(&outcome, plan.host_count())?;

    if outcome.failed > 0 || outcome.delivered < outcome.attempted {
        anyhow::bail!(
            "{} of {} messages were not delivered to {}: {}",
            outcome.attempted - outcome.delivered,
            outcome.attempted,
            args.topic,
            outcome
                .first_error
                .as_deref()
                .unwrap_or("no delivery report")
        );
    }
    Ok(())
}

/// Reads every non-blank line of every input, in order, without line endings.
fn read_documents(inputs: &[PathBuf]) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut documents = Vec::new();
    for path in inputs {
        let mut reader = open_input(path, &ProgressBar::hidden())?;
        let mut line = Vec::with_capacity(4096);
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .with_context(|| format!("reading {}", path.display()))?;
            if read == 0 {
                break;
            }
            let document = trim_line_end(&line);
            if !document.iter().all(u8::is_ascii_whitespace) {
                documents.push(document.to_vec());
            }
        }
    }
    Ok(documents)
}

/// The whole seconds that move the newest event time of `documents` to now; `None` when
/// no document has a time.
fn shift_to_now(documents: &[Vec<u8>]) -> Option<i64> {
    let newest = documents
        .iter()
        .filter_map(|raw| serde_json::from_slice::<serde_json::Value>(raw).ok())
        .filter_map(|doc| document::event_time(&doc))
        .max()?;
    Some((chrono::Utc::now() - newest).num_seconds())
}

/// The first Ctrl-C stops sending (what is queued is still delivered and counted); a
/// second one exits at once.
async fn interrupt_on_ctrl_c(cancel: CancellationToken) {
    if tokio::signal::ctrl_c().await.is_ok() {
        tracing::warn!("interrupted: delivering what is queued, Ctrl-C again to quit");
        cancel.cancel();
    }
    if tokio::signal::ctrl_c().await.is_ok() {
        std::process::exit(130);
    }
}

fn print_summary(outcome: &Outcome, hosts: usize) -> io::Result<()> {
    let rate = if outcome.seconds > 0.0 {
        outcome.delivered as f64 / outcome.seconds
    } else {
        0.0
    };
    let interrupted = if outcome.interrupted {
        ", interrupted"
    } else {
        ""
    };
    let mut out = io::stdout().lock();
    let result: io::Result<()> = (|| {
        writeln!(
            out,
            "messages sent: {} (delivered {}, failed {}{interrupted})",
            outcome.attempted, outcome.delivered, outcome.failed
        )?;
        writeln!(out, "hosts:         {hosts}")?;
        writeln!(out, "seconds:       {:.3}", outcome.seconds)?;
        writeln!(out, "msgs/s:        {rate:.0}")?;
        writeln!(out, "bytes:         {}", outcome.bytes)?;
        Ok(())
    })();
    // A closed pipe (`espy replay ... | head`) is a normal end, not an error.
    match result {
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
