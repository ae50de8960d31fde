//! `espy run` when librdkafka gives up the replica's group membership while the consuming
//! thread is busy writing (here: a store outage outlasting `max.poll.interval.ms`): the
//! replica writes no further segment of the partitions it lost, rejoins, and the output is
//! exactly once.

mod support;

use std::time::Duration;

use support::espy::Espy;
use support::run::{RunConfig, expected_of, keyed_by_agent, produce, s3_output, wait_for_rows};
use support::zeek_logs::corpus;
use support::{Broker, S3Server, wait_until};

/// librdkafka's smallest poll interval here: it may not be below the session timeout.
const POLL_INTERVAL_MS: u64 = 7000;

/// The messages of espy's JSON log lines, in order.
fn messages(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|event| event["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_replica_past_its_poll_interval_writes_no_more_segments_of_the_partitions_it_lost() {
    let documents = corpus("nxlog/otrf_nxlog_msf_record_mic_sysmon_net.ndjson");
    let broker = Broker::start();
    broker.create_topic("lost", 2);
    broker.create_topic("lost-dlq", 1);
    let mut s3 = S3Server::start();
    let root = s3.root().join(s3.bucket()).join("espy");
    let config = RunConfig {
        // Long enough that the first close outlives the poll interval and still succeeds.
        output: s3_output(&s3, "espy", 60),
        segment: "max_age_secs = 3".to_string(),
        ..RunConfig::new("lost", &root)
    }
    .render(&broker)
    .replace(
        "\"session.timeout.ms\" = \"6000\"",
        &format!(
            "\"session.timeout.ms\" = \"6000\"\n\"max.poll.interval.ms\" = \"{POLL_INTERVAL_MS}\""
        ),
    );
    let mut espy = Espy::start(&config);
    let assigned = wait_until(Duration::from_secs(60), || {
        espy.assert_running();
        espy.metric("espy_assigned_partitions") >= 2.0
    });
    assert!(
        assigned,
        "espy did not get both partitions:\n{}",
        espy.log()
    );

    let produced = produce(&broker, "lost", &keyed_by_agent(&documents, 8));
    assert!(
        produced.iter().any(|m| m.partition == 0) && produced.iter().any(|m| m.partition == 1),
        "the documents must reach both partitions"
    );
    let read = wait_until(Duration::from_secs(60), || {
        espy.metric("espy_events_total{") >= documents.len() as f64
    });
    assert!(read, "espy did not read the documents:\n{}", espy.log());
    // Both segments reach the age limit in one tick; the first close then waits for the
    // store for longer than the poll interval, and librdkafka leaves the group meanwhile.
    s3.stop();
    let waiting = wait_until(Duration::from_secs(60), || {
        espy.log().contains("\"store error\"")
    });
    assert!(waiting, "no segment met the outage:\n{}", espy.log());
    // librdkafka reports the poll interval through the consumer queue, so the log shows it
    // only once the thread polls again: wait it out instead.
    std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS + 3000));
    s3.restart();

    let rejoined = wait_until(Duration::from_secs(120), || {
        espy.assert_running();
        messages(&espy.log())
            .iter()
            .filter(|m| *m == "partitions assigned")
            .count()
            >= 2
    });
    assert!(rejoined, "espy did not rejoin the group:\n{}", espy.log());
    wait_for_rows(
        &mut [&mut espy],
        &root,
        &expected_of(&produced),
        Duration::from_secs(120),
    );
    // From the outage to the revoke that librdkafka queued when it left the group, only the
    // segment whose write was under way may have been written.
    let log = espy.log();
    let messages = messages(&log);
    let outage = messages
        .iter()
        .position(|m| m == "store error")
        .expect("the outage was met");
    let revoked = outage
        + messages[outage..]
            .iter()
            .position(|m| m.starts_with("partitions revoked"))
            .expect("the partitions were revoked");
    let written = messages[outage..revoked]
        .iter()
        .filter(|m| m.starts_with("segment written"))
        .count();
    assert!(
        written <= 1,
        "{written} segments written after the assignment was lost:\n{log}"
    );
}
