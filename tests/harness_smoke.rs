//! Proves the test-services harness: a real tansu broker serves a consumer
//! group, the TLS terminator accepts only clients that trust its CA, and
//! s3s-fs stores objects with create-only semantics for a single client.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use support::{Broker, S3Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_group_reads_back_every_message_produced_to_three_partitions() {
    let broker = Broker::start();
    broker.create_topic("smoke", 3);
    let records: Vec<(String, String)> = (0..100)
        .map(|i| (format!("host-{}", i % 7), format!("event-{i}")))
        .collect();

    let delivered = broker.produce_all("smoke", &records).await;

    assert_eq!(delivered, 100);
    let consumer: StreamConsumer = broker
        .consumer_config("smoke-group")
        .create()
        .expect("create consumer");
    consumer.subscribe(&["smoke"]).expect("subscribe");
    // The end of the topic is what was produced, never tansu's high watermark.
    let mut seen = HashSet::new();
    let mut partitions = HashSet::new();
    let read_all = tokio::time::timeout(Duration::from_secs(60), async {
        while seen.len() < records.len() {
            let message = consumer.recv().await.expect("consume");
            let payload = String::from_utf8(message.payload().unwrap_or_default().to_vec())
                .expect("utf-8 payload");
            partitions.insert(message.partition());
            seen.insert(payload);
        }
    })
    .await;
    assert!(
        read_all.is_ok(),
        "read {} of 100 messages in 60 s",
        seen.len()
    );
    let expected: HashSet<String> = records.into_iter().map(|(_, p)| p).collect();
    assert_eq!(seen, expected);
    assert_eq!(partitions.len(), 3, "keys spread over all partitions");
}

#[test]
fn a_client_that_trusts_the_test_ca_fetches_metadata_through_tls() {
    let (broker, tls) = Broker::start_behind_tls();
    broker.create_topic("tls-smoke", 2);

    let client: BaseConsumer = broker.client_config().create().expect("create client");
    let metadata = client
        .fetch_metadata(Some("tls-smoke"), Duration::from_secs(10))
        .expect("metadata over TLS");

    assert_eq!(metadata.topics()[0].partitions().len(), 2);
    assert!(
        metadata
            .brokers()
            .iter()
            .all(|b| b.port() == i32::from(tls.port())),
        "the broker advertises the TLS port"
    );
}

#[test]
fn a_client_with_the_wrong_ca_cannot_fetch_metadata_through_tls() {
    let (broker, tls) = Broker::start_behind_tls();

    let client: BaseConsumer = broker
        .client_config()
        .set("ssl.ca.location", tls.wrong_ca_path().display().to_string())
        .create()
        .expect("create client");
    let result = client.fetch_metadata(None, Duration::from_secs(5));

    assert!(result.is_err(), "metadata fetched despite an untrusted CA");
}

#[tokio::test]
async fn s3s_fs_stores_objects_and_refuses_to_overwrite_with_create_mode() {
    let s3 = S3Server::start();
    let store = s3.store();
    let key = ObjectPath::from("conn/2024-01-01/00/segment-0.log");

    store
        .put(&key, PutPayload::from_static(b"first"))
        .await
        .expect("put");
    let read = store
        .get(&key)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    let overwrite = store
        .put_opts(
            &key,
            PutPayload::from_static(b"second"),
            PutMode::Create.into(),
        )
        .await;

    assert_eq!(read, Bytes::from_static(b"first"));
    assert!(s3.object_path(key.as_ref()).is_file(), "stored as a file");
    assert!(
        matches!(overwrite, Err(object_store::Error::AlreadyExists { .. })),
        "create-only put over an existing key: {overwrite:?}"
    );
}
