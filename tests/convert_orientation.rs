//! Which end of a real Sysmon connection espy writes as Zeek's originator: records with
//! `Initiated` false (a DNS server's answer, Kerberos and LDAP on a domain controller, WinRM
//! inbound), received multicast and broadcast (mDNS, LLMNR, NetBIOS), NTP between service
//! ports, and both ends of one local connection, all taken from the corpus as they are.
//!
//! The corpus has no inbound RDP record; WinRM (5985) stands for the listed high service
//! ports.

mod input_data;

use std::net::IpAddr;

use espy::input::{Decoded, decode};
use espy::zeek::{FormatSettings, Formatter};
use input_data::{REFERENCE, line, lines, ndjson_files};
use serde_json::Value;

const NXLOG_A1: &str = "corpus/nxlog/otrf_nxlog_covenant_persistwmi_sysmon_net.ndjson";
const NXLOG_AD: &str = "corpus/nxlog/otrf_nxlog_purplesharp_ad_playbook_I_sysmon_net.ndjson";
const NXLOG_DCOM: &str =
    "corpus/nxlog/otrf_nxlog_covenant_dcom_iertutil_dll_hijack_sysmon_net.ndjson";
const NXLOG_B: &str =
    "corpus/nxlog/otrf_nxlog_cmd_wevtutil_modify_security_eventlog_path_sysmon_net.ndjson";
const NXLOG_SHARPDUMP: &str =
    "corpus/nxlog/otrf_nxlog_metasploit_sharpdump_lsass_memory_dump_sysmon_net.ndjson";
const WLB6_RDP: &str = "corpus/winlogbeat6/otrf_wlb6_empire_enable_rdp_sysmon_net.ndjson";
const WLB6_RUNAS: &str = "corpus/winlogbeat6/otrf_wlb6_empire_invoke_runas_sysmon_net.ndjson";
const WLB6_IKEEXT: &str =
    "corpus/winlogbeat6/otrf_wlb6_empire_scm_dll_hijack_ikeext_sysmon_net.ndjson";

/// The conn.log columns of one document's row that orientation decides.
#[derive(Debug, PartialEq, Eq)]
struct Ends {
    orig: String,
    resp: String,
    initiated: String,
    uid: String,
}

fn row(document: &[u8]) -> Vec<String> {
    let formatter = Formatter::new(FormatSettings::default()).expect("default settings");
    let Decoded::Event(event) = decode(document, REFERENCE) else {
        panic!("not an event: {}", String::from_utf8_lossy(document));
    };
    let mut out = Vec::new();
    assert_eq!(formatter.append_rows(&event, &mut out), 1, "one conn row");
    let text = String::from_utf8(out).expect("UTF-8");
    text.trim_end().split('\t').map(str::to_owned).collect()
}

/// `address:port` of orig and resp, `initiated` and the uid of line `number` of a file.
fn ends(file: &str, number: usize) -> Ends {
    let columns = row(&line(file, number));
    assert_eq!(columns.len(), 27, "{columns:?}");
    Ends {
        orig: format!("{}:{}", columns[2], columns[3]),
        resp: format!("{}:{}", columns[4], columns[5]),
        initiated: columns[26].clone(),
        uid: columns[1].clone(),
    }
}

/// (orig, resp) of line `number` of a file.
fn pair(file: &str, number: usize) -> (String, String) {
    let ends = ends(file, number);
    (ends.orig, ends.resp)
}

fn expect(orig: &str, resp: &str) -> (String, String) {
    (orig.to_owned(), resp.to_owned())
}

#[test]
fn not_initiated_records_from_a_service_port_to_an_ephemeral_port_put_the_client_first() {
    // The DNS server HFDC01 answering: 172.18.39.5:53 -> 172.18.39.100:55506.
    assert_eq!(
        pair(NXLOG_A1, 1),
        expect("172.18.39.100:55506", "172.18.39.5:53")
    );
    // Kerberos on the same DC over TCP: 172.18.39.5:88 -> 172.18.39.106:53393.
    assert_eq!(
        pair(WLB6_RUNAS, 32),
        expect("172.18.39.106:53393", "172.18.39.5:88")
    );
    // Connectionless LDAP on MORDORDC: 172.18.38.5:389 -> 172.18.39.5:51883.
    assert_eq!(
        pair(NXLOG_AD, 75),
        expect("172.18.39.5:51883", "172.18.38.5:389")
    );
    // The endpoint mapper answering a local client over link-local IPv6, written compressed.
    assert_eq!(
        pair(WLB6_RDP, 19),
        expect(
            "fe80::e086:822b:9735:45c8:57641",
            "fe80::e086:822b:9735:45c8:135"
        )
    );
}

#[test]
fn not_initiated_records_to_a_service_port_keep_the_client_first() {
    // WinRM into WORKSTATION7 from the DC: 172.18.39.5:58214 -> 172.18.39.7:5985.
    let winrm = ends(NXLOG_AD, 46);
    assert_eq!(
        (
            winrm.orig.as_str(),
            winrm.resp.as_str(),
            winrm.initiated.as_str()
        ),
        ("172.18.39.5:58214", "172.18.39.7:5985", "F")
    );
    // WinRM over IPv6 loopback, Sysmon's `0:0:0:0:0:0:0:1` written as `::1`.
    assert_eq!(pair(NXLOG_DCOM, 180), expect("::1:51718", "::1:5985"));
}

#[test]
fn received_multicast_is_never_the_originator_and_sent_multicast_keeps_its_order() {
    // mDNS received on DESKTOP-CQF82L6: 224.0.0.251:5353 -> 10.0.10.102:5353.
    assert_eq!(
        pair(NXLOG_B, 53),
        expect("10.0.10.102:5353", "224.0.0.251:5353")
    );
    assert_eq!(
        pair(NXLOG_B, 54),
        expect("fe80::2188:969f:424f:34b1:5353", "ff02::fb:5353")
    );
    // The same host sending mDNS, Initiated true.
    assert_eq!(
        pair(NXLOG_B, 55),
        expect("10.0.10.102:5353", "224.0.0.251:5353")
    );
    // LLMNR received on HR001 from port 60474: 224.0.0.252:5355 -> 172.18.39.5:60474.
    assert_eq!(
        pair(WLB6_IKEEXT, 103),
        expect("172.18.39.5:60474", "224.0.0.252:5355")
    );
    assert_eq!(
        pair(WLB6_IKEEXT, 105),
        expect("fe80::e086:822b:9735:45c8:60474", "ff02::1:3:5355")
    );
    // SSDP discovery sent to its group, Initiated true.
    assert_eq!(
        pair(NXLOG_B, 142),
        expect("10.0.10.102:59702", "239.255.255.250:1900")
    );
}

#[test]
fn received_broadcasts_are_never_the_originator() {
    // MORDORDC hearing its own NetBIOS name broadcast on its /24, and sending it.
    assert_eq!(
        pair(NXLOG_DCOM, 76),
        expect("172.18.38.5:137", "172.18.38.255:137")
    );
    assert_eq!(
        pair(NXLOG_DCOM, 75),
        expect("172.18.38.5:137", "172.18.38.255:137")
    );
    // HR001 (172.18.39.106) receiving IT001's datagram broadcast on the /16: Sysmon names the
    // sender as the destination.
    assert_eq!(
        pair(WLB6_RUNAS, 116),
        expect("172.18.39.105:138", "172.18.255.255:138")
    );
    // IT001 receiving HFDC01's name service broadcast.
    assert_eq!(
        pair(WLB6_IKEEXT, 106),
        expect("172.18.39.5:137", "172.18.255.255:137")
    );
}

#[test]
fn ntp_from_123_to_123_keeps_sysmons_order_whether_initiated_or_not() {
    let answered = ends(WLB6_IKEEXT, 42);
    assert_eq!(
        (
            answered.orig.as_str(),
            answered.resp.as_str(),
            answered.initiated.as_str()
        ),
        ("172.18.39.5:123", "172.18.39.102:123", "F")
    );
    let asked = ends(NXLOG_SHARPDUMP, 1330);
    assert_eq!(
        (
            asked.orig.as_str(),
            asked.resp.as_str(),
            asked.initiated.as_str()
        ),
        ("192.168.56.30:123", "192.168.56.4:123", "T")
    );
}

#[test]
fn both_ends_of_one_local_connection_stay_two_rows_with_one_orientation() {
    // HFDC01 logged its own connection to the endpoint mapper twice: once as the client
    // (Initiated true, 57641 -> 135), once as the server (Initiated false, 135 -> 57641).
    let client = ends(WLB6_RDP, 18);
    let server = ends(WLB6_RDP, 19);
    assert_eq!((&client.orig, &client.resp), (&server.orig, &server.resp));
    assert_eq!(
        (client.initiated.as_str(), server.initiated.as_str()),
        ("T", "F")
    );
    assert_ne!(client.uid, server.uid);
}

/// The source or destination of an event 3 document as an address, read directly from the
/// JSON: `event_data` in Winlogbeat 6, the top level in NXLog.
fn document_end(document: &Value, ip: &str, port: &str) -> (IpAddr, String) {
    let data = document.get("event_data").unwrap_or(document);
    let text = |name: &str| data[name].as_str().expect(name).to_owned();
    let ip: IpAddr = text(ip).parse().expect("corpus address");
    (ip.to_canonical(), text(port))
}

fn is_group(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}

#[test]
fn every_corpus_connection_keeps_its_two_ends_and_a_group_address_never_originates() {
    let (mut kept, mut swapped) = (0, 0);
    for file in ndjson_files("corpus/nxlog")
        .into_iter()
        .chain(ndjson_files("corpus/winlogbeat6"))
    {
        for (index, document) in lines(&file).iter().enumerate() {
            let value: Value = serde_json::from_slice(document).expect("corpus JSON");
            let provider = value.get("source_name").or(value.get("SourceName"));
            let id = value.get("event_id").or(value.get("EventID"));
            if provider.and_then(Value::as_str) != Some("Microsoft-Windows-Sysmon")
                || id.and_then(Value::as_u64) != Some(3)
            {
                continue;
            }
            let at = format!("{file}:{}", index + 1);
            let (source_ip, source_port) = document_end(&value, "SourceIp", "SourcePort");
            let (destination_ip, destination_port) =
                document_end(&value, "DestinationIp", "DestinationPort");
            let source = (source_ip.to_string(), source_port);
            let destination = (destination_ip.to_string(), destination_port);
            let columns = row(document);
            let orig = (columns[2].clone(), columns[3].clone());
            let resp = (columns[4].clone(), columns[5].clone());
            let initiated = value.get("event_data").unwrap_or(&value)["Initiated"] == "true";

            let is_swapped = if (&orig, &resp) == (&source, &destination) {
                kept += 1;
                false
            } else {
                assert_eq!((&orig, &resp), (&destination, &source), "{at}");
                swapped += 1;
                true
            };
            if is_group(source_ip) && !is_group(destination_ip) {
                assert!(is_swapped, "{at}: a group source originates");
            } else if initiated {
                assert!(!is_swapped, "{at}: an initiated record was swapped");
            }
            let orig_ip: IpAddr = orig.0.parse().expect("orig address");
            assert!(
                !is_group(orig_ip) || is_group(destination_ip) && is_group(source_ip),
                "{at}: {orig_ip} originates"
            );
        }
    }
    assert!(kept > 0 && swapped > 0, "kept {kept}, swapped {swapped}");
}
