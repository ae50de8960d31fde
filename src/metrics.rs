//! Every metric espy exports: name, type, unit and help text live here and nowhere else.
//!
//! Call sites use the constants below with the `metrics` macros; [`describe`] registers the
//! help texts once at start-up. Serving them over HTTP is `health`'s job.

use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// The recording macros, re-exported so call sites name one `metrics` module.
pub use ::metrics::{counter, gauge, histogram};

/// Documents by outcome (`converted`, `skipped`, `rejected`) and input shape (`unknown`
/// when the shape was not detected).
pub const EVENTS: &str = "espy_events_total";
/// Rejected documents by reason.
pub const REJECTS: &str = "espy_rejects_total";
/// Messages produced to the dead-letter topic, by reason.
pub const DEAD_LETTERS: &str = "espy_dead_letters_total";
/// Zeek rows written in objects, by log type.
pub const RECORDS_WRITTEN: &str = "espy_records_written_total";
/// Objects written, by log type.
pub const OBJECTS_WRITTEN: &str = "espy_objects_written_total";
/// Compressed bytes written in objects, by log type.
pub const OBJECT_BYTES_WRITTEN: &str = "espy_object_bytes_written_total";
/// DNS queries whose name has no dot; written, but RITA skips them by its own rule.
pub const DNS_SINGLE_LABEL: &str = "espy_dns_single_label_queries_total";
/// Rows held in open segments, not yet written.
pub const BUFFERED_RECORDS: &str = "espy_buffered_records";
/// Compressed bytes held in open segments.
pub const BUFFERED_BYTES: &str = "espy_buffered_bytes";
/// Segments closed, by cause (`records`, `bytes`, `event_time`, `age`, `shutdown`, `marker`).
pub const SEGMENTS_CLOSED: &str = "espy_segments_closed_total";
/// Time to write all objects of a closed segment.
pub const FLUSH_SECONDS: &str = "espy_flush_duration_seconds";
/// Time to commit a segment's offsets.
pub const COMMIT_SECONDS: &str = "espy_commit_duration_seconds";
/// Consumer lag per topic and partition, from librdkafka's statistics.
pub const CONSUMER_LAG: &str = "espy_consumer_lag_messages";
/// Partitions currently assigned to this replica.
pub const ASSIGNED_PARTITIONS: &str = "espy_assigned_partitions";
/// Rebalance events, by kind (`assign`, `revoke`).
pub const REBALANCES: &str = "espy_rebalances_total";
/// Object store errors, by operation (`put`, `get`, `conflict`, `timeout` when the store
/// did not answer within `output.write_timeout_secs`).
pub const STORE_ERRORS: &str = "espy_store_errors_total";
/// Kafka errors, by kind (`consume`, `commit`, `produce`, `client`).
pub const BROKER_ERRORS: &str = "espy_broker_errors_total";
/// Always 1, labelled with the version.
pub const BUILD_INFO: &str = "espy_build_info";

/// Bucket bounds for the latency histograms, in seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Registers help texts and units for every metric.
pub fn describe() {
    describe_counter!(
        EVENTS,
        Unit::Count,
        "Documents read, by outcome and input shape."
    );
    describe_counter!(REJECTS, Unit::Count, "Documents rejected, by reason.");
    describe_counter!(
        DEAD_LETTERS,
        Unit::Count,
        "Messages sent to the dead-letter topic, by reason."
    );
    describe_counter!(
        RECORDS_WRITTEN,
        Unit::Count,
        "Zeek rows written in objects, by log type."
    );
    describe_counter!(
        OBJECTS_WRITTEN,
        Unit::Count,
        "Zeek log objects written, by log type."
    );
    describe_counter!(
        OBJECT_BYTES_WRITTEN,
        Unit::Bytes,
        "Compressed bytes written, by log type."
    );
    describe_counter!(
        DNS_SINGLE_LABEL,
        Unit::Count,
        "DNS queries whose name has no dot (written; RITA skips them)."
    );
    describe_gauge!(BUFFERED_RECORDS, Unit::Count, "Rows held in open segments.");
    describe_gauge!(
        BUFFERED_BYTES,
        Unit::Bytes,
        "Compressed bytes held in open segments."
    );
    describe_counter!(SEGMENTS_CLOSED, Unit::Count, "Segments closed, by cause.");
    describe_histogram!(
        FLUSH_SECONDS,
        Unit::Seconds,
        "Time to write the objects of a closed segment."
    );
    describe_histogram!(
        COMMIT_SECONDS,
        Unit::Seconds,
        "Time to commit a segment's offsets."
    );
    describe_gauge!(
        CONSUMER_LAG,
        Unit::Count,
        "Consumer lag per topic and partition."
    );
    describe_gauge!(
        ASSIGNED_PARTITIONS,
        Unit::Count,
        "Partitions assigned to this replica."
    );
    describe_counter!(REBALANCES, Unit::Count, "Rebalance events, by kind.");
    describe_counter!(
        STORE_ERRORS,
        Unit::Count,
        "Object store errors, by operation."
    );
    describe_counter!(BROKER_ERRORS, Unit::Count, "Kafka errors, by kind.");
    describe_gauge!(BUILD_INFO, Unit::Count, "Build information; always 1.");
}
