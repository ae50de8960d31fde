//! `espy run` when replicas come and go: partitions are shared, a leaving replica hands
//! its partitions over, a killed replica's work is replayed without gaps or duplicates,
//! and late events become new objects in hours already written.

mod support;

use std::time::Duration;

use support::espy::Espy;
use support::zeek_logs::{corpus, expected_keys, keys, objects, rows};
use support::{Broker, wait_until};

fn produce(broker: &Broker, topic: &str, documents: &[Vec<u8>]) {
    // Keys spread hosts over partitions as Winlogbeat's agent ids would.
    let records: Vec<(Vec<u8>, Vec<u8>)> = documents
        .iter()
        .enumerate()
        .map(|(i, document)| (format!("agent-{}", i % 16).into_bytes(), document.clone()))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    assert_eq!(
        runtime.block_on(broker.produce_all(topic, &records)),
        documents.len()
    );
}

fn config(broker: &Broker, topic: &str, root: &std::path::Path, segment: &str) -> String {
    format!(
        r#"
[kafka]
brokers = "{brokers}"
topics = ["{topic}"]
group_id = "espy-{topic}"
dead_letter_topic = "{topic}-dlq"
assignment_strategy = "range"
[kafka.options]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
[output]
root = {root:?}
[segment]
{segment}
[shutdown]
grace_secs = 20
"#,
        brokers = broker.bootstrap()
    )
}

fn wait_for(espy: &mut [&mut Espy], root: &std::path::Path, expected: &[(String, String, String)]) {
    let mut actual = Vec::new();
    let complete = wait_until(Duration::from_secs(120), || {
        espy.iter_mut().for_each(|e| e.assert_running());
        actual = keys(&rows(root));
        actual.len() >= expected.len()
    });
    assert!(
        complete,
        "only {} of {} rows arrived",
        actual.len(),
        expected.len()
    );
    assert_eq!(actual, expected, "rows differ from what the input yields");
}

#[test]
fn two_replicas_split_the_partitions_and_survive_one_leaving() {
    let broker = Broker::start();
    broker.create_topic("shared", 4);
    broker.create_topic("shared-dlq", 1);
    let first = corpus(
        "nxlog/otrf_nxlog_empire_dllinjection_LoadLibrary_CreateRemoteThread_sysmon_net.ndjson",
    );
    let second = corpus("nxlog/otrf_nxlog_psh_cmstp_execution_bypassuac_sysmon_net.ndjson");
    let out = tempfile::tempdir().expect("output dir");
    let settings = config(&broker, "shared", out.path(), "max_age_secs = 1");

    let mut a = Espy::start(&settings);
    let mut b = Espy::start(&settings);
    let split = wait_until(Duration::from_secs(60), || {
        a.metric("espy_assigned_partitions") == 2.0 && b.metric("espy_assigned_partitions") == 2.0
    });
    assert!(
        split,
        "replicas did not get two partitions each:\n{}\n{}",
        a.log(),
        b.log()
    );
    produce(&broker, "shared", &first);
    wait_for(&mut [&mut a, &mut b], out.path(), &expected_keys(&first));

    assert!(
        a.terminate().success(),
        "replica a did not stop cleanly:\n{}",
        a.log()
    );
    let took_over = wait_until(Duration::from_secs(60), || {
        b.metric("espy_assigned_partitions") == 4.0
    });
    assert!(
        took_over,
        "replica b did not take over all partitions:\n{}",
        b.log()
    );
    produce(&broker, "shared", &second);
    let all: Vec<Vec<u8>> = first.iter().chain(&second).cloned().collect();
    wait_for(&mut [&mut b], out.path(), &expected_keys(&all));
}

#[test]
fn a_replica_killed_mid_stream_and_restarted_leaves_no_gap_and_no_duplicate() {
    let broker = Broker::start();
    broker.create_topic("crashy", 2);
    broker.create_topic("crashy-dlq", 1);
    let mut documents =
        corpus("nxlog/otrf_nxlog_metasploit_sharpdump_lsass_memory_dump_sysmon_net.ndjson");
    documents.extend(corpus(
        "winlogbeat6/otrf_wlb6_empire_scm_dll_hijack_ikeext_sysmon_net.ndjson",
    ));
    produce(&broker, "crashy", &documents);
    let out = tempfile::tempdir().expect("output dir");
    // Small segments: many writes and commits, so the kill lands between some of them.
    let settings = config(
        &broker,
        "crashy",
        out.path(),
        "max_records = 25\nmax_age_secs = 1",
    );

    let mut first = Espy::start(&settings);
    let started = wait_until(Duration::from_secs(60), || {
        first.assert_running();
        !objects(out.path()).is_empty()
    });
    assert!(
        started,
        "no object written before the kill:\n{}",
        first.log()
    );
    first.kill();
    let written_before_restart = rows(out.path()).len();

    let mut second = Espy::start(&settings);
    let expected = expected_keys(&documents);
    wait_for(&mut [&mut second], out.path(), &expected);
    eprintln!(
        "{written_before_restart} of {} rows were written before the kill",
        expected.len()
    );
    assert!(second.terminate().success(), "{}", second.log());
    assert_eq!(keys(&rows(out.path())), expected);
}

#[test]
fn late_events_for_a_written_hour_become_a_new_object_in_that_hour() {
    let broker = Broker::start();
    broker.create_topic("late", 1);
    broker.create_topic("late-dlq", 1);
    let documents = corpus("nxlog/otrf_nxlog_covenant_persistwmi_sysmon_net.ndjson");
    let (early, late) = documents.split_at(documents.len() / 2);
    let out = tempfile::tempdir().expect("output dir");
    let mut espy = Espy::start(&config(&broker, "late", out.path(), "max_age_secs = 1"));

    produce(&broker, "late", early);
    wait_for(&mut [&mut espy], out.path(), &expected_keys(early));
    let objects_before: Vec<String> = rows(out.path()).into_iter().map(|row| row.object).collect();

    produce(&broker, "late", late);
    wait_for(&mut [&mut espy], out.path(), &expected_keys(&documents));
    // A row of the late half sits in a new object of an hour that was already written.
    let reopened = rows(out.path()).into_iter().find(|row| {
        !objects_before.contains(&row.object)
            && objects_before
                .iter()
                .any(|before| hour_of(before) == hour_of(&row.object))
    });
    assert!(
        reopened.is_some(),
        "no late row went to a new object of a written hour"
    );
}

/// `<day>/<log>.<HH>` of an object name: the hour it holds.
fn hour_of(object: &str) -> String {
    object.split(':').next().unwrap_or(object).to_string()
}
