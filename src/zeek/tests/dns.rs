//! dns.log rows: one per usable host address, rcodes, qtypes, answers, uids.

use super::*;

/// A row of the WS01 test event. `answer` holds qtype, qtype_name, rcode, rcode_name and
/// answers; `status` the raw QueryStatus column.
fn row(client: &str, resolver: &str, query: &str, answer: [&str; 5], status: &str) -> String {
    let mut columns: Vec<&str> = vec![
        "1575520060.123000",
        "UID",
        client,
        "-",
        resolver,
        "-",
        "udp",
        "-",
        "-",
        query,
    ];
    columns.extend(["1", "C_INTERNET"]);
    columns.extend(&answer[..4]);
    columns.extend(["-"; 5]);
    columns.push(answer[4]);
    columns.extend(["-", "-", AGENT_ID, "WS01", status]);
    columns.extend([
        r"C:\\Windows\\System32\\svchost.exe",
        r"NT AUTHORITY\\NETWORK SERVICE",
        "1234",
    ]);
    tsv(&columns)
}

fn without_uids(rows: &[String]) -> Vec<String> {
    rows.iter().map(|row| without_uid(row)).collect()
}

#[test]
fn one_row_per_host_address_skipping_loopback_and_link_local_all_with_one_uid() {
    let mut event = event(query(
        "example.com",
        Some(0),
        vec![address("93.184.216.34")],
    ));
    event.host_ips = [
        "127.0.0.1",
        "fe80::a1cd:665f:9ac2:55c1",
        "10.0.2.15",
        "2001:db8:0:0:0:0:0:15",
        "::1",
        "169.254.3.4",
        "10.0.2.15",
    ]
    .map(ip)
    .to_vec();
    let rows = rows(&event);
    let answer = ["1", "A", "0", "NOERROR", "93.184.216.34"];
    assert_eq!(
        without_uids(&rows),
        [
            row("10.0.2.15", "0.0.0.0", "example.com", answer, "0"),
            row("2001:db8::15", "::", "example.com", answer, "0"),
        ]
    );
    assert_eq!(uid_of(&rows[0]), uid_of(&rows[1]));
    assert_eq!(rows[0].split('\t').count(), 30);
}

#[test]
fn a_host_listing_thousands_of_addresses_gets_rows_for_its_first_sixteen_only() {
    // One document under the size limit must not become gigabytes of rows: each host
    // address repeats the whole row, query name and process included.
    let mut event = event(query(&"a".repeat(4096), Some(0), vec![]));
    event.host_ips = std::iter::once(ip("127.0.0.1"))
        .chain((1..=5000u32).map(|i| IpAddr::V4(std::net::Ipv4Addr::from_bits(0x0a00_0000 + i))))
        .collect();
    // A repeat of an address already written is not one of the sixteen.
    event.host_ips.insert(3, ip("10.0.0.1"));

    let rows = rows(&event);

    let clients: Vec<&str> = rows
        .iter()
        .map(|row| row.split('\t').nth(2).unwrap())
        .collect();
    let first_sixteen: Vec<String> = (1..=16).map(|i| format!("10.0.0.{i}")).collect();
    assert_eq!(clients, first_sixteen);
}

#[test]
fn without_a_usable_host_address_there_is_one_row_from_0_0_0_0() {
    let mut event = event(query("wpad", Some(9003), vec![]));
    let expected = row(
        "0.0.0.0",
        "0.0.0.0",
        "wpad",
        ["-", "-", "3", "NXDOMAIN", "-"],
        "9003",
    );
    assert_eq!(without_uids(&rows(&event)), std::slice::from_ref(&expected));
    event.host_ips = vec![ip("127.0.0.1"), ip("::1")];
    assert_eq!(without_uids(&rows(&event)), [expected]);
}

#[test]
fn a_collectors_own_addresses_are_never_taken_for_the_endpoints() {
    let mut event = event(query(
        "example.com",
        Some(0),
        vec![address("93.184.216.34")],
    ));
    event.host_ips = vec![ip("10.0.2.15")];
    // A Windows Event Collector's Winlogbeat forwarding WS01's events.
    event.agent.hostname = Some("WEC01".into());

    let rows = rows(&event);

    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].split('\t').nth(2), Some("0.0.0.0"));
}

#[test]
fn windows_status_codes_map_to_dns_rcodes_and_others_leave_rcode_unset() {
    let rcode = |status: Option<u32>| {
        let event = event(query("example.com", status, vec![]));
        let row = rows(&event).remove(0);
        let columns: Vec<String> = row.split('\t').map(str::to_string).collect();
        (
            columns[14].clone(),
            columns[15].clone(),
            columns[26].clone(),
        )
    };
    let owned = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(rcode(Some(0)), owned("0", "NOERROR", "0"));
    assert_eq!(rcode(Some(9001)), owned("1", "FORMERR", "9001"));
    assert_eq!(rcode(Some(9002)), owned("2", "SERVFAIL", "9002"));
    assert_eq!(rcode(Some(9003)), owned("3", "NXDOMAIN", "9003"));
    assert_eq!(rcode(Some(9004)), owned("4", "NOTIMP", "9004"));
    assert_eq!(rcode(Some(9005)), owned("5", "REFUSED", "9005"));
    assert_eq!(rcode(Some(1460)), owned("-", "-", "1460"));
    assert_eq!(rcode(Some(9501)), owned("-", "-", "9501"));
    assert_eq!(rcode(None), owned("-", "-", "-"));
}

#[test]
fn a_cname_chain_before_ipv4_addresses_is_an_a_query() {
    let event = event(query(
        "www.example.com",
        Some(0),
        vec![
            name("www.example.com.cdn.net"),
            address("93.184.216.34"),
            address("::ffff:93.184.216.35"),
        ],
    ));
    assert_eq!(
        without_uids(&rows(&event)),
        [row(
            "0.0.0.0",
            "0.0.0.0",
            "www.example.com",
            [
                "1",
                "A",
                "0",
                "NOERROR",
                "www.example.com.cdn.net,93.184.216.34,93.184.216.35"
            ],
            "0"
        )]
    );
}

#[test]
fn ipv6_answers_are_an_aaaa_query_and_mixed_families_leave_qtype_unset() {
    let aaaa = event(query(
        "example.com",
        Some(0),
        vec![address("2606:2800:220:1:248:1893:25c8:1946")],
    ));
    assert!(
        rows(&aaaa)[0].contains(
            "\t28\tAAAA\t0\tNOERROR\t-\t-\t-\t-\t-\t2606:2800:220:1:248:1893:25c8:1946\t"
        )
    );

    let mixed = event(query(
        "example.com",
        Some(0),
        vec![address("::1"), address("127.0.0.1")],
    ));
    assert!(rows(&mixed)[0].contains(
        "\texample.com\t1\tC_INTERNET\t-\t-\t0\tNOERROR\t-\t-\t-\t-\t-\t::1,127.0.0.1\t"
    ));

    // Only names (a PTR lookup): no address family to go by.
    let ptr = event(query(
        "34.216.184.93.in-addr.arpa",
        Some(0),
        vec![name("example.com")],
    ));
    assert!(rows(&ptr)[0].contains("\t1\tC_INTERNET\t-\t-\t0\tNOERROR\t"));
}

#[test]
fn answer_names_are_escaped_as_vector_elements() {
    let event = event(query(
        "x.example",
        Some(0),
        vec![name("a,b"), name("-"), name("tab\there")],
    ));
    let row = &rows(&event)[0];
    let columns: Vec<&str> = row.split('\t').collect();
    assert_eq!(columns.len(), 30);
    assert_eq!(columns[21], r"a\x2cb,\x2d,tab\x09here");
    assert_eq!(
        crate::zeek::escape::unescape_elements(columns[21].as_bytes()).unwrap(),
        [b"a,b".to_vec(), b"-".to_vec(), b"tab\there".to_vec()]
    );
}

#[test]
fn a_hostile_query_name_stays_in_its_column() {
    let event = event(query("evil\n1575520060.000000\tCforged\t", Some(0), vec![]));
    let rows = rows(&event);
    assert_eq!(rows.len(), 1);
    let columns: Vec<&str> = rows[0].split('\t').collect();
    assert_eq!(columns.len(), 30);
    assert_eq!(columns[9], r"evil\x0a1575520060.000000\x09Cforged\x09");
}

#[test]
fn dns_uids_are_pinned_and_cover_the_query_status_and_answers() {
    let original = event(query(
        "example.com",
        Some(0),
        vec![name("cdn.example.net"), address("93.184.216.34")],
    ));
    let uid = uid_of(&rows(&original)[0]).to_string();
    // Computed once; a change means every uid espy ever wrote changes.
    assert_eq!(uid, "C0vv14Zwl9FGOaMcam");
    let mut with_hosts = original.clone();
    with_hosts.host_ips = vec![ip("10.0.2.15")];
    assert_eq!(uid_of(&rows(&with_hosts)[0]), uid);

    for changed in [
        event(query(
            "example.org",
            Some(0),
            vec![name("cdn.example.net"), address("93.184.216.34")],
        )),
        event(query(
            "example.com",
            Some(9003),
            vec![name("cdn.example.net"), address("93.184.216.34")],
        )),
        event(query(
            "example.com",
            None,
            vec![name("cdn.example.net"), address("93.184.216.34")],
        )),
        event(query(
            "example.com",
            Some(0),
            vec![address("93.184.216.34")],
        )),
        event(query(
            "example.com",
            Some(0),
            vec![address("93.184.216.34"), name("cdn.example.net")],
        )),
    ] {
        assert_ne!(uid_of(&rows(&changed)[0]), uid, "{changed:?}");
    }
}
