//! Properties of `decode` over inputs nobody wrote by hand: it never panics on arbitrary or
//! mutated bytes, a Sysmon network event is never skipped whatever its field values, and
//! Sysmon's address and number forms round-trip.

mod input_data;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use espy::event::Detail;
use espy::input::{Decoded, decode};
use input_data::{REFERENCE, line, lines, ndjson_files, with_value};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Every real and hand-written document.
static DOCUMENTS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    ["corpus/nxlog", "corpus/winlogbeat6", "fixtures"]
        .into_iter()
        .flat_map(ndjson_files)
        .flat_map(|file| lines(&file))
        .collect()
});

const NXLOG_3: &str = "corpus/nxlog/otrf_nxlog_msf_record_mic_sysmon_net.ndjson";
const NXLOG_22: &str = "corpus/nxlog/otrf_nxlog_purplesharp_ad_playbook_I_sysmon_net.ndjson";

/// One byte-level change to a document.
#[derive(Debug, Clone)]
enum Mutation {
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Remove(prop::sample::Index),
    Truncate(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that matter to JSON and to the scan are more interesting than random ones.
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(b"\"\\{}[]:,0123-u \n".to_vec()),
    ];
    prop_oneof![
        (any::<prop::sample::Index>(), byte.clone()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<prop::sample::Index>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<prop::sample::Index>().prop_map(Mutation::Remove),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(document: &mut Vec<u8>, mutation: &Mutation) {
    if document.is_empty() {
        return;
    }
    match mutation {
        Mutation::Set(at, byte) => {
            let at = at.index(document.len());
            document[at] = *byte;
        }
        Mutation::Insert(at, byte) => document.insert(at.index(document.len() + 1), *byte),
        Mutation::Remove(at) => {
            document.remove(at.index(document.len()));
        }
        Mutation::Truncate(at) => document.truncate(at.index(document.len())),
    }
}

/// Any JSON value a shipper might put where Sysmon wrote a string.
fn any_json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        ".{0,40}".prop_map(Value::from),
        "[0-9a-fA-F:.%-]{0,40}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
        Just(json!({"a": [1, "b"]})),
        Just(json!(["x", 2])),
    ]
}

const SYSMON_3_FIELDS: &[&str] = &[
    "UtcTime",
    "SourceIp",
    "SourcePort",
    "DestinationIp",
    "DestinationPort",
    "Protocol",
    "Initiated",
    "DestinationPortName",
    "Image",
    "User",
    "ProcessId",
    "ProcessGuid",
    "Hostname",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode(&bytes, REFERENCE);
    }

    #[test]
    fn decode_never_panics_on_arbitrary_text_after_a_sysmon_prefix(tail in ".{0,300}") {
        let document = format!(r#"{{"SourceName":"Microsoft-Windows-Sysmon","EventID":3,{tail}"#);
        let _ = decode(document.as_bytes(), REFERENCE);
    }

    #[test]
    fn decode_never_panics_on_mutated_real_documents(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..8),
        reference in any::<i64>(),
    ) {
        let mut document = pick.get(&DOCUMENTS).clone();
        for mutation in &mutations {
            mutate(&mut document, mutation);
        }
        let _ = decode(&document, reference);
        let _ = decode(&document, REFERENCE);
    }

    #[test]
    fn a_sysmon_3_event_is_converted_or_rejected_whatever_a_field_holds(
        field in prop::sample::select(SYSMON_3_FIELDS),
        value in prop::option::of(any_json_value()),
    ) {
        let document = with_value(&line(NXLOG_3, 1), &[field], value);
        match decode(&document, REFERENCE) {
            Decoded::Event(_) => {}
            Decoded::Rejected(reject) => {
                prop_assert!(reject.shape.is_some(), "{reject:?}");
                prop_assert!(reject.detail.contains(field), "{field}: {}", reject.detail);
            }
            Decoded::Skipped(skip) => prop_assert!(false, "skipped as {skip:?}"),
        }
    }

    #[test]
    fn query_results_never_cost_the_event_and_never_yield_empty_answers(results in ".{0,200}") {
        let document = with_value(&line(NXLOG_22, 1), &["QueryResults"], Some(json!(results)));
        match decode(&document, REFERENCE) {
            Decoded::Event(event) => {
                let Detail::Dns(query) = event.detail else {
                    return Err(TestCaseError::fail("not a DNS event"));
                };
                for answer in &query.answers {
                    if let espy::event::DnsAnswer::Text(text) = answer {
                        prop_assert!(!text.trim().is_empty(), "{answer:?}");
                    }
                }
            }
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn fully_expanded_ipv6_as_sysmon_writes_it_round_trips(bits in any::<u128>(), port in any::<u16>()) {
        let address = Ipv6Addr::from(bits);
        let expanded = address.segments().iter().map(|s| format!("{s:x}")).collect::<Vec<_>>().join(":");
        let document = with_value(&line(NXLOG_3, 1), &["SourceIp"], Some(json!(expanded)));
        let document = with_value(&document, &["SourcePort"], Some(json!(port.to_string())));
        let Decoded::Event(event) = decode(&document, REFERENCE) else {
            return Err(TestCaseError::fail(format!("{expanded} did not decode")));
        };
        let Detail::Connection(connection) = event.detail else {
            return Err(TestCaseError::fail("not a connection"));
        };
        // An IPv4-mapped address is written as plain IPv4, as Zeek writes it.
        let expected = address.to_ipv4_mapped().map_or(IpAddr::V6(address), IpAddr::V4);
        prop_assert_eq!(connection.source.ip, expected);
        prop_assert_eq!(connection.source.port, port);
    }

    #[test]
    fn mapped_dns_answers_become_ipv4(octets in any::<[u8; 4]>()) {
        let v4 = Ipv4Addr::from(octets);
        let results = format!("::ffff:{v4};{v4};");
        let document = with_value(&line(NXLOG_22, 1), &["QueryResults"], Some(json!(results)));
        let Decoded::Event(event) = decode(&document, REFERENCE) else {
            return Err(TestCaseError::fail("did not decode"));
        };
        let Detail::Dns(query) = event.detail else {
            return Err(TestCaseError::fail("not DNS"));
        };
        let expected = vec![espy::event::DnsAnswer::Address(IpAddr::V4(v4)); 2];
        prop_assert_eq!(query.answers, expected);
    }
}
