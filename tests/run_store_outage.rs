//! `espy run` through an S3 outage longer than `output.write_timeout_secs`: offsets stay
//! uncommitted, the replica reports the outage in metrics and readiness, keeps its
//! partitions, and once the store is back writes every row exactly once.

mod support;

use std::time::Duration;

use support::espy::Espy;
use support::run::{
    RunConfig, assert_multiset_eq, expected_of, keyed_by_agent, log_events, produce, s3_output,
};
use support::zeek_logs::{corpus, keys, rows};
use support::{Broker, S3Server, wait_until};

const WRITE_TIMEOUT_SECS: u64 = 2;

#[test]
fn a_store_outage_longer_than_the_write_timeout_loses_and_doubles_nothing() {
    // Two datasets of different days: the first event of the second closes the segment
    // holding the first by event time, and that close is what meets the outage.
    let before = corpus("nxlog/otrf_nxlog_covenant_persistwmi_sysmon_net.ndjson");
    let during = corpus("nxlog/otrf_nxlog_msf_record_mic_sysmon_net.ndjson");
    let broker = Broker::start();
    broker.create_topic("outage", 1);
    broker.create_topic("outage-dlq", 1);
    let mut s3 = S3Server::start();
    let root = s3.root().join(s3.bucket()).join("espy");
    let config = RunConfig {
        output: s3_output(&s3, "espy", WRITE_TIMEOUT_SECS),
        // Only data closes segments here, and SIGTERM at the end.
        segment: "max_age_secs = 3600".to_string(),
        ..RunConfig::new("outage", &root)
    };
    let mut espy = Espy::start(&config.render(&broker));
    espy.wait_assigned(Duration::from_secs(60));

    let mut produced = produce(&broker, "outage", &keyed_by_agent(&before, 4));
    let read = wait_until(Duration::from_secs(60), || {
        espy.metric("espy_events_total{") >= before.len() as f64
    });
    assert!(read, "espy did not read the first dataset:\n{}", espy.log());
    let rebalances = espy.metric("espy_rebalances_total{");
    let store_errors = espy.metric("espy_store_errors_total{");

    s3.stop();
    produced.extend(produce(&broker, "outage", &keyed_by_agent(&during, 4)));
    // The segment's writes are retried for the write timeout, then it is read again from
    // Kafka, and re-reading meets the outage too.
    let mut not_ready = false;
    let retried = wait_until(Duration::from_secs(60), || {
        espy.assert_running();
        not_ready |= espy
            .get("/readyz")
            .is_some_and(|(status, body)| status == 503 && body.contains("store unreachable"));
        let log = espy.log();
        not_ready
            && !log_events(&log, "segment not written; reading it again").is_empty()
            && !log_events(&log, "cannot read the segment marker; reading again").is_empty()
    });
    assert!(
        retried,
        "espy did not report the outage and read the segment again (not ready seen: \
         {not_ready}):\n{}",
        espy.log()
    );
    assert!(espy.metric("espy_store_errors_total{") > store_errors);
    assert!(
        rows(&root).is_empty(),
        "rows were written while the store was down"
    );

    s3.restart();
    let ready = wait_until(Duration::from_secs(60), || {
        espy.get("/readyz").is_some_and(|(status, _)| status == 200)
    });
    assert!(
        ready,
        "espy not ready after the store came back:\n{}",
        espy.log()
    );
    let first_day = expected_of(&produced[..before.len()]);
    let written = wait_until(Duration::from_secs(60), || {
        espy.assert_running();
        keys(&rows(&root)).len() >= first_day.len()
    });
    assert!(written, "the first day was not written:\n{}", espy.log());
    assert_multiset_eq(&keys(&rows(&root)), &first_day);
    assert_eq!(
        (
            espy.metric("espy_rebalances_total{"),
            espy.metric("espy_assigned_partitions")
        ),
        (rebalances, 1.0),
        "the outage cost the replica its partition"
    );

    assert!(
        espy.terminate().success(),
        "espy did not stop cleanly:\n{}",
        espy.log()
    );
    assert_multiset_eq(&keys(&rows(&root)), &expected_of(&produced));
}
