//! Shared steps of the `espy run` tests: a config in the tests' group settings, producing
//! documents with their positions, waiting for rows, reading dead letters, and reading
//! espy's JSON log and object names back.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, OwnedMessage};

use super::espy::Espy;
use super::kafka::Broker;
use super::process::wait_until;
use super::s3::S3Server;
use super::zeek_logs::{Row, expected_keys, keys, object_rows, objects, rows};

/// One row's identity: (log type, uid, orig address).
pub type Key = (String, String, String);

/// An `espy run` configuration with the tests' group settings: eager `range` assignment,
/// 6 s sessions with 500 ms heartbeats (joins take about 3 s on tansu), statistics every
/// second. Each field is the body of its TOML table.
pub struct RunConfig {
    pub topics: Vec<String>,
    pub group: String,
    pub dead_letter_topic: String,
    /// Extra keys of `[kafka]`, such as `max_message_bytes = 2000`.
    pub kafka: String,
    /// The body of `[output]`, which may end with an `[output.s3]` table.
    pub output: String,
    /// The body of `[segment]`.
    pub segment: String,
    pub grace_secs: u64,
}

impl RunConfig {
    /// Consumes `topic` in group `espy-<topic>`, dead letters to `<topic>-dlq`, writing to
    /// the folder `root`; segments close after a second of age.
    pub fn new(topic: &str, root: &Path) -> RunConfig {
        RunConfig {
            topics: vec![topic.to_string()],
            group: format!("espy-{topic}"),
            dead_letter_topic: format!("{topic}-dlq"),
            kafka: String::new(),
            output: folder_output(root),
            segment: "max_age_secs = 1".to_string(),
            grace_secs: 20,
        }
    }

    /// The TOML for `broker`, without the `[metrics]` table that [`Espy::start`] adds.
    pub fn render(&self, broker: &Broker) -> String {
        format!(
            r#"
[kafka]
brokers = "{brokers}"
topics = {topics:?}
group_id = "{group}"
dead_letter_topic = "{dead_letter_topic}"
assignment_strategy = "range"
{kafka}
[kafka.options]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
"statistics.interval.ms" = "1000"
[segment]
{segment}
[shutdown]
grace_secs = {grace_secs}
[output]
{output}
"#,
            brokers = broker.bootstrap(),
            topics = self.topics,
            group = self.group,
            dead_letter_topic = self.dead_letter_topic,
            kafka = self.kafka,
            segment = self.segment,
            grace_secs = self.grace_secs,
            output = self.output,
        )
    }
}

/// `[output]` for a folder.
pub fn folder_output(root: &Path) -> String {
    format!("root = {root:?}")
}

/// `[output]` for `s3://<bucket>/<prefix>` on `s3`, with its retries bounded by
/// `write_timeout_secs`.
pub fn s3_output(s3: &S3Server, prefix: &str, write_timeout_secs: u64) -> String {
    format!(
        "root = \"s3://{bucket}/{prefix}\"\nwrite_timeout_secs = {write_timeout_secs}\n\
         [output.s3]\nendpoint = \"{endpoint}\"\nregion = \"{region}\"\n\
         access_key_id = \"{key}\"\nsecret_access_key = \"{secret}\"\nallow_http = true",
        bucket = s3.bucket(),
        endpoint = s3.endpoint(),
        region = s3.region(),
        key = s3.access_key(),
        secret = s3.secret_key(),
    )
}

/// A produced message: where it landed and what it holds.
#[derive(Debug, Clone)]
pub struct Produced {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Vec<u8>,
    pub payload: Vec<u8>,
}

/// Produces `records` (key, payload) to `topic`, all in flight at once, and returns each
/// one's position in input order.
pub fn produce(broker: &Broker, topic: &str, records: &[(Vec<u8>, Vec<u8>)]) -> Vec<Produced> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sends = records
        .iter()
        .map(|(key, payload)| broker.produce(topic, key, payload));
    let positions = runtime.block_on(futures::future::join_all(sends));
    records
        .iter()
        .zip(positions)
        .map(|((key, payload), (partition, offset))| Produced {
            topic: topic.to_string(),
            partition,
            offset,
            key: key.clone(),
            payload: payload.clone(),
        })
        .collect()
}

/// Keys like Winlogbeat's agent ids, spread over `agents` hosts.
pub fn keyed_by_agent(documents: &[Vec<u8>], agents: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    documents
        .iter()
        .enumerate()
        .map(|(i, document)| {
            (
                format!("agent-{}", i % agents).into_bytes(),
                document.clone(),
            )
        })
        .collect()
}

/// What the produced messages must yield.
pub fn expected_of(messages: &[Produced]) -> Vec<Key> {
    let payloads: Vec<Vec<u8>> = messages.iter().map(|m| m.payload.clone()).collect();
    expected_keys(&payloads)
}

/// The rows of a growing Zeek tree, reading each object once: objects are written whole
/// and never change, so polling a large tree stays cheap beside espy.
#[derive(Default)]
pub struct RowWatcher {
    seen: BTreeMap<std::path::PathBuf, Vec<Key>>,
}

impl RowWatcher {
    /// The sorted keys of every row under `root` now.
    pub fn keys(&mut self, root: &Path) -> Vec<Key> {
        for path in objects(root) {
            self.seen
                .entry(path)
                .or_insert_with_key(|path| keys(&object_rows(root, path)));
        }
        let mut all: Vec<Key> = self.seen.values().flatten().cloned().collect();
        all.sort();
        all
    }
}

/// Waits until the rows under `root` are at least as many as `expected`, then asserts they
/// are exactly `expected`; every replica must keep running meanwhile.
pub fn wait_for_rows(replicas: &mut [&mut Espy], root: &Path, expected: &[Key], limit: Duration) {
    let mut actual = Vec::new();
    let mut watcher = RowWatcher::default();
    let complete = wait_until(limit, || {
        replicas.iter_mut().for_each(|espy| espy.assert_running());
        actual = watcher.keys(root);
        actual.len() >= expected.len()
    });
    let logs: Vec<String> = replicas.iter().map(|espy| espy.log()).collect();
    assert!(
        complete,
        "only {} of {} rows arrived within {limit:?}:\n{}",
        actual.len(),
        expected.len(),
        logs.join("\n----\n")
    );
    assert_multiset_eq(&actual, expected);
}

/// Asserts two sorted multisets of keys are equal, naming what is missing and what is extra.
pub fn assert_multiset_eq(actual: &[Key], expected: &[Key]) {
    if actual == expected {
        return;
    }
    let mut counts = BTreeMap::<&Key, i64>::new();
    for key in actual {
        *counts.entry(key).or_default() += 1;
    }
    for key in expected {
        *counts.entry(key).or_default() -= 1;
    }
    let extra: Vec<_> = counts.iter().filter(|(_, n)| **n > 0).take(10).collect();
    let missing: Vec<_> = counts.iter().filter(|(_, n)| **n < 0).take(10).collect();
    panic!(
        "rows differ from what the input yields: {} rows written, {} expected\n\
         doubled or extra (first 10): {extra:?}\nmissing (first 10): {missing:?}",
        actual.len(),
        expected.len()
    );
}

/// A dead letter as a dead-letter consumer sees it.
#[derive(Debug, Clone)]
pub struct Letter {
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

/// Reads `topic` from the start until `count` letters arrived or `limit` passed.
pub fn read_letters(broker: &Broker, topic: &str, count: usize, limit: Duration) -> Vec<Letter> {
    let consumer: BaseConsumer = broker
        .consumer_config(&format!("{topic}-reader"))
        .create()
        .expect("dead-letter consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut letters = Vec::new();
    wait_until(limit, || {
        while let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            letters.push(letter(&message.detach()));
        }
        letters.len() >= count
    });
    letters
}

fn letter(message: &OwnedMessage) -> Letter {
    let headers = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| {
                    (
                        h.key.to_string(),
                        String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Letter {
        key: message.key().map(<[u8]>::to_vec),
        payload: message.payload().unwrap_or_default().to_vec(),
        headers,
    }
}

/// espy's JSON log lines whose message is `message`.
pub fn log_events(log: &str, message: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["message"] == message)
        .collect()
}

/// A segment as espy logged it once it was written and committed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LoggedSegment {
    pub topic: String,
    pub partition: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub cause: String,
}

/// Every "segment written and committed" line of `log`.
pub fn committed_segments(log: &str) -> Vec<LoggedSegment> {
    log_events(log, "segment written and committed")
        .iter()
        .map(|event| LoggedSegment {
            topic: event["topic"].as_str().unwrap_or_default().to_string(),
            partition: event["partition"].as_i64().unwrap_or(-1) as i32,
            first_offset: event["first_offset"].as_i64().unwrap_or(-1),
            last_offset: event["last_offset"].as_i64().unwrap_or(-1),
            cause: event["cause"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// The writer part of an object name, `<topic>.p<4 digits>.o<12 digits>`, as (topic,
/// partition, first offset); `None` when the name has another form.
pub fn writer_of(object: &str) -> Option<(String, i32, i64)> {
    // `<day>/<log>.HH:00:00-HH:00:00-<writer>.log.gz`
    let name = object.rsplit('/').next()?.strip_suffix(".log.gz")?;
    let (_, writer) = name.split_once(":00:00-")?;
    let writer = writer.split_once(":00:00-")?.1;
    let (rest, offset) = writer.rsplit_once(".o")?;
    let (topic, partition) = rest.rsplit_once(".p")?;
    let digits =
        |text: &str, len: usize| text.len() == len && text.bytes().all(|b| b.is_ascii_digit());
    if topic.is_empty() || !digits(partition, 4) || !digits(offset, 12) {
        return None;
    }
    Some((
        topic.to_string(),
        partition.parse().ok()?,
        offset.parse().ok()?,
    ))
}

/// Rows grouped by the object that holds them.
pub fn rows_by_object(root: &Path) -> BTreeMap<String, Vec<Row>> {
    let mut grouped = BTreeMap::<String, Vec<Row>>::new();
    for row in rows(root) {
        grouped.entry(row.object.clone()).or_default().push(row);
    }
    grouped
}
