//! `espy run` against a real broker (tansu) and real stores (a folder, s3s-fs): every
//! message's rows appear exactly once, compared as multisets of (log, uid, orig address)
//! with what espy's library makes of the same documents.

mod support;

use std::path::Path;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use support::espy::Espy;
use support::run::{
    RunConfig, assert_multiset_eq, expected_of, keyed_by_agent, rows_by_object, writer_of,
};
use support::zeek_logs::{corpus, expected_keys, keys, rows};
use support::{Broker, S3Server, wait_until};

/// Documents of several shapes and outcomes: NXLog and Winlogbeat 6 network events and
/// other Windows events that are skipped.
fn mixed_documents() -> Vec<Vec<u8>> {
    let mut documents = corpus("nxlog/otrf_nxlog_covenant_persistwmi_sysmon_net.ndjson");
    documents.extend(corpus(
        "winlogbeat6/otrf_wlb6_empire_enable_rdp_sysmon_net.ndjson",
    ));
    documents.extend(
        corpus("nxlog/otrf_nxlog_negatives.ndjson")
            .into_iter()
            .take(100),
    );
    documents
}

/// Keys like Winlogbeat's (one per host), taken from the document's host name field.
fn keyed(documents: &[Vec<u8>]) -> Vec<(Vec<u8>, Vec<u8>)> {
    documents
        .iter()
        .map(|document| {
            let value: serde_json::Value = serde_json::from_slice(document).unwrap_or_default();
            let host = ["Hostname", "computer_name"]
                .iter()
                .find_map(|field| value.get(field).and_then(|v| v.as_str()))
                .unwrap_or("unknown");
            (host.as_bytes().to_vec(), document.clone())
        })
        .collect()
}

fn produce(broker: &Broker, topic: &str, documents: &[Vec<u8>]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let delivered = runtime.block_on(broker.produce_all(topic, &keyed(documents)));
    assert_eq!(delivered, documents.len());
}

fn config(broker: &Broker, topic: &str, output: &str, extra: &str) -> String {
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
"statistics.interval.ms" = "1000"
{extra}
[output]
{output}
[segment]
max_age_secs = 2
[shutdown]
grace_secs = 20
"#,
        brokers = broker.bootstrap()
    )
}

/// Waits until the rows under `root` are exactly `expected`, failing on timeout with the
/// difference.
fn wait_for_rows(espy: &mut Espy, root: &Path, expected: &[(String, String, String)]) {
    let mut actual = Vec::new();
    let complete = wait_until(Duration::from_secs(120), || {
        espy.assert_running();
        actual = keys(&rows(root));
        actual.len() >= expected.len()
    });
    assert!(
        complete,
        "only {} of {} rows arrived:\n{}",
        actual.len(),
        expected.len(),
        espy.log()
    );
    assert_eq!(actual, expected, "rows differ from what the input yields");
}

#[test]
fn every_record_arrives_exactly_once_in_hour_objects_on_a_folder() {
    let broker = Broker::start();
    broker.create_topic("events", 3);
    broker.create_topic("events-dlq", 1);
    let documents = mixed_documents();
    produce(&broker, "events", &documents);
    let out = tempfile::tempdir().expect("output dir");
    let root = out.path().join("zeek");

    let mut espy = Espy::start(&config(
        &broker,
        "events",
        &format!("root = {:?}", root),
        "",
    ));
    let expected = expected_keys(&documents);
    assert!(!expected.is_empty());
    wait_for_rows(&mut espy, &root, &expected);
    assert!(
        espy.terminate().success(),
        "espy did not stop cleanly:\n{}",
        espy.log()
    );

    // After a clean stop nothing was written twice, and every row is in the object of its
    // own hour and day.
    let written = rows(&root);
    assert_eq!(keys(&written), expected);
    for row in &written {
        let ts: f64 = row.fields["ts"].parse().expect("ts");
        let time = chrono::DateTime::from_timestamp(ts as i64, 0).expect("time");
        let folder = time.format("%Y-%m-%d/").to_string();
        let hour = time.format(".%H:00:00-").to_string();
        assert!(
            row.object.starts_with(&folder) && row.object.contains(&hour),
            "{} holds {}",
            row.object,
            row.line
        );
    }
}

#[test]
fn every_record_arrives_exactly_once_on_s3() {
    let broker = Broker::start();
    broker.create_topic("s3events", 2);
    broker.create_topic("s3events-dlq", 1);
    let documents = mixed_documents();
    produce(&broker, "s3events", &documents);
    let s3 = S3Server::start();
    let output = format!(
        "root = \"s3://{bucket}/espy\"\n[output.s3]\nendpoint = \"{endpoint}\"\nregion = \"us-east-1\"\naccess_key_id = \"{key}\"\nsecret_access_key = \"{secret}\"\nallow_http = true",
        bucket = s3.bucket(),
        endpoint = s3.endpoint(),
        key = s3.access_key(),
        secret = s3.secret_key()
    );

    let mut espy = Espy::start(&config(&broker, "s3events", &output, ""));
    // s3s-fs keeps objects as files under <root>/<bucket>/<key>.
    let root = s3.root().join(s3.bucket()).join("espy");
    wait_for_rows(&mut espy, &root, &expected_keys(&documents));
    assert!(
        espy.terminate().success(),
        "espy did not stop cleanly:\n{}",
        espy.log()
    );
    assert_eq!(keys(&rows(&root)), expected_keys(&documents));
}

#[test]
fn a_malformed_message_lands_in_the_dead_letter_topic_with_its_reason() {
    let broker = Broker::start();
    broker.create_topic("dirty", 1);
    broker.create_topic("dirty-dlq", 1);
    let good = corpus("nxlog/otrf_nxlog_covenant_persistwmi_sysmon_net.ndjson");
    let truncated = good[0][..good[0].len() / 2].to_vec();
    let mut documents = vec![truncated.clone()];
    documents.extend(good.iter().take(10).cloned());
    produce(&broker, "dirty", &documents);
    let out = tempfile::tempdir().expect("output dir");

    let mut espy = Espy::start(&config(
        &broker,
        "dirty",
        &format!("root = {:?}", out.path()),
        "",
    ));
    wait_for_rows(&mut espy, out.path(), &expected_keys(&documents));

    let consumer: BaseConsumer = broker
        .consumer_config("dlq-reader")
        .create()
        .expect("consumer");
    consumer.subscribe(&["dirty-dlq"]).expect("subscribe");
    let mut letter = None;
    let arrived = wait_until(Duration::from_secs(60), || {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            letter = Some(message.detach());
        }
        letter.is_some()
    });
    assert!(arrived, "no dead letter arrived:\n{}", espy.log());
    let letter = letter.expect("letter");
    assert_eq!(letter.payload(), Some(truncated.as_slice()));
    let headers: Vec<(String, String)> = letter
        .headers()
        .expect("headers")
        .iter()
        .map(|h| {
            (
                h.key.to_string(),
                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
            )
        })
        .collect();
    for expected in [
        ("espy.reason", "not_json"),
        ("espy.source.topic", "dirty"),
        ("espy.source.partition", "0"),
        ("espy.source.offset", "0"),
    ] {
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == expected.0 && v == expected.1),
            "header {expected:?} missing from {headers:?}"
        );
    }
    assert!(espy.metric("espy_rejects_total{reason=\"not_json\"}") >= 1.0);
}

/// Each object's lines grouped by its name without the writer part: `<day>/<log>.<hours>`.
fn lines_by_hour(root: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut grouped = std::collections::BTreeMap::<String, Vec<String>>::new();
    for row in rows(root) {
        // `<day>/<log>.HH:00:00-HH:00:00`: everything up to the end of the hour range.
        let range_end = row
            .object
            .find(':')
            .map_or(row.object.len(), |colon| colon - 2 + 17);
        let hour = row.object[..range_end.min(row.object.len())].to_string();
        grouped.entry(hour).or_default().push(row.line);
    }
    grouped.values_mut().for_each(|lines| lines.sort());
    grouped
}

#[test]
fn run_and_convert_make_the_same_records_from_the_same_dataset() {
    let name = "nxlog/otrf_nxlog_metasploit_out-minidump_lsass_memory_dump_sysmon_net.ndjson";
    let documents = corpus(name);
    let broker = Broker::start();
    broker.create_topic("replayed", 1);
    broker.create_topic("replayed-dlq", 1);
    produce(&broker, "replayed", &documents);
    let out = tempfile::tempdir().expect("output dir");
    let streamed = out.path().join("run");
    let converted = out.path().join("convert");

    let mut espy = Espy::start(&config(
        &broker,
        "replayed",
        &format!("root = {:?}", streamed),
        "",
    ));
    wait_for_rows(&mut espy, &streamed, &expected_keys(&documents));
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_espy"))
        .arg("convert")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/corpus")
                .join(name),
        )
        .arg("--out")
        .arg(&converted)
        .status()
        .expect("run espy convert");
    assert!(status.success());

    // Same hour objects up to the writer part of their names, holding the same lines.
    let (streamed, converted) = (lines_by_hour(&streamed), lines_by_hour(&converted));
    assert_eq!(
        streamed.keys().collect::<Vec<_>>(),
        converted.keys().collect::<Vec<_>>()
    );
    for (hour, lines) in &streamed {
        assert!(
            lines == &converted[hour],
            "{hour} differs: {} rows from run, {} from convert",
            lines.len(),
            converted[hour].len()
        );
    }
}

#[test]
fn two_topics_are_both_converted_and_each_object_names_its_topic() {
    // Winlogbeat hosts on one topic, NXLog hosts on another, as two sites might ship.
    let winlogbeat = corpus("winlogbeat6/otrf_wlb6_empire_invoke_runas_sysmon_net.ndjson");
    let nxlog = corpus("nxlog/otrf_nxlog_purplesharp_ad_playbook_I_sysmon_net.ndjson");
    let broker = Broker::start();
    broker.create_topic("winlogbeat", 2);
    broker.create_topic("nxlog.hq", 1);
    broker.create_topic("sites-dlq", 1);
    let from_winlogbeat =
        support::run::produce(&broker, "winlogbeat", &keyed_by_agent(&winlogbeat, 8));
    let from_nxlog = support::run::produce(&broker, "nxlog.hq", &keyed_by_agent(&nxlog, 8));
    let out = tempfile::tempdir().expect("output dir");
    let config = RunConfig {
        topics: vec!["winlogbeat".into(), "nxlog.hq".into()],
        group: "espy-sites".into(),
        dead_letter_topic: "sites-dlq".into(),
        ..RunConfig::new("winlogbeat", out.path())
    };

    let mut espy = Espy::start(&config.render(&broker));
    let all: Vec<_> = from_winlogbeat.iter().chain(&from_nxlog).cloned().collect();
    support::run::wait_for_rows(
        &mut [&mut espy],
        out.path(),
        &expected_of(&all),
        Duration::from_secs(120),
    );
    assert!(
        espy.terminate().success(),
        "espy did not stop cleanly:\n{}",
        espy.log()
    );

    // Each object's writer part names the topic its rows came from.
    let mut by_topic = std::collections::BTreeMap::<String, Vec<_>>::new();
    for (object, object_rows) in rows_by_object(out.path()) {
        let (topic, _, _) = writer_of(&object)
            .unwrap_or_else(|| panic!("{object}: writer part is not <topic>.pNNNN.oNNNNNNNNNNNN"));
        by_topic
            .entry(topic)
            .or_default()
            .extend(object_rows.iter().map(support::zeek_logs::Row::key));
    }
    by_topic.values_mut().for_each(|keys| keys.sort());
    assert_eq!(
        by_topic.keys().collect::<Vec<_>>(),
        ["nxlog.hq", "winlogbeat"],
        "objects name other topics"
    );
    assert_multiset_eq(&by_topic["winlogbeat"], &expected_of(&from_winlogbeat));
    assert_multiset_eq(&by_topic["nxlog.hq"], &expected_of(&from_nxlog));
}
