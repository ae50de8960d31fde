//! `espy run` and the dead-letter topic: a message over `kafka.max_message_bytes` is
//! produced there unchanged, with its reason and source position in headers, while every
//! other message's rows arrive exactly once.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::Broker;
use support::espy::Espy;
use support::run::{
    Produced, RunConfig, expected_of, keyed_by_agent, produce, read_letters, wait_for_rows,
};
use support::zeek_logs::{corpus, expected_keys};

/// Below most NXLog network events of the dataset used here (1,310 to 1,830 bytes), so
/// some real network events are over it.
const MAX_MESSAGE_BYTES: usize = 1800;

#[test]
fn oversize_messages_go_to_the_dead_letter_topic_unchanged_and_the_rest_arrive_once() {
    let mut documents = corpus("nxlog/otrf_nxlog_covenant_persistwmi_sysmon_net.ndjson");
    // Other Windows events, some of them tens of kilobytes.
    documents.extend(corpus("nxlog/otrf_nxlog_negatives.ndjson"));
    let (oversize, fitting): (Vec<_>, Vec<_>) = documents
        .iter()
        .cloned()
        .partition(|document| document.len() > MAX_MESSAGE_BYTES);
    assert!(
        !expected_keys(&oversize).is_empty() && !expected_keys(&fitting).is_empty(),
        "the input must hold network events on both sides of the limit"
    );

    let broker = Broker::start();
    broker.create_topic("big", 2);
    broker.create_topic("big-dlq", 1);
    let produced = produce(&broker, "big", &keyed_by_agent(&documents, 8));
    let out = tempfile::tempdir().expect("output dir");
    let config = RunConfig {
        kafka: format!("max_message_bytes = {MAX_MESSAGE_BYTES}"),
        ..RunConfig::new("big", out.path())
    };

    let mut espy = Espy::start(&config.render(&broker));
    let (too_big, small): (Vec<Produced>, Vec<Produced>) = produced
        .into_iter()
        .partition(|message| message.payload.len() > MAX_MESSAGE_BYTES);
    wait_for_rows(
        &mut [&mut espy],
        out.path(),
        &expected_of(&small),
        Duration::from_secs(120),
    );
    let letters = read_letters(&broker, "big-dlq", too_big.len(), Duration::from_secs(60));

    // Delivery is at least once: every oversize message is there, under its own position,
    // and nothing else is.
    let source = |letter: &support::run::Letter| {
        (
            letter.headers["espy.source.topic"].clone(),
            letter.headers["espy.source.partition"].parse::<i32>().ok(),
            letter.headers["espy.source.offset"].parse::<i64>().ok(),
        )
    };
    let lettered: BTreeSet<_> = letters.iter().map(source).collect();
    let wanted: BTreeSet<_> = too_big
        .iter()
        .map(|m| (m.topic.clone(), Some(m.partition), Some(m.offset)))
        .collect();
    assert_eq!(
        lettered,
        wanted,
        "dead letters name other positions than the oversize messages:\n{}",
        espy.log()
    );
    for letter in &letters {
        let (_, partition, offset) = source(letter);
        let original = too_big
            .iter()
            .find(|m| Some(m.partition) == partition && Some(m.offset) == offset)
            .expect("a letter for an oversize message");
        assert_eq!(letter.headers["espy.reason"], "oversize");
        assert!(
            letter.headers["espy.detail"].contains(&MAX_MESSAGE_BYTES.to_string()),
            "detail does not name the limit: {:?}",
            letter.headers["espy.detail"]
        );
        assert!(
            letter.payload == original.payload,
            "payload of {partition:?}@{offset:?} changed"
        );
        assert_eq!(letter.key.as_deref(), Some(original.key.as_slice()));
    }
    assert!(espy.metric("espy_dead_letters_total{reason=\"oversize\"}") >= too_big.len() as f64);

    assert!(
        espy.terminate().success(),
        "espy did not stop cleanly:\n{}",
        espy.log()
    );
    assert_eq!(
        support::zeek_logs::keys(&support::zeek_logs::rows(out.path())),
        expected_of(&small),
        "rows changed after the clean stop"
    );
}
