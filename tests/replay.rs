//! `espy replay` against a real tansu broker: every document of a corpus file arrives once,
//! keyed by its host and timestamped with its `@timestamp` as Winlogbeat's Kafka output
//! does; synthetic hosts each get their own identity; `--shift-to-now` moves every time by
//! one offset that brings the newest event to now.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Timestamp;
use serde_json::Value;
use support::Broker;

/// Three hosts (IT001, HR001, HFDC01) forwarded through a Windows Event Collector.
const WINLOGBEAT6: &str = "winlogbeat6/otrf_wlb6_empire_enable_rdp_sysmon_net.ndjson";
/// One host whose `@timestamp` is local time labelled `Z`, four hours before `UtcTime`.
const NXLOG: &str = "nxlog/otrf_nxlog_psh_cmstp_execution_bypassuac_sysmon_net.ndjson";

fn corpus(name: &str) -> PathBuf {
    support::repo_path("tests/data/corpus").join(name)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("read corpus file")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("a JSON document")
}

/// The computer name of a document, wherever its shape puts it.
fn computer_name(doc: &Value) -> String {
    [
        &doc["winlog"]["computer_name"],
        &doc["computer_name"],
        &doc["Hostname"],
    ]
    .into_iter()
    .find_map(Value::as_str)
    .expect("a computer name")
    .to_string()
}

/// Runs `espy replay` to completion.
fn replay(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_espy"))
        .arg("replay")
        .args(args)
        .env("RUST_LOG", "info,librdkafka=warn")
        .output()
        .expect("run espy replay");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// One message read back from the topic.
#[derive(Debug)]
struct Received {
    key: Option<String>,
    doc: Value,
    raw: String,
    timestamp: Option<i64>,
    partition: i32,
}

/// Reads `count` messages from `topic`, failing after a minute.
fn consume(broker: &Broker, topic: &str, count: usize) -> Vec<Received> {
    let consumer: BaseConsumer = broker
        .consumer_config(&format!("{topic}-reader"))
        .create()
        .expect("create consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut received = Vec::with_capacity(count);
    while received.len() < count && Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let message = message.expect("consume");
        let raw = String::from_utf8(message.payload().unwrap_or_default().to_vec())
            .expect("UTF-8 payload");
        received.push(Received {
            key: message
                .key()
                .map(|key| String::from_utf8_lossy(key).into_owned()),
            doc: parse(&raw),
            raw,
            timestamp: match message.timestamp() {
                Timestamp::CreateTime(ms) => Some(ms),
                _ => None,
            },
            partition: message.partition(),
        });
    }
    assert_eq!(received.len(), count, "messages read back from {topic}");
    received
}

fn millis(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("RFC 3339 @timestamp")
        .timestamp_millis()
}

#[test]
fn every_document_arrives_once_keyed_by_its_host_and_timestamped_by_its_timestamp() {
    let broker = Broker::start();
    broker.create_topic("winlogbeat", 3);
    let input = corpus(WINLOGBEAT6);
    let gzipped = tempfile::tempdir().expect("temp dir");
    let gzip_input = gzipped.path().join("nxlog.ndjson.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&gzip_input).expect("create gzip input"),
        flate2::Compression::fast(),
    );
    encoder
        .write_all(&std::fs::read(corpus(NXLOG)).expect("read corpus file"))
        .expect("gzip");
    encoder.finish().expect("finish gzip");
    let mut expected = lines(&input);
    expected.extend(lines(&corpus(NXLOG)));

    let output = replay(&[
        input.to_str().unwrap(),
        gzip_input.to_str().unwrap(),
        "--topic",
        "winlogbeat",
        "--brokers",
        &broker.bootstrap(),
    ]);

    assert!(output.status.success(), "replay failed");
    assert!(
        stdout(&output).contains(&format!("delivered {}, failed 0", expected.len())),
        "summary: {}",
        stdout(&output)
    );
    let received = consume(&broker, "winlogbeat", expected.len());
    let mut payloads: Vec<&str> = received.iter().map(|r| r.raw.as_str()).collect();
    payloads.sort_unstable();
    expected.sort_unstable();
    assert_eq!(payloads, expected, "documents are published byte for byte");
    let mut partitions_by_key: HashMap<String, BTreeSet<i32>> = HashMap::new();
    let mut hosts_by_key: HashMap<String, BTreeSet<String>> = HashMap::new();
    for message in &received {
        let key = message.key.clone().expect("every message has a key");
        // Winlogbeat 6 and NXLog have no agent.id: the key is the computer name.
        assert_eq!(key, computer_name(&message.doc).to_lowercase());
        let timestamp = message.doc["@timestamp"].as_str().expect("@timestamp");
        assert_eq!(message.timestamp, Some(millis(timestamp)));
        partitions_by_key
            .entry(key.clone())
            .or_default()
            .insert(message.partition);
        hosts_by_key
            .entry(key)
            .or_default()
            .insert(computer_name(&message.doc));
    }
    assert_eq!(
        hosts_by_key.len(),
        4,
        "IT001, HR001, HFDC01 and WORKSTATION5"
    );
    assert!(hosts_by_key.values().all(|hosts| hosts.len() == 1));
    assert!(partitions_by_key.values().all(|p| p.len() == 1));
}

/// The corpus has no Winlogbeat 7+ document; these are Winlogbeat 6 documents given the
/// `agent` fields Winlogbeat 7+ adds on the endpoint (`agent.id`, `agent.hostname`).
fn with_endpoint_agents(input: &Path, dir: &Path) -> (PathBuf, Vec<Value>) {
    let docs: Vec<Value> = lines(input)
        .iter()
        .map(|line| {
            let mut doc = parse(line);
            let name = computer_name(&doc);
            let first_label = name.split('.').next().unwrap().to_lowercase();
            let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, name.as_bytes());
            doc["agent"] = serde_json::json!({
                "id": id.to_string(), "hostname": first_label, "type": "winlogbeat"});
            doc
        })
        .collect();
    let path = dir.join("with-agents.ndjson");
    let text: String = docs.iter().map(|doc| format!("{doc}\n")).collect();
    std::fs::write(&path, text).expect("write input");
    (path, docs)
}

/// Undoes the synthetic identity: `IT001-h00042.shire.com` -> `IT001.shire.com`, the
/// agent's name likewise, and the agent id back to the original endpoint's.
fn original_identity(doc: &Value, agent_ids: &HashMap<String, Value>) -> Value {
    let strip = |name: &str| -> String {
        let (first, rest) = name.split_at(name.find('.').unwrap_or(name.len()));
        let (label, index) = first.rsplit_once("-h").expect("a synthetic name");
        assert!(index.len() == 5 && index.bytes().all(|b| b.is_ascii_digit()));
        format!("{label}{rest}")
    };
    let mut doc = doc.clone();
    let name = strip(doc["computer_name"].as_str().unwrap());
    doc["agent"]["hostname"] = strip(doc["agent"]["hostname"].as_str().unwrap()).into();
    doc["agent"]["id"] = agent_ids[&name].clone();
    doc["computer_name"] = name.into();
    doc
}

#[test]
fn fifty_synthetic_hosts_each_clone_one_endpoint_under_their_own_name_and_agent_id() {
    let broker = Broker::start();
    broker.create_topic("load", 4);
    let dir = tempfile::tempdir().expect("temp dir");
    let (input, originals) = with_endpoint_agents(&corpus(WINLOGBEAT6), dir.path());
    let agent_ids: HashMap<String, Value> = originals
        .iter()
        .map(|doc| (computer_name(doc), doc["agent"]["id"].clone()))
        .collect();
    let mut by_endpoint: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for doc in &originals {
        by_endpoint
            .entry(computer_name(doc))
            .or_default()
            .push(doc.to_string());
    }

    let output = replay(&[
        input.to_str().unwrap(),
        "--topic",
        "load",
        "--brokers",
        &broker.bootstrap(),
        "--hosts",
        "50",
    ]);

    assert!(output.status.success(), "replay failed");
    let summary = stdout(&output);
    assert!(summary.contains("hosts:         50"), "summary: {summary}");
    let sent: usize = summary
        .split("delivered ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .expect("delivered count in the summary");
    let received = consume(&broker, "load", sent);
    let mut hosts: BTreeMap<String, Vec<&Received>> = BTreeMap::new();
    for message in &received {
        hosts
            .entry(message.key.clone().expect("every message has a key"))
            .or_default()
            .push(message);
    }
    assert_eq!(hosts.len(), 50, "50 distinct keys");
    let mut names = BTreeSet::new();
    let mut ids = BTreeSet::new();
    let mut clones_per_endpoint: BTreeMap<String, usize> = BTreeMap::new();
    for (key, messages) in &hosts {
        let first = &messages[0].doc;
        let name = computer_name(first);
        for message in messages {
            // Winlogbeat 7+ keys by agent.id; every field naming the host agrees.
            assert_eq!(message.doc["agent"]["id"], key.as_str());
            assert_eq!(computer_name(&message.doc), name);
            assert_eq!(
                message.doc["agent"]["hostname"].as_str().unwrap(),
                name.split('.').next().unwrap().to_lowercase()
            );
            assert_eq!(
                message.doc["host"]["name"], "WECserver",
                "the collector stays"
            );
        }
        assert!(
            uuid::Uuid::parse_str(key).is_ok(),
            "agent id {key} is a UUID"
        );
        assert!(!agent_ids.values().any(|id| id == key.as_str()));
        names.insert(name);
        ids.insert(key.clone());
        // Restored to the original identity, a host's documents are exactly one
        // endpoint's documents, each once, in the same meaning (event ids, addresses).
        let mut restored: Vec<String> = messages
            .iter()
            .map(|m| original_identity(&m.doc, &agent_ids).to_string())
            .collect();
        restored.sort_unstable();
        let endpoint = computer_name(&original_identity(first, &agent_ids));
        let mut expected = by_endpoint[&endpoint].clone();
        expected.sort_unstable();
        assert_eq!(restored, expected, "host {key} clones {endpoint}");
        *clones_per_endpoint.entry(endpoint).or_default() += 1;
    }
    assert_eq!(names.len(), 50, "50 distinct computer names");
    assert_eq!(ids.len(), 50, "50 distinct agent ids");
    let mut spread: Vec<usize> = clones_per_endpoint.into_values().collect();
    spread.sort_unstable();
    assert_eq!(
        spread,
        [16, 17, 17],
        "hosts are spread evenly over the endpoints"
    );
}

/// Moves a Sysmon `UtcTime` by whole seconds.
fn shift_utc_time(text: &str, seconds: i64) -> String {
    let time = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.3f").expect("UtcTime");
    (time + TimeDelta::seconds(seconds))
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

/// Moves an `@timestamp` with three fraction digits and `Z` by whole seconds.
fn shift_timestamp(text: &str, seconds: i64) -> String {
    let time = DateTime::parse_from_rfc3339(text).expect("@timestamp");
    (time.with_timezone(&Utc) + TimeDelta::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[test]
fn shift_to_now_moves_every_time_by_one_offset_that_brings_the_newest_event_to_now() {
    let broker = Broker::start();
    broker.create_topic("shifted", 2);
    // The connection comes from an espy configuration, as an operator would reuse it.
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("espy.toml");
    std::fs::write(
        &config,
        format!("[kafka]\nbrokers = \"{}\"\n", broker.bootstrap()),
    )
    .expect("write config");
    let originals: Vec<Value> = lines(&corpus(NXLOG)).iter().map(|l| parse(l)).collect();
    let newest = |docs: &mut dyn Iterator<Item = &Value>| -> NaiveDateTime {
        docs.map(|doc| {
            NaiveDateTime::parse_from_str(doc["UtcTime"].as_str().unwrap(), "%Y-%m-%d %H:%M:%S%.f")
                .unwrap()
        })
        .max()
        .unwrap()
    };

    let output = replay(&[
        corpus(NXLOG).to_str().unwrap(),
        "--topic",
        "shifted",
        "--config",
        config.to_str().unwrap(),
        "--shift-to-now",
    ]);
    let now = Utc::now();

    assert!(output.status.success(), "replay failed");
    let received = consume(&broker, "shifted", originals.len());
    let newest_shifted = newest(&mut received.iter().map(|r| &r.doc));
    let age = now.naive_utc() - newest_shifted;
    assert!(
        age >= TimeDelta::zero() && age < TimeDelta::minutes(1),
        "newest UtcTime {newest_shifted} is within a minute before {now}"
    );
    let offset = (newest_shifted - newest(&mut originals.iter())).num_seconds();
    let mut expected: Vec<String> = originals
        .iter()
        .map(|doc| {
            let mut doc = doc.clone();
            doc["UtcTime"] = shift_utc_time(doc["UtcTime"].as_str().unwrap(), offset).into();
            doc["@timestamp"] = shift_timestamp(doc["@timestamp"].as_str().unwrap(), offset).into();
            doc.to_string()
        })
        .collect();
    let mut shifted: Vec<String> = received.iter().map(|r| r.doc.to_string()).collect();
    expected.sort_unstable();
    shifted.sort_unstable();
    assert_eq!(shifted, expected, "only the times moved, all by {offset} s");
    for message in &received {
        let timestamp = message.doc["@timestamp"].as_str().unwrap();
        assert_eq!(
            message.timestamp,
            Some(millis(timestamp)),
            "follows @timestamp"
        );
    }
}

#[test]
fn rate_and_repeat_publish_every_pass_no_faster_than_the_rate() {
    let broker = Broker::start();
    broker.create_topic("paced", 1);
    let input = corpus(WINLOGBEAT6);
    let documents = lines(&input);
    let started = Instant::now();

    let output = replay(&[
        input.to_str().unwrap(),
        "--topic",
        "paced",
        "--brokers",
        &broker.bootstrap(),
        "--rate",
        "200",
        "--repeat",
        "2",
    ]);

    let elapsed = started.elapsed();
    assert!(output.status.success(), "replay failed");
    let total = documents.len() * 2;
    // The last message is due (total - 1) / rate seconds after the first.
    let due = Duration::from_secs_f64((total - 1) as f64 / 200.0);
    assert!(
        elapsed >= due,
        "{total} messages took {elapsed:?}, due {due:?}"
    );
    let received = consume(&broker, "paced", total);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for message in &received {
        *counts.entry(message.raw.as_str()).or_default() += 1;
    }
    let mut once: HashMap<&str, usize> = HashMap::new();
    for line in &documents {
        *once.entry(line.as_str()).or_default() += 1;
    }
    assert!(
        once.iter()
            .all(|(line, n)| counts.get(line) == Some(&(n * 2))),
        "every document twice"
    );
}

#[test]
fn documents_that_cannot_be_delivered_are_counted_and_fail_the_run() {
    let broker = Broker::start();
    broker.create_topic("small", 1);
    let input = corpus(WINLOGBEAT6);
    let documents = lines(&input);
    let too_large = documents.iter().filter(|line| line.len() > 1000).count();

    let output = replay(&[
        input.to_str().unwrap(),
        "--topic",
        "small",
        "--brokers",
        &broker.bootstrap(),
        "--kafka-option",
        "message.max.bytes=1000",
    ]);

    assert!(
        !output.status.success(),
        "undelivered messages fail the run"
    );
    let summary = stdout(&output);
    assert!(
        summary.contains(&format!("failed {too_large}")),
        "summary: {summary}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{too_large} of {} messages were not delivered to small",
            documents.len()
        )),
        "error: {stderr}"
    );
}

#[test]
fn kafka_options_pass_through_to_reach_a_broker_behind_tls() {
    let (broker, tls) = Broker::start_behind_tls();
    broker.create_topic("secure", 1);
    let input = corpus(WINLOGBEAT6);
    let ca = format!("ssl.ca.location={}", tls.ca_path().display());

    let output = replay(&[
        input.to_str().unwrap(),
        "--topic",
        "secure",
        "--brokers",
        &broker.bootstrap(),
        "--kafka-option",
        "security.protocol=ssl",
        "--kafka-option",
        &ca,
    ]);

    assert!(output.status.success(), "replay over TLS failed");
    consume(&broker, "secure", lines(&input).len());
}
