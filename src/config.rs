//! espy's configuration: one TOML file (`config/espy.toml` is the documented example) with
//! every key overridable by an environment variable, and unknown keys rejected.
//!
//! `ESPY_<SECTION>__<KEY>` overrides `<section>.<key>`; nested keys add more `__`, for
//! example `ESPY_KAFKA__OPTIONS__SASL_PASSWORD` sets the librdkafka option `sasl.password`
//! (underscores in pass-through option names become dots, since librdkafka's use dots).

use std::collections::BTreeMap;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::zeek::FormatSettings;

/// The whole configuration of `espy run`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub kafka: KafkaConfig,
    pub output: OutputConfig,
    pub segment: SegmentConfig,
    /// How events become rows: local networks, host name form, named networks.
    pub records: FormatSettings,
    pub metrics: MetricsConfig,
    pub shutdown: ShutdownConfig,
}

/// Where events come from and where rejects go.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma-separated (librdkafka `bootstrap.servers`).
    /// Example: `"kafka-0.kafka:9092,kafka-1.kafka:9092"`.
    pub brokers: String,
    /// Topics to consume. Example: `["winlogbeat"]`.
    pub topics: Vec<String>,
    /// Consumer group shared by all replicas.
    pub group_id: String,
    /// Topic for documents that cannot be converted.
    pub dead_letter_topic: String,
    /// Partition assignment strategy. librdkafka's default `range,roundrobin` is eager;
    /// `cooperative-sticky` moves fewer partitions on brokers that support it well.
    pub assignment_strategy: String,
    /// Messages larger than this are dead-lettered with reason `oversize` (1 MiB default).
    pub max_message_bytes: usize,
    /// At start-up, how long to wait for the brokers to answer before failing with the
    /// reason (wrong address, TLS or SASL failure) instead of retrying silently.
    pub connect_timeout_secs: u64,
    /// librdkafka options passed through unchanged to the consumer and the dead-letter
    /// producer: TLS (`security.protocol`, `ssl.ca.location`), SASL (`sasl.mechanism`,
    /// `sasl.username`, `sasl.password`), `client.id`, timeouts. They win over espy's own,
    /// except that `enable.auto.commit` and `enable.auto.offset.store` are refused unless
    /// `false`: espy commits offsets itself, after writing.
    /// Numbers and booleans are taken as their text, since librdkafka reads every value as
    /// a string and environment overrides (`ESPY_KAFKA__OPTIONS__LINGER_MS=5`) arrive typed.
    #[serde(deserialize_with = "librdkafka_values")]
    pub options: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "localhost:9092".into(),
            topics: vec!["winlogbeat".into()],
            group_id: "espy".into(),
            dead_letter_topic: "espy-dead-letter".into(),
            assignment_strategy: "range,roundrobin".into(),
            max_message_bytes: 1 << 20,
            connect_timeout_secs: 30,
            options: BTreeMap::new(),
        }
    }
}

/// A pass-through option's value: text, or a whole number or boolean written without
/// quotes. Fractions are refused rather than reformatted (`0.10` would become `0.1`).
#[derive(Deserialize)]
#[serde(untagged)]
enum OptionValue {
    Text(String),
    Integer(i64),
    Boolean(bool),
}

fn librdkafka_values<'de, D>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let options = BTreeMap::<String, OptionValue>::deserialize(deserializer)?;
    Ok(options
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                OptionValue::Text(text) => text,
                OptionValue::Integer(number) => number.to_string(),
                OptionValue::Boolean(flag) => flag.to_string(),
            };
            (key, text)
        })
        .collect())
}

impl KafkaConfig {
    /// Pass-through options with their names normalised to librdkafka's dotted form.
    pub fn librdkafka_options(&self) -> impl Iterator<Item = (String, &str)> {
        self.options
            .iter()
            .map(|(key, value)| (key.replace('_', "."), value.as_str()))
    }
}

/// Where Zeek objects go.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// A folder (`./zeek-logs`, `/mnt/share/zeek`) or `s3://bucket/prefix`.
    pub root: String,
    /// Write objects only if absent; an existing identical object counts as written, a
    /// different one stops the partition. Switch off for stores that ignore
    /// `If-None-Match` (Garage), where identical rewrites are still harmless. Segment
    /// markers are written create-only too, so that the first marker of a segment fixes its
    /// end for every replica writing it (one that lost the partition mid-write, and the new
    /// owner); without create-only nothing guards against that race.
    pub create_only: bool,
    /// Seconds to retry one segment's writes during a store outage before reading the
    /// segment again from Kafka; keep it well below librdkafka's `max.poll.interval.ms`
    /// (300 s by default), or the group moves the partitions away meanwhile.
    pub write_timeout_secs: u64,
    pub s3: S3Config,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            root: "./zeek-logs".into(),
            create_only: true,
            write_timeout_secs: 60,
            s3: S3Config::default(),
        }
    }
}

/// S3-compatible storage. Credentials left empty are read from the standard `AWS_*`
/// environment variables.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// Endpoint URL for non-AWS stores. Example: `"http://minio.storage:9000"`.
    pub endpoint: Option<String>,
    /// Region; must equal the store's own region setting (Garage: `s3_region`).
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Allow plain HTTP endpoints (test stores, in-cluster stores behind a mesh).
    pub allow_http: bool,
}

/// When a partition's segment closes; see PRODUCT.md section 4.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SegmentConfig {
    /// Close after this many messages counted from the segment's first offset.
    pub max_records: u64,
    /// Close after this many message bytes counted from the segment's first offset.
    pub max_bytes: u64,
    /// Close once an event arrives this many seconds past the end of the segment's oldest
    /// hour; rows of an hour that had already passed by this much when they arrived (a
    /// host's backlog) do not hold a segment open.
    pub allowed_lateness_secs: u64,
    /// Close when the segment holds this many (log type, hour) objects; bounds memory when
    /// hosts send days of backlog at once.
    pub max_hours: usize,
    /// Close a segment this many wall-clock seconds after it opened, recording a marker
    /// so that replays close at the same offset.
    pub max_age_secs: u64,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        SegmentConfig {
            max_records: 200_000,
            max_bytes: 256 << 20,
            allowed_lateness_secs: 300,
            max_hours: 96,
            max_age_secs: 300,
        }
    }
}

/// The HTTP endpoint for Prometheus and probes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address for `/metrics`, `/healthz` and `/readyz`.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: "0.0.0.0:9464".into(),
        }
    }
}

/// How SIGTERM is handled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// Time allowed to write open segments, commit and leave the group; keep it below the
    /// pod's `terminationGracePeriodSeconds`.
    pub grace_secs: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig { grace_secs: 25 }
    }
}

/// A configuration that could not be loaded; the message names each problem's key and the
/// file or environment it came from.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", describe(.0))]
pub struct ConfigError(Box<figment::Error>);

/// Every problem figment found, one after another, each with its key (without figment's
/// profile name, which espy does not use) and where the value came from.
fn describe(error: &figment::Error) -> String {
    let problems: Vec<String> = (*error)
        .clone()
        .into_iter()
        .map(|problem| {
            let mut text = problem.kind.to_string();
            if !problem.path.is_empty() {
                text.push_str(&format!(" (key `{}`)", problem.path.join(".")));
            }
            if let Some(metadata) = &problem.metadata {
                match &metadata.source {
                    Some(source) => text.push_str(&format!(" in {} {source}", metadata.name)),
                    None => text.push_str(&format!(" in {}", metadata.name)),
                }
            }
            text
        })
        .collect();
    problems.join("; ")
}

impl Config {
    /// Loads defaults, then `path` (if given), then `ESPY_*` environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = path {
            figment = figment.merge(Toml::file_exact(path));
        }
        let config: Config = figment
            .merge(Env::prefixed("ESPY_").split("__"))
            .extract()
            .map_err(|err| ConfigError(Box::new(err)))?;
        config.kafka.check_options()?;
        Ok(config)
    }
}

/// librdkafka options that espy's delivery rests on: together they would commit the offset
/// of every message handed to espy, whether or not its rows are durable yet.
const RESERVED_OPTIONS: [&str; 2] = ["enable.auto.commit", "enable.auto.offset.store"];

impl KafkaConfig {
    /// Refuses pass-through options that would let librdkafka commit offsets by itself;
    /// `false`, espy's own value, is accepted.
    fn check_options(&self) -> Result<(), ConfigError> {
        for (key, value) in self.librdkafka_options() {
            if RESERVED_OPTIONS.contains(&key.as_str()) && value != "false" {
                return Err(ConfigError(Box::new(figment::Error::from(format!(
                    "kafka.options: {key} = {value:?} is not allowed: espy commits offsets \
                     itself, only after a segment's rows are durable"
                )))));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_through_options_take_numbers_and_booleans_as_text() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(
            file.path(),
            "[kafka.options]\n\"session.timeout.ms\" = 6000\n\"enable.ssl.certificate.verification\" = true\n",
        )
        .expect("write config");

        let config = Config::load(Some(file.path())).expect("load");
        let options: Vec<(String, &str)> = config.kafka.librdkafka_options().collect();

        assert_eq!(
            options,
            [
                ("enable.ssl.certificate.verification".to_string(), "true"),
                ("session.timeout.ms".to_string(), "6000"),
            ]
        );
    }

    #[test]
    fn options_that_would_commit_offsets_of_rows_not_yet_durable_are_rejected() {
        for (option, name) in [
            ("\"enable.auto.commit\" = true", "enable.auto.commit"),
            // As an environment variable spells it.
            (
                "enable_auto_offset_store = \"true\"",
                "enable.auto.offset.store",
            ),
        ] {
            let file = tempfile::NamedTempFile::new().expect("temp file");
            std::fs::write(file.path(), format!("[kafka.options]\n{option}\n"))
                .expect("write config");

            let error = Config::load(Some(file.path())).expect_err("option accepted");

            assert!(error.to_string().contains(name), "{error}");
        }
    }

    #[test]
    fn unknown_keys_are_rejected_naming_the_key() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), "[segment]\nmax_recrods = 5\n").expect("write config");

        let error = Config::load(Some(file.path())).expect_err("unknown key accepted");

        assert!(error.to_string().contains("max_recrods"), "{error}");
    }
}
