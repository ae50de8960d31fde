//! Every supported document shape decodes to exactly the fields a hand check of the document
//! gives: real corpus documents for Winlogbeat 6 and the three NXLog variants, hand-written
//! fixtures for Winlogbeat 7 ECS, Winlogbeat 8 raw and Elastic ingest output.

mod input_data;

use std::borrow::Cow;
use std::net::IpAddr;

use espy::event::{
    Agent, Connection, Detail, DnsAnswer, DnsQuery, Endpoint, Process, Shape, Transport,
};
use input_data::{expect_event, line, micros};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

fn endpoint(address: &str, port: u16) -> Endpoint {
    Endpoint {
        ip: ip(address),
        port,
    }
}

fn text(value: &str) -> Option<Cow<'_, str>> {
    Some(Cow::Borrowed(value))
}

fn answer_name(name: &str) -> DnsAnswer<'_> {
    DnsAnswer::Text(Cow::Borrowed(name))
}

fn answer_ip(address: &str) -> DnsAnswer<'static> {
    DnsAnswer::Address(ip(address))
}

#[test]
fn winlogbeat6_event_3_reads_event_data_and_ignores_the_collector() {
    let document = line(
        "corpus/winlogbeat6/otrf_wlb6_empire_enable_rdp_sysmon_net.ndjson",
        1,
    );
    let event = expect_event(&document);

    assert_eq!(event.shape, Shape::Winlogbeat6);
    // UtcTime, not the shipper's @timestamp (2019-05-18T20:36:46.254Z).
    assert_eq!(event.time, micros("2019-05-18T20:35:52.569Z"));
    assert_eq!(event.computer_name, "HFDC01.shire.com");
    // beat.hostname and host.name are the WEC server "WECserver", not the endpoint.
    assert_eq!(event.agent, Agent::default());
    assert!(event.host_ips.is_empty());
    assert_eq!(
        event.process,
        Process {
            image: text("C:\\Windows\\System32\\svchost.exe"),
            user: text("NT AUTHORITY\\NETWORK SERVICE"),
            pid: Some(292),
            guid: text("{905CC552-2045-5CC5-0000-00105B2A0100}"),
        }
    );
    assert_eq!(
        event.detail,
        Detail::Connection(Connection {
            source: endpoint("172.18.39.5", 57638),
            destination: endpoint("172.18.39.102", 5985),
            transport: Transport::Tcp,
            initiated: true,
            // Winlogbeat 6 drops the empty DestinationPortName.
            port_name: None,
        })
    );
}

#[test]
fn winlogbeat6_fully_expanded_ipv6_loopback_is_loopback() {
    let document = line(
        "corpus/winlogbeat6/otrf_wlb6_empire_mimikatz_opth_sysmon_net.ndjson",
        27,
    );
    let Detail::Connection(connection) = expect_event(&document).detail else {
        panic!("event 3");
    };
    assert_eq!(connection.source, endpoint("::1", 53));
    assert_eq!(connection.destination, endpoint("::1", 56830));
    assert_eq!(connection.transport, Transport::Udp);
    assert!(!connection.initiated);
}

#[test]
fn nxlog_a1_has_no_sysmon_pid_and_its_own_process_id_is_not_used() {
    let document = line(
        "corpus/nxlog/otrf_nxlog_covenant_persistwmi_sysmon_net.ndjson",
        1,
    );
    let event = expect_event(&document);

    assert_eq!(event.shape, Shape::Nxlog);
    // UtcTime; EventTime "2019-12-04 23:47:38" is local time.
    assert_eq!(event.time, micros("2019-12-05T04:47:37.446Z"));
    assert_eq!(event.computer_name, "HFDC01.shire.com");
    // `host` (ip-172-18-39-102.ec2.internal) is the Logstash peer.
    assert_eq!(event.agent, Agent::default());
    // NXLog's `ProcessID` 2644 is the Sysmon service, not the connection's process.
    assert_eq!(event.process.pid, None);
    assert_eq!(event.process.image, text("C:\\Windows\\System32\\dns.exe"));
    assert_eq!(event.process.user, text("NT AUTHORITY\\SYSTEM"));
    assert_eq!(
        event.process.guid,
        text("{d14e8c55-47c8-5de8-0000-00108af90100}")
    );
    assert_eq!(
        event.detail,
        Detail::Connection(Connection {
            source: endpoint("172.18.39.5", 53),
            destination: endpoint("172.18.39.100", 55506),
            transport: Transport::Udp,
            initiated: false,
            port_name: None,
        })
    );
}

#[test]
fn nxlog_a1_keeps_a_port_name_sysmon_gave() {
    let document = line(
        "corpus/nxlog/otrf_nxlog_covenant_persistwmi_sysmon_net.ndjson",
        3,
    );
    let event = expect_event(&document);
    assert_eq!(event.process.user, text("shire\\lrodriguez"));
    let Detail::Connection(connection) = event.detail else {
        panic!("event 3");
    };
    assert_eq!(connection.port_name, text("http"));
    assert_eq!(connection.destination, endpoint("104.100.30.229", 80));
}

#[test]
fn nxlog_a1_event_22_with_cnames_and_a_mapped_address() {
    let document = line(
        "corpus/nxlog/otrf_nxlog_covenant_persistwmi_sysmon_net.ndjson",
        11,
    );
    let event = expect_event(&document);
    assert_eq!(event.time, micros("2019-12-05T04:47:37.032Z"));
    assert_eq!(event.computer_name, "ACCT001.shire.com");
    // No `User` on event 22 in this Sysmon schema, and no `ProcessId` in A1.
    assert_eq!(event.process.user, None);
    assert_eq!(event.process.pid, None);
    assert_eq!(
        event.detail,
        Detail::Dns(DnsQuery {
            name: Cow::Borrowed("cdn.onenote.net"),
            status: Some(0),
            answers: vec![
                answer_name("cdn.onenote.net.edgekey.net"),
                answer_name("e1553.dspg.akamaiedge.net"),
                answer_ip("23.67.84.128"),
            ],
        })
    );
}

#[test]
fn nxlog_a2_dash_placeholders_mean_no_value() {
    let document = line(
        "corpus/nxlog/otrf_nxlog_msf_record_mic_sysmon_net.ndjson",
        1,
    );
    let event = expect_event(&document);
    assert_eq!(event.shape, Shape::Nxlog);
    // Not @timestamp (02:50:58.583Z) nor EventTime (local).
    assert_eq!(event.time, micros("2020-06-10T02:50:55.662Z"));
    assert_eq!(event.computer_name, "MORDORDC.mordor.local");
    assert_eq!(event.process.pid, Some(3548));
    let Detail::Connection(connection) = event.detail else {
        panic!("event 3");
    };
    assert_eq!(connection.port_name, None, "DestinationPortName \"-\"");
    assert_eq!(connection.source, endpoint("172.18.38.5", 53));
    assert_eq!(connection.destination, endpoint("192.168.5.2", 49246));
}

#[test]
fn nxlog_a2_event_22_results_status_and_an_empty_srv_value() {
    let path = "corpus/nxlog/otrf_nxlog_purplesharp_ad_playbook_I_sysmon_net.ndjson";
    let document = line(path, 1);
    let event = expect_event(&document);
    assert_eq!(event.computer_name, "WORKSTATION5.theshire.local");
    assert_eq!(event.process.pid, Some(7520));
    assert_eq!(
        event.process.image,
        text("C:\\Users\\pgustavo\\Downloads\\PurpleSharp.exe")
    );
    assert_eq!(
        event.detail,
        Detail::Dns(DnsQuery {
            name: Cow::Borrowed("MORDORDC.theshire.local"),
            status: Some(0),
            answers: vec![answer_ip("172.18.38.5")],
        })
    );

    let failed = line(path, 2);
    let Detail::Dns(query) = expect_event(&failed).detail else {
        panic!("event 22");
    };
    assert_eq!(query.status, Some(9003));
    assert!(query.answers.is_empty(), "QueryResults \"-\"");

    let srv = line(path, 44);
    let Detail::Dns(query) = expect_event(&srv).detail else {
        panic!("event 22");
    };
    assert_eq!(
        query.name,
        "_kerberos._tcp.Default-First-Site-Name._sites.dc._msdcs.THESHIRE.LOCAL."
    );
    // "type:  33 ;" has an empty value and is dropped.
    assert_eq!(query.answers, vec![answer_ip("172.18.38.5")]);
}

#[test]
fn nxlog_b_uses_utc_time_not_time_created() {
    let path =
        "corpus/nxlog/otrf_nxlog_cmd_wevtutil_modify_security_eventlog_path_sysmon_net.ndjson";
    let document = line(path, 1);
    let event = expect_event(&document);
    // TimeCreated and @timestamp say 2022-07-05T02:00:37.896Z, 92 hours off.
    assert_eq!(event.time, micros("2022-07-01T05:42:37.879Z"));
    assert_eq!(event.computer_name, "DESKTOP-CQF82L6");
    assert_eq!(
        event.process,
        Process {
            image: text("C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe"),
            user: text("DESKTOP-CQF82L6\\pedro"),
            pid: Some(5280),
            guid: text("{01e2a015-a66c-62c4-9707-000000000700}"),
        }
    );
    assert_eq!(
        event.detail,
        Detail::Dns(DnsQuery {
            name: Cow::Borrowed("ntp.msn.com"),
            status: Some(0),
            answers: vec![
                answer_name("www-msn-com.a-0003.a-msedge.net"),
                answer_name("a-0003.a-msedge.net"),
                answer_ip("204.79.197.203"),
            ],
        })
    );
}

#[test]
fn flat_export_without_source_name_is_identified_by_its_channel() {
    let document = line("fixtures/flat_nosourcename.ndjson", 1);
    let event = expect_event(&document);
    assert_eq!(event.shape, Shape::Nxlog);
    // UtcTime, four hours after the local TimeCreated.
    assert_eq!(event.time, micros("2020-10-18T06:17:05.914Z"));
    assert_eq!(event.computer_name, "WORKSTATION5.theshire.local");
    assert_eq!(event.process.pid, Some(5612));
    let Detail::Connection(connection) = event.detail else {
        panic!("event 3");
    };
    assert_eq!(connection.source, endpoint("172.18.39.6", 57392));
    assert_eq!(connection.destination, endpoint("172.18.39.5", 135));
}

#[test]
fn winlogbeat8_raw_event_3_with_agent_name_and_host_addresses() {
    let document = line("fixtures/winlogbeat8_raw.ndjson", 1);
    let event = expect_event(&document);

    assert_eq!(event.shape, Shape::Winlogbeat8);
    // UtcTime; @timestamp is the record time, one second later with 7 fraction digits.
    assert_eq!(event.time, micros("2022-03-14T09:41:48.337Z"));
    assert_eq!(event.computer_name, "DESKTOP-RFOOE09.corp.example.com");
    // 8.x has agent.name and no agent.hostname.
    assert_eq!(
        event.agent,
        Agent {
            id: text("3cdc1e10-ded0-4f5d-8434-ede1d1120b17"),
            hostname: text("DESKTOP-RFOOE09"),
        }
    );
    assert_eq!(
        event.host_ips,
        vec![
            ip("fe80::b07a:91b3:66e1:f7c2"),
            ip("192.168.56.20"),
            ip("fe80::5d2e:1a0b:88c4:3f19"),
            ip("10.0.2.15"),
        ]
    );
    assert_eq!(
        event.process,
        Process {
            image: text("C:\\Program Files\\Mozilla Firefox\\firefox.exe"),
            user: text("DESKTOP-RFOOE09\\alice"),
            pid: Some(6716),
            guid: text("{0C4F2E6A-0A3B-622F-F800-000000000E00}"),
        }
    );
    assert_eq!(
        event.detail,
        Detail::Connection(Connection {
            source: endpoint("192.168.56.20", 50123),
            destination: endpoint("34.117.65.55", 443),
            transport: Transport::Tcp,
            initiated: true,
            port_name: None,
        })
    );
}

#[test]
fn winlogbeat8_raw_expanded_ipv6_and_the_sysmon_9_01_twin() {
    let loopback_document = line("fixtures/winlogbeat8_raw.ndjson", 2);
    let Detail::Connection(loopback) = expect_event(&loopback_document).detail else {
        panic!("event 3");
    };
    assert_eq!(loopback.source, endpoint("::1", 5985));
    assert_eq!(
        loopback.destination,
        endpoint("fe80::a1cd:665f:9ac2:55c1", 49702)
    );
    assert!(!loopback.initiated);

    let twin_document = line("fixtures/winlogbeat8_raw.ndjson", 3);
    let twin = expect_event(&twin_document);
    assert_eq!(twin.time, micros("2019-03-18T16:57:53.810Z"));
    let Detail::Connection(twin) = twin.detail else {
        panic!("event 3");
    };
    // Bogus, but a valid address: kept as Sysmon wrote it.
    assert_eq!(twin.source, endpoint("a00:20f::18a2:6e00:e0:ffff", 5355));
    assert_eq!(
        twin.destination,
        endpoint("e000:fc::18a2:6e00:e0:ffff", 5355)
    );
    assert_eq!(twin.port_name, text("llmnr"));
}

#[test]
fn winlogbeat8_raw_event_22() {
    let document = line("fixtures/winlogbeat8_raw.ndjson", 4);
    let event = expect_event(&document);
    assert_eq!(event.time, micros("2022-03-14T09:41:52.021Z"));
    assert_eq!(
        event.detail,
        Detail::Dns(DnsQuery {
            name: Cow::Borrowed("push.services.mozilla.com"),
            status: Some(0),
            answers: vec![
                answer_name("autopush.prod.mozaws.net"),
                answer_ip("34.117.65.55"),
                answer_ip("34.117.65.56"),
            ],
        })
    );

    let failed_document = line("fixtures/winlogbeat8_raw.ndjson", 5);
    let failed = expect_event(&failed_document);
    assert_eq!(failed.process.user, None);
    let Detail::Dns(query) = failed.detail else {
        panic!("event 22");
    };
    assert_eq!((query.status, query.answers.len()), (Some(9003), 0));
}

#[test]
fn winlogbeat7_ecs_egress_with_agent_id_hostname_and_host_addresses() {
    let document = line("fixtures/winlogbeat7_ecs.ndjson", 1);
    let event = expect_event(&document);

    assert_eq!(event.shape, Shape::Winlogbeat7Ecs);
    // @timestamp carries UtcTime, trailing zero trimmed.
    assert_eq!(event.time, micros("2019-03-18T16:57:48.070Z"));
    assert_eq!(event.computer_name, "vagrant-2016");
    assert_eq!(
        event.agent,
        Agent {
            id: text("e5c3a3c7-1e4b-4b8e-9a0b-6c8f3a9d2f11"),
            hostname: text("vagrant-2016"),
        }
    );
    // "not-an-address" is skipped; loopback is kept for zeek to judge.
    assert_eq!(
        event.host_ips,
        vec![
            ip("fe80::2c1d:5f7a:9b3e:4a21"),
            ip("10.0.2.15"),
            ip("::1"),
            ip("127.0.0.1")
        ]
    );
    assert_eq!(
        event.process,
        Process {
            image: text("C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe"),
            user: Some(Cow::Owned("VAGRANT-2016\\vagrant".to_owned())),
            pid: Some(2736),
            guid: text("{42f11c3b-ce01-5c8f-0000-0010c73e2a00}"),
        }
    );
    assert_eq!(
        event.detail,
        Detail::Connection(Connection {
            source: endpoint("10.0.2.15", 49782),
            destination: endpoint("172.217.7.174", 443),
            transport: Transport::Tcp,
            initiated: true,
            port_name: text("https"),
        })
    );
}

#[test]
fn winlogbeat7_ecs_ingress_keeps_sysmon_order_and_is_not_initiated() {
    let document = line("fixtures/winlogbeat7_ecs.ndjson", 2);
    let event = expect_event(&document);
    assert_eq!(event.time, micros("2019-03-18T16:57:52.250Z"));
    // 7.2 style: agent.hostname without agent.name.
    assert_eq!(event.agent.hostname, text("vagrant-2016"));
    assert_eq!(
        event.process.user.as_deref(),
        Some("NT AUTHORITY\\NETWORK SERVICE")
    );
    assert_eq!(
        event.detail,
        Detail::Connection(Connection {
            source: endpoint("10.0.2.15", 62141),
            destination: endpoint("10.0.2.3", 53),
            transport: Transport::Udp,
            initiated: false,
            port_name: text("domain"),
        })
    );
}

#[test]
fn winlogbeat7_ecs_bogus_ipv6_twin_is_kept() {
    let document = line("fixtures/winlogbeat7_ecs.ndjson", 3);
    let Detail::Connection(connection) = expect_event(&document).detail else {
        panic!("event 3");
    };
    assert_eq!(
        connection.source,
        endpoint("a00:20f::18a2:6e00:e0:ffff", 5355)
    );
    assert_eq!(connection.port_name, None, "network.protocol absent");
}

#[test]
fn winlogbeat7_ecs_event_22_answers_and_status_names() {
    let document = line("fixtures/winlogbeat7_ecs.ndjson", 4);
    let event = expect_event(&document);
    assert_eq!(event.time, micros("2019-03-18T16:57:47.847Z"));
    assert_eq!(event.process.pid, Some(2736));
    assert_eq!(
        event.detail,
        Detail::Dns(DnsQuery {
            name: Cow::Borrowed("www.msn.com"),
            status: Some(0),
            answers: vec![
                answer_name("www-msn-com.a-0003.a-msedge.net"),
                answer_name("a-0003.a-msedge.net"),
                answer_ip("204.79.197.203"),
            ],
        })
    );

    let failed_document = line("fixtures/winlogbeat7_ecs.ndjson", 5);
    let failed = expect_event(&failed_document);
    // The processor does not map User on event 22; it stays in winlog.event_data.
    assert_eq!(
        failed.process.user.as_deref(),
        Some("VAGRANT-2016\\vagrant")
    );
    let Detail::Dns(query) = failed.detail else {
        panic!("event 22");
    };
    assert_eq!(query.name, "wpad");
    assert_eq!(query.status, Some(9003), "DNS_ERROR_RCODE_NAME_ERROR");
    assert!(query.answers.is_empty());
}

#[test]
fn elastic_ingest_event_3_has_only_ecs_fields() {
    let document = line("fixtures/elastic_ingest.ndjson", 1);
    let event = expect_event(&document);

    assert_eq!(event.shape, Shape::ElasticEcs);
    assert_eq!(event.time, micros("2021-07-22T15:14:24.070Z"));
    assert_eq!(event.computer_name, "vagrant");
    assert_eq!(
        event.agent,
        Agent {
            id: text("9b2f7c8e-1a4d-4e6b-8f3a-2c5d7e9f1b3a"),
            hostname: text("docker-fleet-agent"),
        }
    );
    assert_eq!(
        event.host_ips,
        vec![ip("10.0.2.15"), ip("fe80::f4d5:c3a8:81b:fd32")]
    );
    assert_eq!(
        event.process,
        Process {
            image: text("System"),
            user: Some(Cow::Owned("NT AUTHORITY\\SYSTEM".to_owned())),
            pid: Some(4),
            guid: text("{fa4a0de6-7b9b-60f9-0b00-000000000600}"),
        }
    );
    assert_eq!(
        event.detail,
        Detail::Connection(Connection {
            source: endpoint("10.0.2.2", 51123),
            destination: endpoint("10.0.2.15", 5985),
            transport: Transport::Tcp,
            initiated: false,
            port_name: text("wsman"),
        })
    );
}

#[test]
fn elastic_ingest_event_22_with_ipv6_answers_and_failure_names() {
    let document = line("fixtures/elastic_ingest.ndjson", 2);
    let event = expect_event(&document);
    assert_eq!(event.time, micros("2021-07-22T15:14:27.412Z"));
    assert_eq!(event.process.user.as_deref(), Some("VAGRANT\\vagrant"));
    assert_eq!(
        event.detail,
        Detail::Dns(DnsQuery {
            name: Cow::Borrowed("confiant-integrations.global.ssl.fastly.net"),
            status: Some(0),
            answers: vec![answer_ip("151.101.202.49"), answer_ip("2a04:4e42:30::561")],
        })
    );

    let failed_document = line("fixtures/elastic_ingest.ndjson", 3);
    let Detail::Dns(query) = expect_event(&failed_document).detail else {
        panic!("event 22");
    };
    assert_eq!(query.status, Some(9002), "DNS_ERROR_RCODE_SERVER_FAILURE");
}

#[test]
fn winlogbeat7_ecs_reads_what_the_processor_left_in_event_data() {
    // A partly processed event 22: no dns.answers or status, raw fields left behind.
    let document = line("fixtures/winlogbeat7_ecs.ndjson", 4);
    let document = input_data::with_value(&document, &["dns", "answers"], None);
    let document = input_data::with_value(&document, &["sysmon"], None);
    let document = input_data::with_value(
        &document,
        &["winlog", "event_data"],
        Some(serde_json::json!({
            "QueryStatus": "0",
            "QueryResults": "type:  5 a-0003.a-msedge.net;::ffff:204.79.197.203;"
        })),
    );
    let Detail::Dns(query) = expect_event(&document).detail else {
        panic!("event 22");
    };
    assert_eq!(query.status, Some(0));
    assert_eq!(
        query.answers,
        vec![
            answer_name("a-0003.a-msedge.net"),
            answer_ip("204.79.197.203")
        ]
    );
}
