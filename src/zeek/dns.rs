//! `dns.log` rows from Sysmon event 22: one row per usable address of the host, all with
//! the event's uid, then espy's own `status`, `process`, `user` and `pid`.
//!
//! Sysmon records what the Windows DNS client asked and got, not the packets: the resolver,
//! ports, transaction id, flags and TTLs are unknown and unset.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use crate::event::{DnsAnswer, DnsQuery};

use super::escape;
use super::identity;
use super::row::{Common, tab, unset};
use super::value;

/// `#fields` and `#types` of dns.log.
pub(crate) const COLUMNS: [(&str, &str); 30] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("trans_id", "count"),
    ("rtt", "interval"),
    ("query", "string"),
    ("qclass", "count"),
    ("qclass_name", "string"),
    ("qtype", "count"),
    ("qtype_name", "string"),
    ("rcode", "count"),
    ("rcode_name", "string"),
    ("AA", "bool"),
    ("TC", "bool"),
    ("RD", "bool"),
    ("RA", "bool"),
    ("Z", "count"),
    ("answers", "vector[string]"),
    ("TTLs", "vector[interval]"),
    ("rejected", "bool"),
    ("agent_uuid", "string"),
    ("agent_hostname", "string"),
    ("status", "count"),
    ("process", "string"),
    ("user", "string"),
    ("pid", "count"),
];

/// The most host addresses an event gets rows for: the first ones in document order.
/// Each row repeats the whole event (query, answers, process), so without a limit one
/// document under the size limit listing tens of thousands of addresses would become
/// gigabytes of rows and take the replica down, and every replica after it that reads the
/// partition. Real hosts have a handful of addresses besides loopback and link-local; the
/// rows of a host with more than this many name the query with its first ones only.
const MAX_CLIENT_ADDRESSES: usize = 16;

/// Appends the event's dns.log rows and returns how many.
pub(crate) fn append_rows(common: &Common<'_>, query: &DnsQuery<'_>, out: &mut Vec<u8>) -> usize {
    let mut uid = common.uid_start(22);
    uid.str(&query.name);
    uid.opt_u32(query.status);
    uid.u32(u32::try_from(query.answers.len()).unwrap_or(u32::MAX));
    for answer in &query.answers {
        match answer {
            DnsAnswer::Address(ip) => {
                uid.u8(b'A');
                uid.addr(value::canonical(*ip));
            }
            DnsAnswer::Text(text) => {
                uid.u8(b'T');
                uid.str(text);
            }
        }
    }
    let uid = common.uid_finish(uid);

    out.reserve(512);
    let head_start = out.len();
    value::time(out, common.event.time);
    tab(out);
    out.extend_from_slice(&uid.0);
    tab(out);

    let mut rows = Rows {
        head: head_start..out.len(),
        tail: None,
        count: 0,
    };
    // `host.ip` is the shipping agent's machine's: a collector's addresses are not the
    // endpoint's, and writing them would put every forwarded host's queries on one address.
    let host_ips: &[IpAddr] =
        if identity::agent_is_endpoint(&common.event.computer_name, &common.event.agent) {
            &common.event.host_ips
        } else {
            &[]
        };
    let mut clients: Vec<IpAddr> = Vec::with_capacity(MAX_CLIENT_ADDRESSES);
    for &ip in host_ips {
        let ip = value::canonical(ip);
        // A document listing an address twice must not yield two identical rows.
        if !is_usable_client(ip) || clients.contains(&ip) {
            continue;
        }
        if clients.len() == MAX_CLIENT_ADDRESSES {
            break;
        }
        clients.push(ip);
        rows.write(common, query, out, ip);
    }
    if rows.count == 0 {
        // The query and its agent are worth more than a missing client address.
        rows.write(common, query, out, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
    rows.count
}

/// One event's rows: each is `head` (ts and uid), the client and resolver addresses, then
/// the same tail, which is written once and copied.
struct Rows {
    head: Range<usize>,
    tail: Option<Range<usize>>,
    count: usize,
}

impl Rows {
    fn write(
        &mut self,
        common: &Common<'_>,
        query: &DnsQuery<'_>,
        out: &mut Vec<u8>,
        client: IpAddr,
    ) {
        if self.count > 0 {
            out.extend_from_within(self.head.clone());
        }
        value::addr(out, client);
        // id.orig_p
        out.extend_from_slice(b"\t-\t");
        out.extend_from_slice(match client {
            IpAddr::V4(_) => b"0.0.0.0",
            IpAddr::V6(_) => b"::",
        });
        match &self.tail {
            Some(tail) => out.extend_from_within(tail.clone()),
            None => {
                let start = out.len();
                write_tail(common, query, out);
                self.tail = Some(start..out.len());
            }
        }
        self.count += 1;
    }
}

/// Whether a host address can stand for the client: loopback and link-local addresses
/// say nothing about which network the host was on, and unspecified or multicast ones are
/// not a host's address at all.
fn is_usable_client(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() || v4.is_multicast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_unicast_link_local()
                || v6 == Ipv6Addr::UNSPECIFIED
                || v6.is_multicast())
        }
    }
}

/// Everything after `id.resp_h`, from the tab before `id.resp_p` to the newline.
fn write_tail(common: &Common<'_>, query: &DnsQuery<'_>, out: &mut Vec<u8>) {
    // id.resp_p, proto, trans_id, rtt
    out.extend_from_slice(b"\t-\tudp\t-\t-\t");
    escape::field(out, query.name.as_bytes());
    // The Windows DNS client only asks class IN questions: its query API has no class.
    out.extend_from_slice(b"\t1\tC_INTERNET\t");
    match qtype(&query.answers) {
        Some((number, name)) => {
            value::count(out, number);
            tab(out);
            out.extend_from_slice(name.as_bytes());
        }
        None => out.extend_from_slice(b"-\t-"),
    }
    tab(out);
    match query.status.and_then(rcode) {
        Some((number, name)) => {
            value::count(out, number);
            tab(out);
            out.extend_from_slice(name.as_bytes());
        }
        None => out.extend_from_slice(b"-\t-"),
    }
    // AA, TC, RD, RA, Z
    out.extend_from_slice(b"\t-\t-\t-\t-\t-\t");
    answers(out, &query.answers);
    // TTLs, rejected
    out.extend_from_slice(b"\t-\t-\t");
    common.agent_columns(out);
    tab(out);
    match query.status {
        Some(status) => value::count(out, status),
        None => unset(out),
    }
    tab(out);
    common.process_columns(out);
    out.push(b'\n');
}

/// A (1) or AAAA (28) when there is an address answer and every address answer has that
/// family; text answers (CNAME chains before the addresses) do not count either way.
fn qtype(answers: &[DnsAnswer<'_>]) -> Option<(u16, &'static str)> {
    let (mut v4, mut v6) = (false, false);
    for answer in answers {
        if let DnsAnswer::Address(ip) = answer {
            match value::canonical(*ip) {
                IpAddr::V4(_) => v4 = true,
                IpAddr::V6(_) => v6 = true,
            }
        }
    }
    match (v4, v6) {
        (true, false) => Some((1, "A")),
        (false, true) => Some((28, "AAAA")),
        _ => None,
    }
}

/// The DNS rcode of a Windows `QueryStatus`: 0 is success, and Windows reports the DNS
/// rcodes 1 to 5 as `DNS_ERROR_RCODE_*` = 9000 + rcode (winerror.h).
fn rcode(status: u32) -> Option<(u8, &'static str)> {
    Some(match status {
        0 => (0, "NOERROR"),
        9001 => (1, "FORMERR"),
        9002 => (2, "SERVFAIL"),
        9003 => (3, "NXDOMAIN"),
        9004 => (4, "NOTIMP"),
        9005 => (5, "REFUSED"),
        _ => return None,
    })
}

/// The `answers` vector: addresses as Zeek prints them, names as given, `,`-separated with
/// `,` inside an element escaped; unset when there is none.
fn answers(out: &mut Vec<u8>, answers: &[DnsAnswer<'_>]) {
    if answers.is_empty() {
        unset(out);
        return;
    }
    for (i, answer) in answers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match answer {
            DnsAnswer::Address(ip) => value::addr(out, *ip),
            DnsAnswer::Text(text) => escape::element(out, text.as_bytes()),
        }
    }
}
