//! What `decode` does with documents it cannot convert: skipped when they cannot be a Sysmon
//! network event, rejected with a typed reason and a detail naming field and value when they
//! could be or are one. The broken documents are real ones with one thing changed.

mod input_data;

use espy::event::Shape;
use espy::input::{Decoded, RejectReason, Skip, decode};
use input_data::{REFERENCE, expect_event, expect_reject, expect_skip, line, lines, with_value};
use serde_json::json;

const WLB6: &str = "corpus/winlogbeat6/otrf_wlb6_empire_enable_rdp_sysmon_net.ndjson";
const NXLOG_DNS: &str = "corpus/nxlog/otrf_nxlog_purplesharp_ad_playbook_I_sysmon_net.ndjson";
const WLB7: &str = "fixtures/winlogbeat7_ecs.ndjson";

#[test]
fn linux_sysmon_is_not_sysmon() {
    let document = line("fixtures/linux_sysmon_syslog.ndjson", 1);
    assert_eq!(expect_skip(&document), Skip::NotSysmon);
    // Also when the Linux provider and channel are proper JSON fields.
    let linux = with_value(
        &line(WLB6, 1),
        &["source_name"],
        Some(json!("Linux-Sysmon")),
    );
    let linux = with_value(
        &linux,
        &["log_name"],
        Some(json!("Linux-Sysmon/Operational")),
    );
    assert_eq!(expect_skip(&linux), Skip::NotSysmon);
}

#[test]
fn other_sysmon_events_are_skipped_in_every_shape() {
    assert_eq!(
        expect_skip(&line("fixtures/winlogbeat8_raw.ndjson", 6)),
        Skip::OtherEventId
    );
    assert_eq!(
        expect_skip(&line("fixtures/azure_windowsevent_sysmon.ndjson", 3)),
        Skip::OtherEventId
    );
    let event_1 = with_value(&line(WLB6, 1), &["event_id"], Some(json!(1)));
    assert_eq!(expect_skip(&event_1), Skip::OtherEventId);
    let string_id = with_value(&line(NXLOG_DNS, 1), &["EventID"], Some(json!("11")));
    assert_eq!(expect_skip(&string_id), Skip::OtherEventId);
}

#[test]
fn a_security_event_in_a_flat_export_is_skipped() {
    assert_eq!(
        expect_skip(&line("fixtures/flat_nosourcename.ndjson", 2)),
        Skip::NotSysmon
    );
}

#[test]
fn sysmon_network_events_in_unknown_shapes_are_unsupported_never_skipped() {
    for (file, number) in [
        ("fixtures/azure_windowsevent_sysmon.ndjson", 1),
        ("fixtures/azure_windowsevent_sysmon.ndjson", 2),
        ("fixtures/helk_renamed.ndjson", 1),
    ] {
        let reject = expect_reject(&line(file, number));
        assert_eq!(
            reject.reason,
            RejectReason::UnsupportedShape,
            "{file}:{number}"
        );
        assert_eq!(reject.shape, None);
    }
    let azure = expect_reject(&line("fixtures/azure_windowsevent_sysmon.ndjson", 1));
    assert!(azure.detail.contains("event 3"), "{}", azure.detail);
    assert!(azure.detail.contains("EventData"), "{}", azure.detail);
}

#[test]
fn a_sysmon_document_without_any_event_id_is_unsupported() {
    let document = with_value(&line(NXLOG_DNS, 1), &["EventID"], None);
    assert_eq!(
        expect_reject(&document).reason,
        RejectReason::UnsupportedShape
    );
}

#[test]
fn a_truncated_sysmon_event_is_not_json() {
    let document = line(WLB6, 1);
    let provider = b"\"source_name\":\"Microsoft-Windows-Sysmon\"";
    let end = document
        .windows(provider.len())
        .position(|w| w == provider)
        .expect("provider")
        + provider.len();
    let reject = expect_reject(&document[..end + 10]);
    assert_eq!(reject.reason, RejectReason::NotJson);
    assert_eq!(reject.shape, None);
    assert!(reject.detail.contains("EOF"), "{}", reject.detail);
}

#[test]
fn a_document_cut_before_any_mention_of_sysmon_is_skipped() {
    // Nothing left says it could be a Sysmon event.
    let document = line(WLB6, 1);
    assert_eq!(expect_skip(&document[..200]), Skip::NotSysmon);
}

#[test]
fn sysmon_xml_or_an_array_is_not_json_but_unrelated_garbage_is_skipped() {
    let xml = br#"<Event><System><Provider Name="Microsoft-Windows-Sysmon"/><EventID>3</EventID></System></Event>"#;
    assert_eq!(expect_reject(xml).reason, RejectReason::NotJson);
    let array = format!("[{}]", String::from_utf8(line(WLB6, 1)).expect("utf-8"));
    assert_eq!(
        expect_reject(array.as_bytes()).reason,
        RejectReason::NotJson
    );
    let two = [line(WLB6, 1), line(WLB6, 2)].concat();
    assert_eq!(expect_reject(&two).reason, RejectReason::NotJson);

    assert_eq!(
        expect_skip(b"<Event><EventID>4624</EventID></Event>"),
        Skip::NotSysmon
    );
    assert_eq!(expect_skip(b""), Skip::NotSysmon);
    assert_eq!(expect_skip(b"\xff\xfe"), Skip::NotSysmon);
}

#[test]
fn invalid_utf8_in_a_field_espy_reads_is_not_json() {
    let mut document = line(WLB6, 1);
    let image = b"\"Image\":\"C:";
    let at = document
        .windows(image.len())
        .position(|w| w == image)
        .expect("event_data.Image");
    document[at + image.len()] = 0xff;
    assert_eq!(expect_reject(&document).reason, RejectReason::NotJson);
}

#[test]
fn invalid_utf8_in_a_field_espy_skips_does_not_cost_the_event() {
    // serde_json skips ignored strings without validating them; the record loses nothing.
    let mut document = line(WLB6, 1);
    let message = b"\"message\":\"Network";
    let at = document
        .windows(message.len())
        .position(|w| w == message)
        .expect("message");
    document[at + message.len()] = 0xff;
    assert_eq!(expect_event(&document).computer_name, "HFDC01.shire.com");
}

#[test]
fn a_repeated_field_makes_a_sysmon_event_ambiguous() {
    let document = String::from_utf8(line(NXLOG_DNS, 1)).expect("utf-8");
    let doubled = document.replacen("{", r#"{"QueryName":"other.example","#, 1);
    let reject = expect_reject(doubled.as_bytes());
    assert_eq!(reject.reason, RejectReason::NotJson);
    assert!(
        reject.detail.contains("duplicate field `QueryName`"),
        "{}",
        reject.detail
    );
}

#[test]
fn a_byte_order_mark_before_the_document_is_ignored() {
    let document = [b"\xEF\xBB\xBF".as_slice(), &line(WLB6, 1)].concat();
    assert_eq!(expect_event(&document).computer_name, "HFDC01.shire.com");
}

#[test]
fn an_unparsable_address_is_a_bad_address_naming_field_and_value() {
    let document = with_value(
        &line(WLB6, 1),
        &["event_data", "SourceIp"],
        Some(json!("172.18.39.500")),
    );
    let reject = expect_reject(&document);
    assert_eq!(reject.reason, RejectReason::BadAddress);
    assert_eq!(reject.shape, Some(Shape::Winlogbeat6));
    assert_eq!(
        reject.detail,
        "`event_data.SourceIp` \"172.18.39.500\" is not an IP address"
    );

    let ecs = with_value(
        &line(WLB7, 1),
        &["destination", "ip"],
        Some(json!("example.com")),
    );
    let reject = expect_reject(&ecs);
    assert_eq!(
        (reject.reason, reject.shape),
        (RejectReason::BadAddress, Some(Shape::Winlogbeat7Ecs))
    );
    assert!(
        reject.detail.contains("`destination.ip`"),
        "{}",
        reject.detail
    );
}

#[test]
fn an_unparsable_port_or_pid_is_a_bad_number() {
    let port = with_value(
        &line(WLB6, 1),
        &["event_data", "DestinationPort"],
        Some(json!("rdp")),
    );
    let reject = expect_reject(&port);
    assert_eq!(reject.reason, RejectReason::BadNumber);
    assert_eq!(
        reject.detail,
        "`event_data.DestinationPort` \"rdp\" is not a port"
    );

    let big = with_value(&line(WLB7, 1), &["source", "port"], Some(json!(70000)));
    assert_eq!(expect_reject(&big).reason, RejectReason::BadNumber);

    let pid = with_value(&line(NXLOG_DNS, 1), &["ProcessId"], Some(json!("0x1D60")));
    let reject = expect_reject(&pid);
    assert_eq!(
        (reject.reason, reject.shape),
        (RejectReason::BadNumber, Some(Shape::Nxlog))
    );
    assert!(
        reject.detail.starts_with("`ProcessId`"),
        "{}",
        reject.detail
    );
}

#[test]
fn what_a_record_needs_must_be_there() {
    let cases = [
        (
            with_value(&line(WLB6, 1), &["event_data", "UtcTime"], None),
            "`event_data.UtcTime`",
        ),
        (
            with_value(&line(WLB6, 1), &["computer_name"], None),
            "`computer_name`",
        ),
        (
            with_value(&line(NXLOG_DNS, 1), &["Hostname"], None),
            "`Hostname`",
        ),
        (
            with_value(&line(WLB6, 1), &["event_data", "Initiated"], None),
            "`event_data.Initiated`",
        ),
        (
            with_value(&line(NXLOG_DNS, 1), &["QueryName"], None),
            "`QueryName`",
        ),
        (
            with_value(&line(NXLOG_DNS, 1), &["QueryName"], Some(json!("-"))),
            "`QueryName`",
        ),
        (
            with_value(&line(WLB7, 1), &["network", "direction"], None),
            "`network.direction`",
        ),
        (
            with_value(&line(WLB7, 4), &["dns", "question"], None),
            "`dns.question.name`",
        ),
        (with_value(&line(WLB7, 1), &["source"], None), "`source`"),
    ];
    for (document, field) in cases {
        let reject = expect_reject(&document);
        assert_eq!(reject.reason, RejectReason::MissingField, "{field}");
        assert!(reject.shape.is_some());
        assert!(
            reject.detail.starts_with(field),
            "{field}: {}",
            reject.detail
        );
    }
}

#[test]
fn a_raw_document_without_utc_time_is_never_dated_by_its_shipper_time() {
    let document = with_value(&line(NXLOG_DNS, 1), &["UtcTime"], None);
    // It still has @timestamp and EventTime.
    assert_eq!(expect_reject(&document).reason, RejectReason::MissingField);
}

#[test]
fn an_unparsable_time_is_a_bad_time() {
    let document = with_value(
        &line(WLB6, 1),
        &["event_data", "UtcTime"],
        Some(json!("18/05/2019 20:35")),
    );
    let reject = expect_reject(&document);
    assert_eq!(reject.reason, RejectReason::BadTime);
    assert!(
        reject.detail.contains("\"18/05/2019 20:35\""),
        "{}",
        reject.detail
    );
    let ecs = with_value(&line(WLB7, 1), &["@timestamp"], Some(json!(1552928268)));
    assert_eq!(expect_reject(&ecs).reason, RejectReason::BadTime);
}

#[test]
fn times_before_2000_or_over_a_day_after_the_reference_are_out_of_range() {
    let old = with_value(
        &line(WLB6, 1),
        &["event_data", "UtcTime"],
        Some(json!("1999-12-31 23:59:59.999")),
    );
    assert_eq!(expect_reject(&old).reason, RejectReason::TimeOutOfRange);

    // The document's own time decides against the reference it is given.
    let document = line(WLB6, 1);
    let event_time = expect_event(&document).time;
    let day = 24 * 3_600 * 1_000_000;
    assert!(matches!(
        decode(&document, event_time - day),
        Decoded::Event(_)
    ));
    match decode(&document, event_time - day - 1) {
        Decoded::Rejected(reject) => {
            assert_eq!(reject.reason, RejectReason::TimeOutOfRange);
            assert_eq!(reject.shape, Some(Shape::Winlogbeat6));
        }
        other => panic!("expected a reject, got {other:?}"),
    }
}

#[test]
fn long_values_are_cut_and_control_characters_escaped_in_details() {
    let long = format!("{}\n{}", "x".repeat(200), "forged line");
    let document = with_value(
        &line(WLB6, 1),
        &["event_data", "SourceIp"],
        Some(json!(long)),
    );
    let reject = expect_reject(&document);
    assert!(!reject.detail.contains('\n'), "{}", reject.detail);
    assert!(reject.detail.len() < 150, "{}", reject.detail);
    assert!(
        reject.detail.contains("... (212 bytes)"),
        "{}",
        reject.detail
    );
}

#[test]
fn unknown_protocol_or_initiated_words_are_bad_numbers() {
    let protocol = with_value(
        &line(WLB6, 1),
        &["event_data", "Protocol"],
        Some(json!("icmp")),
    );
    assert_eq!(expect_reject(&protocol).reason, RejectReason::BadNumber);
    let initiated = with_value(
        &line(WLB6, 1),
        &["event_data", "Initiated"],
        Some(json!("yes")),
    );
    assert_eq!(expect_reject(&initiated).reason, RejectReason::BadNumber);
}

#[test]
fn an_unknown_status_name_keeps_the_event_without_a_status() {
    let document = with_value(
        &line(WLB7, 4),
        &["sysmon", "dns", "status"],
        Some(json!("DNS_SOMETHING_NEW")),
    );
    let espy::event::Detail::Dns(query) = expect_event(&document).detail else {
        panic!("event 22");
    };
    assert_eq!(query.status, None);
}

#[test]
fn every_hand_written_fixture_decodes_as_its_readme_says() {
    // Each line is an event, a skip or an unsupported shape; none is rejected otherwise.
    for file in input_data::ndjson_files("fixtures") {
        for document in lines(&file) {
            match decode(&document, REFERENCE) {
                Decoded::Event(_) | Decoded::Skipped(_) => {}
                Decoded::Rejected(reject) => {
                    assert_eq!(
                        reject.reason,
                        RejectReason::UnsupportedShape,
                        "{file}: {reject:?}"
                    )
                }
            }
        }
    }
}
