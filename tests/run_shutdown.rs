//! `espy run` and SIGTERM in the middle of a backlog: the replica writes its open segments,
//! commits after them and exits 0 within `shutdown.grace_secs`; a replica started
//! afterwards finishes the topic from those commits, and every row arrives exactly once.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use support::espy::Espy;
use support::run::{
    Produced, RunConfig, assert_multiset_eq, committed_segments, expected_of, keyed_by_agent,
    produce, wait_for_rows,
};
use support::zeek_logs::{corpus, keys, rows};
use support::{Broker, wait_until};

const PARTITIONS: i32 = 4;
const GRACE_SECS: u64 = 20;

/// Every network-event dataset of the corpus, `copies` times over: a backlog that takes
/// espy several seconds to read.
fn backlog(copies: usize) -> Vec<Vec<u8>> {
    let mut datasets = Vec::new();
    for folder in ["nxlog", "winlogbeat6"] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/corpus")
            .join(folder);
        for entry in std::fs::read_dir(&dir).expect("corpus folder").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with("_sysmon_net.ndjson") {
                datasets.push(format!("{folder}/{name}"));
            }
        }
    }
    datasets.sort();
    let once: Vec<Vec<u8>> = datasets.iter().flat_map(|name| corpus(name)).collect();
    std::iter::repeat_n(once, copies).flatten().collect()
}

/// The group's committed offset of each partition of `topic`.
fn committed(broker: &Broker, group: &str, topic: &str) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = broker
        .consumer_config(group)
        .create()
        .expect("offsets client");
    let mut list = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        list.add_partition(topic, partition);
    }
    let offsets = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .expect("committed offsets");
    offsets
        .elements()
        .iter()
        .map(|element| {
            let offset = match element.offset() {
                Offset::Offset(offset) => offset,
                _ => 0,
            };
            (element.partition(), offset)
        })
        .collect()
}

#[test]
fn sigterm_mid_backlog_writes_open_segments_commits_and_the_next_replica_finishes_exactly_once() {
    let broker = Broker::start();
    broker.create_topic("backlog", PARTITIONS);
    broker.create_topic("backlog-dlq", 1);
    let produced = produce(&broker, "backlog", &keyed_by_agent(&backlog(4), 16));
    let out = tempfile::tempdir().expect("output dir");
    let config = RunConfig {
        segment: "max_records = 500\nmax_age_secs = 2".to_string(),
        grace_secs: GRACE_SECS,
        ..RunConfig::new("backlog", out.path())
    };
    let settings = config.render(&broker);

    let expected = expected_of(&produced);

    let mut first = Espy::start(&settings);
    // A quarter of the way through.
    let reading = wait_until(Duration::from_secs(60), || {
        first.assert_running();
        first.metric("espy_records_written_total{") >= (expected.len() / 4) as f64
    });
    assert!(reading, "espy wrote too little:\n{}", first.log());
    let terminated = Instant::now();
    let status = first.terminate();
    let stopped_in = terminated.elapsed();
    assert!(
        status.success(),
        "espy exited with {status}:\n{}",
        first.log()
    );
    assert!(
        stopped_in < Duration::from_secs(GRACE_SECS),
        "espy took {stopped_in:?} to stop"
    );

    // What the first replica wrote is exactly what lies below its commits: the open
    // segments were written and committed, nothing past the commits was written.
    let offsets = committed(&broker, &config.group, "backlog");
    let below: Vec<Produced> = produced
        .iter()
        .filter(|m| offsets.get(&m.partition).is_some_and(|&c| m.offset < c))
        .cloned()
        .collect();
    eprintln!(
        "SIGTERM after {} of {} messages; stopped in {stopped_in:?}",
        below.len(),
        produced.len()
    );
    assert!(
        !below.is_empty() && below.len() < produced.len(),
        "SIGTERM did not land mid-backlog: {} of {} messages committed",
        below.len(),
        produced.len()
    );
    assert_multiset_eq(&keys(&rows(out.path())), &expected_of(&below));
    let segments = committed_segments(&first.log());
    assert!(
        segments.iter().any(|segment| segment.cause == "shutdown"),
        "no open segment was written at shutdown: {segments:?}"
    );

    let mut second = Espy::start(&settings);
    wait_for_rows(
        &mut [&mut second],
        out.path(),
        &expected,
        Duration::from_secs(180),
    );
    // It started at the commits: it read only what the first replica had not committed.
    assert_eq!(
        second.metric("espy_events_total{"),
        (produced.len() - below.len()) as f64
    );
    assert!(second.terminate().success(), "{}", second.log());
    assert_multiset_eq(&keys(&rows(out.path())), &expected);
}
