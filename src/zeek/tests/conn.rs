//! conn.log rows: orientation, addresses, local flags, agent identity, hostile values, uids.

use std::borrow::Cow;

use super::*;
use crate::zeek::NetworkSettings;

/// The columns every test event shares after `tunnel_parents`.
const WS01_TAIL: [&str; 5] = [
    AGENT_ID,
    "WS01",
    r"C:\\Windows\\System32\\svchost.exe",
    r"NT AUTHORITY\\NETWORK SERVICE",
    "1234",
];

/// A row of the WS01 test event: `ends` are id.orig_h to service, `local` the local flags;
/// the measurements Sysmon lacks are unset around them.
fn row(ends: [&str; 6], local: [&str; 2], initiated: &str) -> String {
    let mut columns: Vec<&str> = vec!["1575520060.123000", "UID"];
    columns.extend(ends);
    columns.extend(["-"; 4]);
    columns.extend(local);
    columns.extend(["-"; 7]);
    columns.extend(WS01_TAIL);
    columns.push(initiated);
    tsv(&columns)
}

fn with_port_name(mut detail: Detail<'static>, port_name: &str) -> Detail<'static> {
    if let Detail::Connection(connection) = &mut detail {
        connection.port_name = Some(Cow::Owned(port_name.to_string()));
    }
    detail
}

#[test]
fn an_outbound_tcp_connection_is_one_exact_row() {
    let event = event(with_port_name(
        connection(
            at("10.0.2.15", 49730),
            at("93.184.216.34", 443),
            Transport::Tcp,
            true,
        ),
        "https",
    ));
    let rows = rows(&event);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        without_uid(&rows[0]),
        tsv(&[
            "1575520060.123000",
            "UID",
            "10.0.2.15",
            "49730",
            "93.184.216.34",
            "443",
            "tcp",
            "https",
            "-",
            "-",
            "-",
            "-",
            "T",
            "F",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
            AGENT_ID,
            "WS01",
            r"C:\\Windows\\System32\\svchost.exe",
            r"NT AUTHORITY\\NETWORK SERVICE",
            "1234",
            "T",
        ])
    );
    assert_eq!(rows[0].split('\t').count(), 27);
}

#[test]
fn a_not_initiated_record_from_a_service_port_is_swapped_and_initiated_stays_as_given() {
    // Sysmon on a DNS server: the local side in Source*, Initiated false.
    let event = event(connection(
        at("172.18.39.5", 53),
        at("172.18.39.100", 55506),
        Transport::Udp,
        false,
    ));
    assert_eq!(
        without_uid(&rows(&event)[0]),
        row(
            ["172.18.39.100", "55506", "172.18.39.5", "53", "udp", "-"],
            ["T", "T"],
            "F"
        )
    );
}

#[test]
fn ntp_from_123_to_123_keeps_sysmons_order() {
    let event = event(connection(
        at("10.0.2.15", 123),
        at("162.159.200.1", 123),
        Transport::Udp,
        false,
    ));
    assert_eq!(
        without_uid(&rows(&event)[0]),
        row(
            ["10.0.2.15", "123", "162.159.200.1", "123", "udp", "-"],
            ["T", "F"],
            "F"
        )
    );
}

#[test]
fn an_mdns_reply_from_the_group_address_is_swapped() {
    let event = event(connection(
        at("224.0.0.251", 5353),
        at("10.0.0.7", 5353),
        Transport::Udp,
        false,
    ));
    assert_eq!(
        without_uid(&rows(&event)[0]),
        row(
            ["10.0.0.7", "5353", "224.0.0.251", "5353", "udp", "-"],
            ["T", "F"],
            "F"
        )
    );
}

#[test]
fn sysmons_expanded_ipv6_is_written_compressed() {
    let event = event(with_port_name(
        connection(
            at("fe80:0:0:0:a1cd:665f:9ac2:55c1", 61000),
            at("ff02:0:0:0:0:0:1:3", 5355),
            Transport::Udp,
            true,
        ),
        "llmnr",
    ));
    assert_eq!(
        without_uid(&rows(&event)[0]),
        row(
            [
                "fe80::a1cd:665f:9ac2:55c1",
                "61000",
                "ff02::1:3",
                "5355",
                "udp",
                "llmnr"
            ],
            ["T", "F"],
            "T"
        )
    );
}

#[test]
fn an_ipv4_mapped_address_is_written_and_identified_as_ipv4() {
    let mapped = event(connection(
        at("::ffff:10.0.2.15", 49730),
        at("0:0:0:0:0:ffff:5db8:d822", 443),
        Transport::Tcp,
        true,
    ));
    let plain = event(connection(
        at("10.0.2.15", 49730),
        at("93.184.216.34", 443),
        Transport::Tcp,
        true,
    ));
    let (mapped, plain) = (rows(&mapped), rows(&plain));
    assert_eq!(mapped, plain);
    assert!(mapped[0].contains("\t10.0.2.15\t49730\t93.184.216.34\t443\t"));
}

#[test]
fn local_flags_follow_the_configured_networks() {
    let event = event(connection(
        at("192.168.1.20", 50000),
        at("10.9.9.9", 445),
        Transport::Tcp,
        true,
    ));
    let settings = FormatSettings {
        local_networks: vec!["10.0.0.0/8".into()],
        ..FormatSettings::default()
    };
    let row = &rows_with(settings, &event)[0];
    let columns: Vec<&str> = row.split('\t').collect();
    assert_eq!((columns[12], columns[13]), ("F", "T"));
}

#[test]
fn a_collector_forwarded_event_gets_the_uuid_of_its_computer_name() {
    let mut event = event(connection(
        at("10.0.2.15", 49730),
        at("93.184.216.34", 443),
        Transport::Tcp,
        true,
    ));
    event.agent.hostname = text("WECserver.corp.example");
    let row = &rows(&event)[0];
    assert!(row.contains(&format!("\t{WS01_DERIVED}\tWS01\t")), "{row}");

    // An agent id that is no UUID is never written as one.
    event.agent = Agent {
        id: text("winlogbeat-ws01"),
        hostname: text("WS01"),
    };
    assert!(rows(&event)[0].contains(&format!("\t{WS01_DERIVED}\tWS01\t")));
}

#[test]
fn named_networks_set_the_uuid_and_keep_the_hosts_own_name() {
    let event = event(connection(
        at("10.0.2.15", 49730),
        at("93.184.216.34", 443),
        Transport::Tcp,
        true,
    ));
    // uuid5(espy namespace, "network:hq") and "network:branch", from Python's uuid module.
    let hq = "724eecad-ee44-58b1-b1b9-21b1c514c4d3";
    let branch = "8342b268-b54a-5877-a4a6-e63c3e4b9ab2";
    let by_host = FormatSettings {
        networks: vec![NetworkSettings {
            name: "hq".into(),
            hosts: vec!["*.CORP.example".into()],
            agents: vec![],
        }],
        ..FormatSettings::default()
    };
    assert!(rows_with(by_host, &event)[0].contains(&format!("\t{hq}\tWS01\t")));
    let by_agent = FormatSettings {
        networks: vec![NetworkSettings {
            name: "branch".into(),
            hosts: vec![],
            agents: vec![AGENT_ID.into()],
        }],
        ..FormatSettings::default()
    };
    assert!(rows_with(by_agent, &event)[0].contains(&format!("\t{branch}\tWS01\t")));
}

#[test]
fn full_hostname_keeps_the_whole_computer_name() {
    let event = event(connection(
        at("10.0.2.15", 49730),
        at("93.184.216.34", 443),
        Transport::Tcp,
        true,
    ));
    let settings = FormatSettings {
        full_hostname: true,
        ..FormatSettings::default()
    };
    assert!(rows_with(settings, &event)[0].contains(&format!("\t{AGENT_ID}\tWS01.corp.example\t")));
}

#[test]
fn hostile_values_cannot_forge_a_column_a_line_or_a_placeholder() {
    let mut event = event(with_port_name(
        connection(
            at("10.0.2.15", 49730),
            at("93.184.216.34", 443),
            Transport::Tcp,
            true,
        ),
        "-",
    ));
    event.computer_name = Cow::Borrowed("EVIL\tT\nHOST\\.corp");
    event.agent = Agent::default();
    event.process.image = text("C:\\x\u{1}\r\n1575520060.000000\tCforged");
    event.process.user = text("(empty)");
    let rows = rows(&event);
    assert_eq!(rows.len(), 1);
    let columns: Vec<&str> = rows[0].split('\t').collect();
    assert_eq!(columns.len(), 27);
    assert_eq!(columns[7], r"\x2d");
    assert_eq!(columns[22], r"EVIL\x09T\x0aHOST\\");
    assert_eq!(
        columns[23],
        r"C:\\x\x01\x0d\x0a1575520060.000000\x09Cforged"
    );
    assert_eq!(columns[24], r"\x28empty)");

    event.process.image = text("-");
    event.process.user = text("");
    event.process.pid = None;
    let columns: Vec<String> = super::rows(&event)[0]
        .split('\t')
        .map(str::to_string)
        .collect();
    assert_eq!(&columns[23..26], [r"\x2d", "(empty)", "-"]);
}

#[test]
fn absent_process_values_are_unset() {
    let mut event = event(connection(
        at("10.0.2.15", 49730),
        at("93.184.216.34", 443),
        Transport::Tcp,
        true,
    ));
    event.process = Process::default();
    let row = &rows(&event)[0];
    assert!(row.ends_with("\tWS01\t-\t-\t-\tT"), "{row}");
}

#[test]
fn uids_are_pinned_and_shared_by_copies_only() {
    let original = event(connection(
        at("10.0.2.15", 49730),
        at("93.184.216.34", 443),
        Transport::Tcp,
        true,
    ));
    let uid = uid_of(&rows(&original)[0]).to_string();
    // Computed once; a change means every uid espy ever wrote changes.
    assert_eq!(uid, "C0l0Fr5uoqZhexKlVk");
    // A redelivered copy, or the same event in another shape, shares it.
    let mut copy = original.clone();
    copy.shape = Shape::Nxlog;
    assert_eq!(uid_of(&rows(&copy)[0]), uid);

    let mut changes: Vec<SysmonEvent<'static>> = Vec::new();
    let mut changed = original.clone();
    changed.time += 1000;
    changes.push(changed);
    let mut changed = original.clone();
    changed.process.pid = Some(1235);
    changes.push(changed);
    let mut changed = original.clone();
    changed.process.guid = None;
    changes.push(changed);
    let mut changed = original.clone();
    changed.computer_name = Cow::Borrowed("ws01.corp.example");
    changes.push(changed);
    changes.push(event(connection(
        at("10.0.2.15", 49731),
        at("93.184.216.34", 443),
        Transport::Tcp,
        true,
    )));
    changes.push(event(connection(
        at("10.0.2.15", 49730),
        at("93.184.216.34", 443),
        Transport::Udp,
        true,
    )));
    changes.push(event(connection(
        at("10.0.2.15", 49730),
        at("93.184.216.34", 443),
        Transport::Tcp,
        false,
    )));
    for changed in &changes {
        assert_ne!(uid_of(&rows(changed)[0]), uid, "{changed:?}");
    }
}
