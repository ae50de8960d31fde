//! Document in, exact Zeek line out, for hand-checked documents of every shape: real corpus
//! documents for Winlogbeat 6 and NXLog variants A1, A2 and B, hand-written fixtures for
//! Winlogbeat 7 ECS, Winlogbeat 8 raw and Elastic ingest output.
//!
//! Every expected line was derived by reading the document and applying PRODUCT.md's rules;
//! each test's comment says how. The uid column is masked and checked on its own: its exact
//! encoding is pinned in `src/zeek`. Agent UUIDs that espy derives are computed here from the
//! rule with the `uuid` crate, never by asking espy.
//!
//! conn.log columns: ts uid | id.orig_h id.orig_p id.resp_h id.resp_p proto service |
//! duration orig_bytes resp_bytes conn_state | local_orig local_resp | missed_bytes history
//! orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents | agent_uuid
//! agent_hostname process user pid initiated.
//!
//! dns.log columns: ts uid | id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id rtt |
//! query qclass qclass_name qtype qtype_name rcode rcode_name | AA TC RD RA Z | answers TTLs
//! rejected | agent_uuid agent_hostname status process user pid.

mod input_data;

use std::collections::BTreeSet;

use espy::input::{Decoded, decode};
use espy::zeek::{FormatSettings, Formatter};
use input_data::{REFERENCE, line};
use uuid::Uuid;

const WLB6_RDP: &str = "corpus/winlogbeat6/otrf_wlb6_empire_enable_rdp_sysmon_net.ndjson";
const WLB6_IKEEXT: &str =
    "corpus/winlogbeat6/otrf_wlb6_empire_scm_dll_hijack_ikeext_sysmon_net.ndjson";
const NXLOG_A1: &str = "corpus/nxlog/otrf_nxlog_covenant_persistwmi_sysmon_net.ndjson";
const NXLOG_A2_MIC: &str = "corpus/nxlog/otrf_nxlog_msf_record_mic_sysmon_net.ndjson";
const NXLOG_A2_AD: &str = "corpus/nxlog/otrf_nxlog_purplesharp_ad_playbook_I_sysmon_net.ndjson";
const NXLOG_B: &str =
    "corpus/nxlog/otrf_nxlog_cmd_wevtutil_modify_security_eventlog_path_sysmon_net.ndjson";
const WLB7: &str = "fixtures/winlogbeat7_ecs.ndjson";
const WLB8: &str = "fixtures/winlogbeat8_raw.ndjson";
const ELASTIC: &str = "fixtures/elastic_ingest.ndjson";

/// Every document this file checks, for the uid tests.
const DOCUMENTS: [(&str, usize); 24] = [
    (WLB6_RDP, 1),
    (WLB6_RDP, 4),
    (WLB6_IKEEXT, 42),
    (NXLOG_A1, 1),
    (NXLOG_A1, 3),
    (NXLOG_A1, 11),
    (NXLOG_A2_MIC, 1),
    (NXLOG_A2_AD, 1),
    (NXLOG_A2_AD, 2),
    (NXLOG_A2_AD, 44),
    (NXLOG_B, 1),
    (NXLOG_B, 123),
    (WLB7, 1),
    (WLB7, 2),
    (WLB7, 4),
    (WLB7, 5),
    (WLB8, 1),
    (WLB8, 2),
    (WLB8, 3),
    (WLB8, 4),
    (WLB8, 5),
    (ELASTIC, 1),
    (ELASTIC, 2),
    (ELASTIC, 3),
];

/// PRODUCT.md's rule for hosts without a usable agent id: UUID v5 of the lower-cased full
/// computer name under the espy namespace, which is written out here from the spec.
fn derived_uuid(computer_name: &str) -> String {
    let namespace = Uuid::parse_str("6f8794fe-9130-5e2c-9369-2b552cfdb8cf").expect("namespace");
    Uuid::new_v5(&namespace, computer_name.to_lowercase().as_bytes()).to_string()
}

/// The rows espy writes for one document under the default settings.
fn rows(document: &[u8]) -> Vec<String> {
    let formatter = Formatter::new(FormatSettings::default()).expect("default settings");
    let Decoded::Event(event) = decode(document, REFERENCE) else {
        panic!("not an event: {}", String::from_utf8_lossy(document));
    };
    let mut out = Vec::new();
    let count = formatter.append_rows(&event, &mut out);
    let text = String::from_utf8(out).expect("rows are UTF-8");
    let rows: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_eq!(rows.len(), count);
    rows
}

/// The uid column of a row.
fn uid(row: &str) -> &str {
    row.split('\t').nth(1).expect("a uid column")
}

/// The rows of line `number` of a test file, with the uid column replaced by `UID`.
fn masked_rows(file: &str, number: usize) -> Vec<String> {
    rows(&line(file, number))
        .iter()
        .map(|row| row.replacen(uid(row), "UID", 1))
        .collect()
}

fn tsv(columns: &[&str]) -> String {
    columns.join("\t")
}

/// Winlogbeat 6, forwarded by a WEC: `beat.hostname` is `WECserver` and there is no agent id,
/// so the UUID is derived from `computer_name` HR001.shire.com. UtcTime 2019-05-07
/// 11:50:05.128 is 1557229805.128000. Initiated true keeps Sysmon's order; 172.18.39.106 and
/// 10.0.10.106 are both RFC 1918; DestinationPortName `https` is the service.
#[test]
fn winlogbeat6_outbound_https_to_a_private_address() {
    let agent = derived_uuid("HR001.shire.com");
    #[rustfmt::skip]
    let expected = [tsv(&[
        "1557229805.128000", "UID",
        "172.18.39.106", "53095", "10.0.10.106", "443", "tcp", "https",
        "-", "-", "-", "-", "T", "T", "-", "-", "-", "-", "-", "-", "-",
        &agent, "HR001", r"C:\\Windows\\System32\\notepad.exe", r"SHIRE\\nmartha", "7924", "T",
    ])];
    assert_eq!(masked_rows(WLB6_RDP, 4), expected);
}

/// Winlogbeat 6 dropped the empty DestinationPortName, so service is unset. UtcTime
/// 2019-05-18 20:35:52.569, HFDC01.shire.com, WinRM client port 57638 to 5985.
#[test]
fn winlogbeat6_without_a_port_name_leaves_service_unset() {
    let agent = derived_uuid("HFDC01.shire.com");
    #[rustfmt::skip]
    let expected = [tsv(&[
        "1558211752.569000", "UID",
        "172.18.39.5", "57638", "172.18.39.102", "5985", "tcp", "-",
        "-", "-", "-", "-", "T", "T", "-", "-", "-", "-", "-", "-", "-",
        &agent, "HFDC01", r"C:\\Windows\\System32\\svchost.exe", r"NT AUTHORITY\\NETWORK SERVICE",
        "292", "T",
    ])];
    assert_eq!(masked_rows(WLB6_RDP, 1), expected);
}

/// NTP from 123 to 123 with Initiated false: both ports are service ports, so Sysmon's order
/// stays, and `initiated` says F. UtcTime 2019-04-03 17:37:26.637.
#[test]
fn winlogbeat6_ntp_between_service_ports_keeps_sysmons_order() {
    let agent = derived_uuid("HFDC01.shire.com");
    #[rustfmt::skip]
    let expected = [tsv(&[
        "1554313046.637000", "UID",
        "172.18.39.5", "123", "172.18.39.102", "123", "udp", "ntp",
        "-", "-", "-", "-", "T", "T", "-", "-", "-", "-", "-", "-", "-",
        &agent, "HFDC01", r"C:\\Windows\\System32\\svchost.exe", r"NT AUTHORITY\\LOCAL SERVICE",
        "1004", "F",
    ])];
    assert_eq!(masked_rows(WLB6_IKEEXT, 42), expected);
}

/// NXLog A1 on a DNS server: `172.18.39.5:53 -> 172.18.39.100:55506`, Initiated false, from a
/// service port to an ephemeral one, so the client is the originator. A1 has no `ProcessId`
/// (NXLog's own `ProcessID` 2644 is the Sysmon service), so pid is unset; `host` is the
/// Logstash peer, not an agent. DestinationPortName is missing; SourcePortName `domain` is
/// not the service column's source.
#[test]
fn nxlog_a1_dns_server_record_is_swapped_and_has_no_pid() {
    let agent = derived_uuid("HFDC01.shire.com");
    #[rustfmt::skip]
    let expected = [tsv(&[
        "1575521257.446000", "UID",
        "172.18.39.100", "55506", "172.18.39.5", "53", "udp", "-",
        "-", "-", "-", "-", "T", "T", "-", "-", "-", "-", "-", "-", "-",
        &agent, "HFDC01", r"C:\\Windows\\System32\\dns.exe", r"NT AUTHORITY\\SYSTEM", "-", "F",
    ])];
    assert_eq!(masked_rows(NXLOG_A1, 1), expected);
}

/// NXLog A1 to a public address: local_resp F. UtcTime 2019-12-05 04:47:37.023, not
/// EventTime (local time); ACCT001.shire.com.
#[test]
fn nxlog_a1_outbound_http_to_a_public_address() {
    let agent = derived_uuid("ACCT001.shire.com");
    #[rustfmt::skip]
    let expected = [tsv(&[
        "1575521257.023000", "UID",
        "172.18.39.100", "51549", "104.100.30.229", "80", "tcp", "http",
        "-", "-", "-", "-", "T", "F", "-", "-", "-", "-", "-", "-", "-",
        &agent, "ACCT001", r"C:\\Windows\\System32\\svchost.exe", r"shire\\lrodriguez", "-", "T",
    ])];
    assert_eq!(masked_rows(NXLOG_A1, 3), expected);
}

/// NXLog A1 event 22: two CNAMEs then `::ffff:23.67.84.128`, written plain; the only address
/// answer is IPv4, so qtype A. No host addresses in NXLog: one row from 0.0.0.0 to 0.0.0.0.
/// No `User` on event 22 in that Sysmon schema and no pid in A1.
#[test]
fn nxlog_a1_dns_query_with_cnames_and_a_mapped_answer() {
    let agent = derived_uuid("ACCT001.shire.com");
    #[rustfmt::skip]
    let expected = [tsv(&[
        "1575521257.032000", "UID",
        "0.0.0.0", "-", "0.0.0.0", "-", "udp", "-", "-",
        "cdn.onenote.net", "1", "C_INTERNET", "1", "A", "0", "NOERROR",
        "-", "-", "-", "-", "-",
        "cdn.onenote.net.edgekey.net,e1553.dspg.akamaiedge.net,23.67.84.128", "-", "-",
        &agent, "ACCT001", "0", r"C:\\Windows\\System32\\svchost.exe", "-", "-",
    ])];
    assert_eq!(masked_rows(NXLOG_A1, 11), expected);
}

/// NXLog A2 writes `-` for DestinationPortName (unset) and has `ProcessId`. The DC's DNS
/// server answering 192.168.5.2 is swapped as in A1.
#[test]
fn nxlog_a2_dns_server_record_with_dash_placeholders() {
    let agent = derived_uuid("MORDORDC.mordor.local");
    #[rustfmt::skip]
    let expected = [tsv(&[
        "1591757455.662000", "UID",
        "192.168.5.2", "49246", "172.18.38.5", "53", "udp", "-",
        "-", "-", "-", "-", "T", "T", "-", "-", "-", "-", "-", "-", "-",
        &agent, "MORDORDC", r"C:\\Windows\\System32\\dns.exe", r"NT AUTHORITY\\SYSTEM", "3548", "F",
    ])];
    assert_eq!(masked_rows(NXLOG_A2_MIC, 1), expected);
}

/// NXLog A2 event 22 answered `::ffff:172.18.38.5;`, failed with 9003 (NXDOMAIN, rcode 3,
/// QueryResults `-`), and an SRV lookup whose `type:  33 ;` entry has no value and is
/// dropped. PRODUCT.md's qtype rule looks only at address answers, so the SRV lookup's lone
/// IPv4 address gives A.
#[test]
fn nxlog_a2_dns_answers_failures_and_an_empty_srv_value() {
    let workstation5 = derived_uuid("WORKSTATION5.theshire.local");
    let workstation7 = derived_uuid("WORKSTATION7.theshire.local");
    let purplesharp = r"C:\\Users\\pgustavo\\Downloads\\PurpleSharp.exe";
    #[rustfmt::skip]
    let answered = [tsv(&[
        "1603355392.176000", "UID",
        "0.0.0.0", "-", "0.0.0.0", "-", "udp", "-", "-",
        "MORDORDC.theshire.local", "1", "C_INTERNET", "1", "A", "0", "NOERROR",
        "-", "-", "-", "-", "-", "172.18.38.5", "-", "-",
        &workstation5, "WORKSTATION5", "0", purplesharp, "-", "7520",
    ])];
    #[rustfmt::skip]
    let failed = [tsv(&[
        "1603355392.342000", "UID",
        "0.0.0.0", "-", "0.0.0.0", "-", "udp", "-", "-",
        "_ldap._tcp.Default-First-Site-Name._sites.MORDORDC.theshire.local.", "1", "C_INTERNET",
        "-", "-", "3", "NXDOMAIN",
        "-", "-", "-", "-", "-", "-", "-", "-",
        &workstation5, "WORKSTATION5", "9003", purplesharp, "-", "7520",
    ])];
    #[rustfmt::skip]
    let srv = [tsv(&[
        "1603355395.228000", "UID",
        "0.0.0.0", "-", "0.0.0.0", "-", "udp", "-", "-",
        "_kerberos._tcp.Default-First-Site-Name._sites.dc._msdcs.THESHIRE.LOCAL.", "1",
        "C_INTERNET", "1", "A", "0", "NOERROR",
        "-", "-", "-", "-", "-", "172.18.38.5", "-", "-",
        &workstation7, "WORKSTATION7", "0", r"C:\\Windows\\System32\\lsass.exe", "-", "720",
    ])];
    assert_eq!(masked_rows(NXLOG_A2_AD, 1), answered);
    assert_eq!(masked_rows(NXLOG_A2_AD, 2), failed);
    assert_eq!(masked_rows(NXLOG_A2_AD, 44), srv);
}

/// NXLog B: UtcTime 2022-07-01 05:43:13.566, not TimeCreated (2022-07-05, 92 hours off); a
/// short computer name is its own first label.
#[test]
fn nxlog_b_connection_is_dated_by_utc_time() {
    let agent = derived_uuid("DESKTOP-CQF82L6");
    #[rustfmt::skip]
    let expected = [tsv(&[
        "1656654193.566000", "UID",
        "10.0.10.102", "55390", "10.0.10.10", "53", "udp", "-",
        "-", "-", "-", "-", "T", "T", "-", "-", "-", "-", "-", "-", "-",
        &agent, "DESKTOP-CQF82L6", r"C:\\Windows\\System32\\svchost.exe",
        r"NT AUTHORITY\\NETWORK SERVICE", "1948", "T",
    ])];
    assert_eq!(masked_rows(NXLOG_B, 123), expected);
}

/// NXLog B event 22 has `User` and plain (unmapped) IPv4 answers.
#[test]
fn nxlog_b_dns_query_with_its_user() {
    let agent = derived_uuid("DESKTOP-CQF82L6");
    #[rustfmt::skip]
    let expected = [tsv(&[
        "1656654157.879000", "UID",
        "0.0.0.0", "-", "0.0.0.0", "-", "udp", "-", "-",
        "ntp.msn.com", "1", "C_INTERNET", "1", "A", "0", "NOERROR",
        "-", "-", "-", "-", "-",
        "www-msn-com.a-0003.a-msedge.net,a-0003.a-msedge.net,204.79.197.203", "-", "-",
        &agent, "DESKTOP-CQF82L6", "0",
        r"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
        r"DESKTOP-CQF82L6\\pedro", "5280",
    ])];
    assert_eq!(masked_rows(NXLOG_B, 1), expected);
}

/// The agent that shipped these is the endpoint (`agent.hostname` vagrant-2016 equals the
/// computer name), so its `agent.id` is the UUID.
const WLB7_AGENT: &str = "e5c3a3c7-1e4b-4b8e-9a0b-6c8f3a9d2f11";

/// Winlogbeat 7 ECS: `@timestamp` 16:57:48.07Z carries UtcTime with trailing zeros trimmed;
/// `network.protocol` https is the service; egress is Initiated true; the user is
/// `user.domain\user.name`.
#[test]
fn winlogbeat7_ecs_egress_uses_the_endpoints_agent_id() {
    #[rustfmt::skip]
    let expected = [tsv(&[
        "1552928268.070000", "UID",
        "10.0.2.15", "49782", "172.217.7.174", "443", "tcp", "https",
        "-", "-", "-", "-", "T", "F", "-", "-", "-", "-", "-", "-", "-",
        WLB7_AGENT, "vagrant-2016",
        r"C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe",
        r"VAGRANT-2016\\vagrant", "2736", "T",
    ])];
    assert_eq!(masked_rows(WLB7, 1), expected);
}

/// Ingress (Initiated false) from ephemeral port 62141 to 53: the source port is no service
/// port, so Sysmon's order stays.
#[test]
fn winlogbeat7_ecs_ingress_from_an_ephemeral_port_keeps_sysmons_order() {
    #[rustfmt::skip]
    let expected = [tsv(&[
        "1552928272.250000", "UID",
        "10.0.2.15", "62141", "10.0.2.3", "53", "udp", "domain",
        "-", "-", "-", "-", "T", "T", "-", "-", "-", "-", "-", "-", "-",
        WLB7_AGENT, "vagrant-2016", r"C:\\Windows\\System32\\svchost.exe",
        r"NT AUTHORITY\\NETWORK SERVICE", "1012", "F",
    ])];
    assert_eq!(masked_rows(WLB7, 2), expected);
}

/// ECS event 22: `host.ip` of the endpoint's own agent lists fe80::... (link-local),
/// 10.0.2.15, a non-address, ::1 and 127.0.0.1; only 10.0.2.15 is usable, so one row. The
/// `SUCCESS` status name is 0. The second query, `wpad`, has no dot and is written anyway;
/// `DNS_ERROR_RCODE_NAME_ERROR` is 9003, and its `User` sits in `winlog.event_data`.
#[test]
fn winlogbeat7_ecs_dns_queries_from_the_hosts_address() {
    let chrome = r"C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe";
    #[rustfmt::skip]
    let answered = [tsv(&[
        "1552928267.847000", "UID",
        "10.0.2.15", "-", "0.0.0.0", "-", "udp", "-", "-",
        "www.msn.com", "1", "C_INTERNET", "1", "A", "0", "NOERROR",
        "-", "-", "-", "-", "-",
        "www-msn-com.a-0003.a-msedge.net,a-0003.a-msedge.net,204.79.197.203", "-", "-",
        WLB7_AGENT, "vagrant-2016", "0", chrome, "-", "2736",
    ])];
    #[rustfmt::skip]
    let single_label = [tsv(&[
        "1552928268.250000", "UID",
        "10.0.2.15", "-", "0.0.0.0", "-", "udp", "-", "-",
        "wpad", "1", "C_INTERNET", "-", "-", "3", "NXDOMAIN",
        "-", "-", "-", "-", "-", "-", "-", "-",
        WLB7_AGENT, "vagrant-2016", "9003", chrome, r"VAGRANT-2016\\vagrant", "2736",
    ])];
    assert_eq!(masked_rows(WLB7, 4), answered);
    assert_eq!(masked_rows(WLB7, 5), single_label);
}

/// Winlogbeat 8 has `agent.name` DESKTOP-RFOOE09 and no `agent.hostname`; the computer name
/// DESKTOP-RFOOE09.corp.example.com has that first label, so `agent.id` is the UUID.
const WLB8_AGENT: &str = "3cdc1e10-ded0-4f5d-8434-ede1d1120b17";

/// Winlogbeat 8 raw: UtcTime 2022-03-14 09:41:48.337, not `@timestamp` (7 fraction digits,
/// a second later); DestinationPortName `-` is unset.
#[test]
fn winlogbeat8_raw_outbound_connection() {
    #[rustfmt::skip]
    let expected = [tsv(&[
        "1647250908.337000", "UID",
        "192.168.56.20", "50123", "34.117.65.55", "443", "tcp", "-",
        "-", "-", "-", "-", "T", "F", "-", "-", "-", "-", "-", "-", "-",
        WLB8_AGENT, "DESKTOP-RFOOE09", r"C:\\Program Files\\Mozilla Firefox\\firefox.exe",
        r"DESKTOP-RFOOE09\\alice", "6716", "T",
    ])];
    assert_eq!(masked_rows(WLB8, 1), expected);
}

/// Fully expanded IPv6: `0:0:0:0:0:0:0:1:5985 -> fe80:0:0:0:a1cd:665f:9ac2:55c1:49702`,
/// Initiated false from a service port to an ephemeral one, so swapped and compressed.
#[test]
fn winlogbeat8_raw_expanded_ipv6_inbound_winrm_is_swapped_and_compressed() {
    #[rustfmt::skip]
    let expected = [tsv(&[
        "1647250911.902000", "UID",
        "fe80::a1cd:665f:9ac2:55c1", "49702", "::1", "5985", "tcp", "-",
        "-", "-", "-", "-", "T", "T", "-", "-", "-", "-", "-", "-", "-",
        WLB8_AGENT, "DESKTOP-RFOOE09", "System", r"NT AUTHORITY\\SYSTEM", "4", "F",
    ])];
    assert_eq!(masked_rows(WLB8, 2), expected);
}

/// A document for vagrant-2016 shipped by DESKTOP-RFOOE09's agent: the agent is not the
/// endpoint, so the UUID is derived from the computer name. The Sysmon 9.01 bogus IPv6 twin
/// is kept as written (neither address is multicast or local), with its `llmnr` port name.
#[test]
fn winlogbeat8_raw_forwarded_bogus_ipv6_twin_gets_the_computer_names_uuid() {
    let agent = derived_uuid("vagrant-2016");
    #[rustfmt::skip]
    let expected = [tsv(&[
        "1552928273.810000", "UID",
        "a00:20f::18a2:6e00:e0:ffff", "5355", "e000:fc::18a2:6e00:e0:ffff", "5355", "udp",
        "llmnr",
        "-", "-", "-", "-", "F", "F", "-", "-", "-", "-", "-", "-", "-",
        &agent, "vagrant-2016", r"C:\\Windows\\System32\\svchost.exe",
        r"NT AUTHORITY\\NETWORK SERVICE", "1012", "T",
    ])];
    assert_eq!(masked_rows(WLB8, 3), expected);
}

/// Event 22 from the endpoint's own agent with two usable host addresses (192.168.56.20 and
/// 10.0.2.15; the fe80 ones are link-local): two rows, one uid. A CNAME (`type:  5 ...`) and
/// two IPv4-mapped answers. The failed query has no `User` and status 9003.
#[test]
fn winlogbeat8_raw_dns_query_has_a_row_per_host_address() {
    let firefox = r"C:\\Program Files\\Mozilla Firefox\\firefox.exe";
    let answered = |client| {
        #[rustfmt::skip]
        let row = tsv(&[
            "1647250912.021000", "UID",
            client, "-", "0.0.0.0", "-", "udp", "-", "-",
            "push.services.mozilla.com", "1", "C_INTERNET", "1", "A", "0", "NOERROR",
            "-", "-", "-", "-", "-", "autopush.prod.mozaws.net,34.117.65.55,34.117.65.56", "-",
            "-",
            WLB8_AGENT, "DESKTOP-RFOOE09", "0", firefox, r"DESKTOP-RFOOE09\\alice", "6716",
        ]);
        row
    };
    let failed = |client| {
        #[rustfmt::skip]
        let row = tsv(&[
            "1647250912.400000", "UID",
            client, "-", "0.0.0.0", "-", "udp", "-", "-",
            "wpad.corp.example.com", "1", "C_INTERNET", "-", "-", "3", "NXDOMAIN",
            "-", "-", "-", "-", "-", "-", "-", "-",
            WLB8_AGENT, "DESKTOP-RFOOE09", "9003", firefox, "-", "6716",
        ]);
        row
    };
    assert_eq!(
        masked_rows(WLB8, 4),
        [answered("192.168.56.20"), answered("10.0.2.15")]
    );
    assert_eq!(
        masked_rows(WLB8, 5),
        [failed("192.168.56.20"), failed("10.0.2.15")]
    );
}

/// Elastic ingest output is shipped by a fleet agent (`docker-fleet-agent`) for the host
/// `vagrant`: the UUID is derived. Event 3 keeps only ECS fields: ingress from 10.0.2.2:51123
/// to 5985, kept in Sysmon's order since the source port is no service port; `wsman` from
/// `network.protocol`; `System` with pid 4.
#[test]
fn elastic_ingest_inbound_winrm_from_an_ephemeral_port() {
    let agent = derived_uuid("vagrant");
    #[rustfmt::skip]
    let expected = [tsv(&[
        "1626966864.070000", "UID",
        "10.0.2.2", "51123", "10.0.2.15", "5985", "tcp", "wsman",
        "-", "-", "-", "-", "T", "T", "-", "-", "-", "-", "-", "-", "-",
        &agent, "vagrant", "System", r"NT AUTHORITY\\SYSTEM", "4", "F",
    ])];
    assert_eq!(masked_rows(ELASTIC, 1), expected);
}

/// Elastic ingest event 22: the collector's `host.ip` is not the endpoint's, so one row from
/// 0.0.0.0. An A and an AAAA answer: no single family, qtype unset. `SUCCESS` is status 0;
/// `DNS_ERROR_RCODE_SERVER_FAILURE` is 9002, SERVFAIL (rcode 2).
#[test]
fn elastic_ingest_dns_queries_from_a_collector_have_no_client_address() {
    let agent = derived_uuid("vagrant");
    let edge = r"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe";
    #[rustfmt::skip]
    let answered = [tsv(&[
        "1626966867.412000", "UID",
        "0.0.0.0", "-", "0.0.0.0", "-", "udp", "-", "-",
        "confiant-integrations.global.ssl.fastly.net", "1", "C_INTERNET", "-", "-", "0",
        "NOERROR",
        "-", "-", "-", "-", "-", "151.101.202.49,2a04:4e42:30::561", "-", "-",
        &agent, "vagrant", "0", edge, r"VAGRANT\\vagrant", "5212",
    ])];
    #[rustfmt::skip]
    let failed = [tsv(&[
        "1626966868.001000", "UID",
        "0.0.0.0", "-", "0.0.0.0", "-", "udp", "-", "-",
        "nonexistent.example.org", "1", "C_INTERNET", "-", "-", "2", "SERVFAIL",
        "-", "-", "-", "-", "-", "-", "-", "-",
        &agent, "vagrant", "9002", edge, "-", "5212",
    ])];
    assert_eq!(masked_rows(ELASTIC, 2), answered);
    assert_eq!(masked_rows(ELASTIC, 3), failed);
}

#[test]
fn every_uid_is_c_and_seventeen_base62_digits_shared_by_the_rows_of_one_event() {
    for (file, number) in DOCUMENTS {
        let rows = rows(&line(file, number));
        let first = uid(&rows[0]);
        assert_eq!(first.len(), 18, "{file}:{number} {first}");
        assert!(first.starts_with('C'), "{file}:{number} {first}");
        assert!(
            first[1..].bytes().all(|b| b.is_ascii_alphanumeric()),
            "{file}:{number} {first}"
        );
        assert!(rows.iter().all(|row| uid(row) == first), "{file}:{number}");
    }
}

#[test]
fn identical_events_get_identical_uids_and_different_events_different_ones() {
    let mut seen = BTreeSet::new();
    for (file, number) in DOCUMENTS {
        let document = line(file, number);
        // A second formatter, as another replica or a later `convert` would have.
        let again = rows(&document);
        let first = rows(&document);
        assert_eq!(first, again, "{file}:{number}");
        assert!(
            seen.insert(uid(&first[0]).to_owned()),
            "{file}:{number} shares a uid"
        );
    }
}

/// Winlogbeat delivers at least once; a copy re-shipped later differs in shipper fields only.
#[test]
fn a_redelivered_event_with_another_shipper_time_keeps_its_uid() {
    let document = line(WLB6_RDP, 4);
    let mut copy: serde_json::Value = serde_json::from_slice(&document).expect("document");
    copy["@timestamp"] = "2019-05-07T12:30:00.000Z".into();
    copy["record_number"] = "99999999".into();
    let copy = serde_json::to_vec(&copy).expect("serialise");
    assert_eq!(rows(&copy), rows(&document));
}
