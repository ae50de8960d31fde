//! `espy run` and an object that already exists with other content: the partition stops
//! without committing, and once a human has removed the object it continues when it is
//! assigned again, to another replica or to the same one.

mod support;

use std::time::Duration;

use espy::input::{Decoded, decode};
use espy::zeek::{Hour, LogType, object_path};
use support::espy::Espy;
use support::run::{RunConfig, expected_of, keyed_by_agent, log_events, produce, wait_for_rows};
use support::zeek_logs::corpus;
use support::{Broker, wait_until};

#[test]
fn a_partition_stopped_by_a_conflict_continues_when_assigned_again_to_the_same_replica() {
    let documents: Vec<Vec<u8>> = corpus("nxlog/otrf_nxlog_msf_record_mic_sysmon_net.ndjson")
        .into_iter()
        .filter(|d| matches!(decode(d, i64::MAX / 2), Decoded::Event(e) if LogType::of(&e) == LogType::Conn))
        .take(1)
        .collect();
    let Decoded::Event(event) = decode(&documents[0], i64::MAX / 2) else {
        panic!("a conn event");
    };
    let broker = Broker::start();
    broker.create_topic("conflict", 1);
    broker.create_topic("conflict-dlq", 1);
    let out = tempfile::tempdir().expect("output dir");
    let root = out.path().join("zeek");
    // The object the first segment will be written to, already there with other rows.
    let taken = root.join(object_path(
        LogType::Conn,
        Hour::of(event.time),
        "conflict.p0000.o000000000000",
    ));
    std::fs::create_dir_all(taken.parent().expect("day folder")).expect("day folder");
    std::fs::write(&taken, b"someone else's rows").expect("conflicting object");
    let mut espy = Espy::start(&RunConfig::new("conflict", &root).render(&broker));
    espy.wait_assigned(Duration::from_secs(60));

    let produced = produce(&broker, "conflict", &keyed_by_agent(&documents, 1));
    let stopped = wait_until(Duration::from_secs(60), || {
        espy.assert_running();
        !log_events(
            &espy.log(),
            "partition stopped: a human must resolve this before it can continue",
        )
        .is_empty()
    });
    assert!(
        stopped,
        "the conflict did not stop the partition:\n{}",
        espy.log()
    );

    // A human removes the object; the group then gives the partition to this replica again
    // (its session ran out while it stood still).
    std::fs::remove_file(&taken).expect("remove the conflicting object");
    espy.freeze(Duration::from_secs(10));

    wait_for_rows(
        &mut [&mut espy],
        &root,
        &expected_of(&produced),
        Duration::from_secs(60),
    );
}
