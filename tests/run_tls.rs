//! `espy run` over TLS: a TLS terminator in front of the broker (tansu's own TLS does not
//! work); the right CA gets records through, a wrong CA fails at start with the reason.

mod support;

use std::time::Duration;

use support::espy::Espy;
use support::zeek_logs::{corpus, expected_keys, keys, rows};
use support::{Broker, wait_until};

fn config(broker: &Broker, ca: &std::path::Path, root: &std::path::Path) -> String {
    format!(
        r#"
[kafka]
brokers = "{brokers}"
topics = ["secure"]
group_id = "espy-secure"
dead_letter_topic = "secure-dlq"
assignment_strategy = "range"
connect_timeout_secs = 10
[kafka.options]
"security.protocol" = "ssl"
"ssl.ca.location" = {ca:?}
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
[output]
root = {root:?}
[segment]
max_age_secs = 1
"#,
        brokers = broker.bootstrap()
    )
}

#[test]
fn the_consumer_reads_over_tls_with_the_right_ca() {
    let (broker, tls) = Broker::start_behind_tls();
    broker.create_topic("secure", 1);
    broker.create_topic("secure-dlq", 1);
    let documents = corpus("nxlog/otrf_nxlog_msf_record_mic_sysmon_net.ndjson");
    let records: Vec<(Vec<u8>, Vec<u8>)> = documents
        .iter()
        .map(|d| (b"host".to_vec(), d.clone()))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(broker.produce_all("secure", &records));
    let out = tempfile::tempdir().expect("output dir");

    let mut espy = Espy::start(&config(&broker, tls.ca_path(), out.path()));
    let expected = expected_keys(&documents);
    let arrived = wait_until(Duration::from_secs(90), || {
        espy.assert_running();
        keys(&rows(out.path())).len() >= expected.len()
    });
    assert!(arrived, "records did not arrive over TLS:\n{}", espy.log());
    assert_eq!(keys(&rows(out.path())), expected);
}

#[test]
fn a_wrong_ca_fails_at_start_with_a_clear_error() {
    let (broker, tls) = Broker::start_behind_tls();
    let out = tempfile::tempdir().expect("output dir");

    let mut espy = Espy::start(&config(&broker, &tls.wrong_ca_path(), out.path()));
    let status = espy.wait();
    assert!(
        !status.success(),
        "espy accepted a broker signed by another CA"
    );
    let log = espy.log();
    assert!(
        log.contains("did not answer"),
        "no start-up failure in the log:\n{log}"
    );
    assert!(
        log.contains("certificate verify failed"),
        "the reason is not named:\n{log}"
    );
}
