//! Every document of every corpus file decodes the way an independent, deliberately simple
//! reading of the same JSON (through `serde_json::Value`, chrono and std) says it should:
//! each Sysmon event 3 or 22 becomes an event with the same fields, everything else is
//! skipped. Counts come from that reading, never from a list of expected numbers.

mod input_data;

use std::net::IpAddr;

use espy::event::{Detail, DnsAnswer, Shape, SysmonEvent, Transport};
use espy::input::{Decoded, Skip, decode};
use input_data::{REFERENCE, lines, ndjson_files};
use serde_json::Value;

/// What the simple reading expects of one document.
enum Expected {
    Connection,
    Dns,
    Skip(Skip),
}

fn number(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_str()?.parse().ok())
}

fn expected(document: &Value) -> Expected {
    let provider = document
        .get("source_name")
        .or_else(|| document.get("SourceName"))
        .and_then(Value::as_str);
    if provider != Some("Microsoft-Windows-Sysmon") {
        return Expected::Skip(Skip::NotSysmon);
    }
    let id = document
        .get("event_id")
        .or_else(|| document.get("EventID"))
        .and_then(number);
    match id {
        Some(3) => Expected::Connection,
        Some(22) => Expected::Dns,
        _ => Expected::Skip(Skip::OtherEventId),
    }
}

/// Sysmon's fields: `event_data` in Winlogbeat 6, the top level in NXLog.
fn sysmon_field<'v>(document: &'v Value, name: &str) -> Option<&'v str> {
    let data = document.get("event_data").unwrap_or(document);
    data.get(name).and_then(Value::as_str)
}

/// A value or nothing, for fields where Sysmon writes `-` or an empty string for none.
fn given<'v>(document: &'v Value, name: &str) -> Option<&'v str> {
    sysmon_field(document, name).filter(|v| !v.is_empty() && *v != "-")
}

fn address(text: &str) -> IpAddr {
    match text.parse::<IpAddr>().expect("corpus address") {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn expected_answers(results: Option<&str>) -> Vec<DnsAnswer<'_>> {
    let Some(results) = results else {
        return Vec::new();
    };
    results
        .split(';')
        .filter(|entry| !entry.is_empty() && *entry != "-")
        .filter_map(|entry| {
            if entry.starts_with("type:") {
                let words: Vec<&str> = entry.split_whitespace().collect();
                words.get(2).map(|value| DnsAnswer::Text((*value).into()))
            } else {
                Some(DnsAnswer::Address(address(entry)))
            }
        })
        .collect()
}

fn check_common(event: &SysmonEvent<'_>, document: &Value, folder: &str) {
    let utc = sysmon_field(document, "UtcTime").expect("UtcTime");
    let time = chrono::NaiveDateTime::parse_from_str(utc, "%Y-%m-%d %H:%M:%S%.f")
        .expect("UtcTime format")
        .and_utc()
        .timestamp_micros();
    assert_eq!(event.time, time);

    let computer = document
        .get("computer_name")
        .or_else(|| document.get("Hostname"))
        .and_then(Value::as_str);
    assert_eq!(Some(&*event.computer_name), computer);
    let shape = if folder == "winlogbeat6" {
        Shape::Winlogbeat6
    } else {
        Shape::Nxlog
    };
    assert_eq!(event.shape, shape);
    // Neither shape names the endpoint's agent.
    assert_eq!((&event.agent.id, &event.agent.hostname), (&None, &None));
    assert!(event.host_ips.is_empty());

    assert_eq!(event.process.image.as_deref(), given(document, "Image"));
    assert_eq!(event.process.user.as_deref(), given(document, "User"));
    assert_eq!(
        event.process.guid.as_deref(),
        given(document, "ProcessGuid")
    );
    let pid = given(document, "ProcessId").map(|pid| pid.parse::<u32>().expect("pid"));
    assert_eq!(event.process.pid, pid);
}

fn check_detail(event: &SysmonEvent<'_>, document: &Value) {
    let field = |name| given(document, name).unwrap_or_else(|| panic!("{name}"));
    match &event.detail {
        Detail::Connection(connection) => {
            assert_eq!(connection.source.ip, address(field("SourceIp")));
            assert_eq!(
                connection.source.port,
                field("SourcePort").parse::<u16>().expect("port")
            );
            assert_eq!(connection.destination.ip, address(field("DestinationIp")));
            assert_eq!(
                connection.destination.port,
                field("DestinationPort").parse::<u16>().expect("port")
            );
            let transport = match field("Protocol") {
                "tcp" => Transport::Tcp,
                _ => Transport::Udp,
            };
            assert_eq!(connection.transport, transport);
            assert_eq!(connection.initiated, field("Initiated") == "true");
            assert_eq!(
                connection.port_name.as_deref(),
                given(document, "DestinationPortName")
            );
        }
        Detail::Dns(query) => {
            assert_eq!(query.name, field("QueryName"));
            let status = given(document, "QueryStatus").map(|s| s.parse::<u32>().expect("status"));
            assert_eq!(query.status, status);
            assert_eq!(
                query.answers,
                expected_answers(sysmon_field(document, "QueryResults"))
            );
        }
    }
}

#[test]
fn every_corpus_document_decodes_as_a_simple_reading_of_its_json_says() {
    let mut files = ndjson_files("corpus/winlogbeat6");
    files.extend(ndjson_files("corpus/nxlog"));
    assert!(files.len() >= 10, "corpus files: {files:?}");

    for file in files {
        let folder = file.split('/').nth(1).expect("folder").to_owned();
        let (mut connections, mut queries, mut skipped) = (0usize, 0usize, 0usize);
        let (mut want_connections, mut want_queries, mut want_skipped) = (0usize, 0usize, 0usize);
        for (index, document) in lines(&file).iter().enumerate() {
            let value: Value = serde_json::from_slice(document).expect("corpus JSON");
            let context = format!("{file} line {}", index + 1);
            let expectation = expected(&value);
            match &expectation {
                Expected::Connection => want_connections += 1,
                Expected::Dns => want_queries += 1,
                Expected::Skip(_) => want_skipped += 1,
            }
            match (expectation, decode(document, REFERENCE)) {
                (Expected::Connection | Expected::Dns, Decoded::Event(event)) => {
                    match event.detail {
                        Detail::Connection(_) => connections += 1,
                        Detail::Dns(_) => queries += 1,
                    }
                    let checked = std::panic::catch_unwind(|| {
                        check_common(&event, &value, &folder);
                        check_detail(&event, &value);
                    });
                    assert!(checked.is_ok(), "{context}: fields differ");
                }
                (Expected::Skip(want), Decoded::Skipped(skip)) => {
                    assert_eq!(skip, want, "{context}");
                    skipped += 1;
                }
                (_, other) => panic!("{context}: unexpected {other:?}"),
            }
        }
        assert_eq!(
            (connections, queries, skipped),
            (want_connections, want_queries, want_skipped),
            "{file}: (event 3, event 22, skipped)"
        );
        if file.contains("_sysmon_net") {
            assert!(connections + queries > 0, "{file} holds network events");
        } else {
            assert_eq!(connections + queries, 0, "{file} holds no network events");
        }
    }
}

#[test]
fn security_firewall_events_are_not_sysmon() {
    for file in [
        "corpus/nxlog/otrf_nxlog_security_wfp_5156_etc.ndjson",
        "corpus/winlogbeat6/otrf_wlb6_security_wfp_5156_etc.ndjson",
    ] {
        for document in lines(file) {
            assert!(matches!(
                decode(&document, REFERENCE),
                Decoded::Skipped(Skip::NotSysmon)
            ));
        }
    }
}

#[test]
fn the_corpus_really_contains_the_forms_the_decoder_must_handle() {
    // Guards the whole-corpus test against a corpus that lost its hard cases.
    let all: Vec<Vec<u8>> = ndjson_files("corpus/nxlog")
        .into_iter()
        .chain(ndjson_files("corpus/winlogbeat6"))
        .flat_map(|file| lines(&file))
        .collect();
    let contains = |needle: &str| {
        all.iter()
            .any(|line| line.windows(needle.len()).any(|w| w == needle.as_bytes()))
    };
    for needle in [
        "\"0:0:0:0:0:0:0:1\"",
        "::ffff:",
        "type:  5 ",
        "type:  33 ;",
        "\"QueryResults\":\"-\"",
        "\"DestinationPortName\":\"-\"",
        "\"Initiated\":\"false\"",
        "\\u003c",
        "\"EventID\":\"",
    ] {
        assert!(contains(needle), "{needle}");
    }
}
