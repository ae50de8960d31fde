//! When `espy run` closes segments and how replays rebuild them: event time closes an hour
//! without waiting for the age limit, and age-closed segments survive a SIGKILL without a
//! conflicting rewrite, each object named after the segment that holds its rows.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use support::espy::Espy;
use support::run::{
    Produced, RunConfig, assert_multiset_eq, expected_of, keyed_by_agent, produce, rows_by_object,
    wait_for_rows, writer_of,
};
use support::zeek_logs::{corpus, expected_keys, keys, rows};
use support::{Broker, wait_until};

#[test]
fn events_past_an_hour_plus_lateness_write_that_hour_without_waiting_for_age() {
    // One dataset of 2019-12-05 04h, then one of 2020-06-10 02h: the first event of the
    // second is months past the end of the first's hour.
    let first = corpus("nxlog/otrf_nxlog_covenant_persistwmi_sysmon_net.ndjson");
    let second = corpus("nxlog/otrf_nxlog_msf_record_mic_sysmon_net.ndjson");
    let broker = Broker::start();
    broker.create_topic("hours", 1);
    broker.create_topic("hours-dlq", 1);
    let out = tempfile::tempdir().expect("output dir");
    let config = RunConfig {
        // Neither age nor size can close a segment while the test runs.
        segment: "max_age_secs = 3600\nmax_records = 1000000\nmax_bytes = 1073741824\n\
                  allowed_lateness_secs = 300"
            .to_string(),
        ..RunConfig::new("hours", out.path())
    };
    // In order into one partition: the second batch is produced after the first is acked.
    let mut produced = produce(&broker, "hours", &keyed_by_agent(&first, 4));
    produced.extend(produce(&broker, "hours", &keyed_by_agent(&second, 4)));

    let mut espy = Espy::start(&config.render(&broker));
    let (earlier, later) = produced.split_at(first.len());
    wait_for_rows(
        &mut [&mut espy],
        out.path(),
        &expected_of(earlier),
        Duration::from_secs(60),
    );
    assert!(espy.metric("espy_segments_closed_total{cause=\"event_time\"}") >= 1.0);
    assert_eq!(
        espy.metric("espy_segments_closed_total{cause=\"age\"}"),
        0.0
    );
    // The later day is held in the open segment, not written.
    let held = expected_of(later).len() as f64;
    let buffered = wait_until(Duration::from_secs(10), || {
        espy.metric("espy_buffered_records") == held
    });
    assert!(
        buffered,
        "the open segment holds {} rows, not the later day's {held}",
        espy.metric("espy_buffered_records")
    );
    assert_multiset_eq(&keys(&rows(out.path())), &expected_of(earlier));

    assert!(
        espy.terminate().success(),
        "espy did not stop cleanly:\n{}",
        espy.log()
    );
    assert_multiset_eq(&keys(&rows(out.path())), &expected_of(&produced));
    // The later day's objects start at the first message past the hour.
    let later_start = later[0].offset;
    for (object, object_rows) in rows_by_object(out.path()) {
        let (_, _, first_offset) = writer_of(&object).expect("writer part");
        let day = if first_offset == 0 { earlier } else { later };
        assert!(
            first_offset == 0 || first_offset == later_start,
            "{object} starts at neither segment"
        );
        let wanted: BTreeSet<_> = expected_of(day).into_iter().collect();
        assert!(
            object_rows.iter().all(|row| wanted.contains(&row.key())),
            "{object} holds rows of the other day"
        );
    }
}

/// Produces `records` in small batches with pauses, so that segments close by age.
fn trickle(broker: &Broker, topic: &str, records: &[(Vec<u8>, Vec<u8>)]) -> Vec<Produced> {
    let mut produced = Vec::new();
    for batch in records.chunks(25) {
        produced.extend(produce(broker, topic, batch));
        // Pacing the input, not waiting for espy.
        std::thread::sleep(Duration::from_millis(200));
    }
    produced
}

/// Whether a marker object is present under the folder `root`.
fn marker_present(root: &Path) -> bool {
    let mut pending = vec![root.join("_espy/markers")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "json") {
                return true;
            }
        }
    }
    false
}

#[test]
fn age_closed_segments_replay_after_a_kill_without_conflicts_and_objects_name_their_segment() {
    let documents =
        corpus("nxlog/otrf_nxlog_metasploit_outflank-dumpert_lsass_memory_dump_sysmon_net.ndjson");
    let broker = Broker::start();
    broker.create_topic("trickle", 2);
    broker.create_topic("trickle-dlq", 1);
    let out = tempfile::tempdir().expect("output dir");
    let config = RunConfig {
        segment: "max_age_secs = 1\nmax_records = 1000000".to_string(),
        ..RunConfig::new("trickle", out.path())
    }
    .render(&broker);
    let records = keyed_by_agent(&documents, 16);

    let mut first = Espy::start(&config);
    first.wait_assigned(Duration::from_secs(60));
    let (produced, mut second, marker_seen) = std::thread::scope(|scope| {
        let producer = scope.spawn(|| trickle(&broker, "trickle", &records));
        // Several age closes first, then the kill as soon as a segment's marker is there:
        // between its marker and its commit.
        let aged = wait_until(Duration::from_secs(30), || {
            first.assert_running();
            first.metric("espy_segments_closed_total{cause=\"age\"}") >= 3.0
        });
        assert!(aged, "no age closes:\n{}", first.log());
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut marker_seen = false;
        while !marker_seen && Instant::now() < deadline {
            marker_seen = marker_present(out.path());
            std::thread::sleep(Duration::from_millis(1));
        }
        first.kill();
        let second = Espy::start(&config);
        (producer.join().expect("producer"), second, marker_seen)
    });

    let expected = expected_of(&produced);
    wait_for_rows(
        &mut [&mut second],
        out.path(),
        &expected,
        Duration::from_secs(120),
    );
    assert!(second.terminate().success(), "{}", second.log());
    let (first_log, second_log) = (first.log(), second.log());
    eprintln!(
        "killed with a marker present: {marker_seen}; the restart replayed {} marked segments",
        support::run::log_events(&second_log, "replaying a segment up to its marked offset").len()
    );

    for log in [&first_log, &second_log] {
        assert!(
            !log.contains("already exists with different content"),
            "a replay rewrote an object with other rows:\n{log}"
        );
    }
    assert_multiset_eq(&keys(&rows(out.path())), &expected);
    assert_objects_name_their_segments(out.path(), &produced);
}

/// Every object's writer part is `<topic>.p<4 digits>.o<12 digits>`, naming a produced
/// message's partition and offset, and every row in it comes from a message of that
/// partition between that offset and the next segment's first offset.
fn assert_objects_name_their_segments(root: &Path, produced: &[Produced]) {
    let mut positions = BTreeMap::<_, Vec<(i32, i64)>>::new();
    for message in produced {
        for key in expected_keys(std::slice::from_ref(&message.payload)) {
            positions
                .entry(key)
                .or_default()
                .push((message.partition, message.offset));
        }
    }
    let objects = rows_by_object(root);
    let mut starts = BTreeMap::<i32, BTreeSet<i64>>::new();
    for object in objects.keys() {
        let (topic, partition, first_offset) = writer_of(object)
            .unwrap_or_else(|| panic!("{object}: writer part is not <topic>.pNNNN.oNNNNNNNNNNNN"));
        assert_eq!(topic, produced[0].topic, "{object}");
        assert!(
            produced
                .iter()
                .any(|m| m.partition == partition && m.offset == first_offset),
            "{object}: no message at partition {partition} offset {first_offset}"
        );
        starts.entry(partition).or_default().insert(first_offset);
    }
    for (object, object_rows) in &objects {
        let (_, partition, first_offset) = writer_of(object).expect("checked above");
        let next = starts[&partition]
            .range(first_offset + 1..)
            .next()
            .copied()
            .unwrap_or(i64::MAX);
        for row in object_rows {
            let from = positions.get(&row.key()).cloned().unwrap_or_default();
            assert!(
                from.iter()
                    .any(|&(p, o)| p == partition && (first_offset..next).contains(&o)),
                "{object} holds a row from {from:?}, outside its segment: {}",
                row.line
            );
        }
    }
}

/// The one marker object under the folder `root`: its name's partition and first offset,
/// and the last offset it records.
fn only_marker(root: &Path) -> serde_json::Value {
    let mut found = Vec::new();
    let mut pending = vec![root.join("_espy/markers")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "json") {
                found.push(path);
            }
        }
    }
    assert_eq!(found.len(), 1, "expected one marker, found {found:?}");
    let text = std::fs::read(&found[0]).expect("read marker");
    serde_json::from_slice(&text).expect("marker is JSON")
}

#[test]
fn a_replica_killed_before_an_age_closed_segment_was_written_is_replayed_up_to_its_marker() {
    let documents =
        corpus("nxlog/otrf_nxlog_metasploit_outflank-dumpert_lsass_memory_dump_sysmon_net.ndjson");
    let broker = Broker::start();
    broker.create_topic("marked", 1);
    broker.create_topic("marked-dlq", 1);
    let out = tempfile::tempdir().expect("output dir");
    let config = RunConfig {
        segment: "max_age_secs = 1\nmax_records = 1000000".to_string(),
        // The blocked segment is retried, never given up on and re-cut, while the test runs.
        output: format!("root = {:?}\nwrite_timeout_secs = 300", out.path()),
        ..RunConfig::new("marked", out.path())
    }
    .render(&broker);
    let records = keyed_by_agent(&documents, 16);

    let mut first = Espy::start(&config);
    first.wait_assigned(Duration::from_secs(60));
    let (produced, mut second, marker) = std::thread::scope(|scope| {
        let producer = scope.spawn(|| trickle(&broker, "marked", &records));
        let aged = wait_until(Duration::from_secs(30), || {
            first.assert_running();
            first.metric("espy_segments_closed_total{cause=\"age\"}") >= 2.0
        });
        assert!(aged, "no age closes:\n{}", first.log());

        // A file where the hour objects' day folder was: the next segment's marker is
        // written, its objects are not.
        let written = support::zeek_logs::objects(out.path());
        let day = written[0].parent().expect("day folder").to_path_buf();
        assert!(
            written
                .iter()
                .all(|object| object.parent() == Some(day.as_path())),
            "the dataset spans more than one day: {written:?}"
        );
        let held = day.with_extension("held");
        std::fs::rename(&day, &held).expect("move the day folder away");
        std::fs::write(&day, b"not a folder").expect("block the day folder");
        let failing = wait_until(Duration::from_secs(30), || {
            first.assert_running();
            first.metric("espy_store_errors_total{operation=\"put\"}") > 0.0
        });
        assert!(failing, "no object write failed:\n{}", first.log());
        // Failing writes come after the marker, which stays until the segment commits.
        let marker = only_marker(out.path());
        first.kill();

        std::fs::remove_file(&day).expect("unblock the day folder");
        std::fs::rename(&held, &day).expect("restore the day folder");
        let second = Espy::start(&config);
        (producer.join().expect("producer"), second, marker)
    });

    let expected = expected_of(&produced);
    wait_for_rows(
        &mut [&mut second],
        out.path(),
        &expected,
        Duration::from_secs(120),
    );
    let replayed = second.metric("espy_segments_closed_total{cause=\"marker\"}");
    assert!(second.terminate().success(), "{}", second.log());

    // The replay cut the segment where the killed replica had, not where its own age
    // limit would have.
    let (first_offset, last_offset) = (
        marker["first_offset"].as_i64().expect("first_offset"),
        marker["last_offset"].as_i64().expect("last_offset"),
    );
    let segments = support::run::committed_segments(&second.log());
    assert!(
        segments.iter().any(|s| s.first_offset == first_offset
            && s.last_offset == last_offset
            && s.cause == "marker"),
        "no segment {first_offset}..={last_offset} closed by its marker: {segments:?}"
    );
    assert_eq!(replayed, 1.0);
    for log in [first.log(), second.log()] {
        assert!(
            !log.contains("already exists with different content"),
            "a replay rewrote an object with other rows:\n{log}"
        );
    }
    assert_multiset_eq(&keys(&rows(out.path())), &expected);
}
