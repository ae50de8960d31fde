//! Row-level specifications of the formatter: hand-checked events in, exact Zeek lines out.
//!
//! Events are built directly (not decoded) so that each test states every input value.

mod conn;
mod dns;

use std::borrow::Cow;
use std::net::IpAddr;

use crate::event::{Agent, Connection, Detail, DnsAnswer, DnsQuery, Endpoint, Process, Shape};
use crate::event::{SysmonEvent, Transport};
use crate::zeek::{FormatSettings, Formatter, UID_LEN};

/// 2019-12-05 04:27:40.123 UTC, as Sysmon's UtcTime gives it.
const TIME: i64 = 1_575_520_060_123_000;
const AGENT_ID: &str = "0a8e3c5e-56a4-4a6b-9bd7-3f1d2e4c5b6a";
/// uuid5(espy namespace, "ws01.corp.example"), computed with Python's uuid module.
const WS01_DERIVED: &str = "131dc239-db05-5555-b8ba-720af4efdf12";

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn at(ip_text: &str, port: u16) -> Endpoint {
    Endpoint {
        ip: ip(ip_text),
        port,
    }
}

fn text(value: &str) -> Option<Cow<'static, str>> {
    Some(Cow::Owned(value.to_string()))
}

/// A workstation's own Winlogbeat: the agent is the endpoint.
fn event(detail: Detail<'static>) -> SysmonEvent<'static> {
    SysmonEvent {
        shape: Shape::Winlogbeat8,
        time: TIME,
        computer_name: Cow::Borrowed("WS01.corp.example"),
        agent: Agent {
            id: text(AGENT_ID),
            hostname: text("ws01"),
        },
        host_ips: Vec::new(),
        process: Process {
            image: text("C:\\Windows\\System32\\svchost.exe"),
            user: text("NT AUTHORITY\\NETWORK SERVICE"),
            pid: Some(1234),
            guid: text("{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"),
        },
        detail,
    }
}

fn connection(
    source: Endpoint,
    destination: Endpoint,
    transport: Transport,
    initiated: bool,
) -> Detail<'static> {
    Detail::Connection(Connection {
        source,
        destination,
        transport,
        initiated,
        port_name: None,
    })
}

fn query(name: &str, status: Option<u32>, answers: Vec<DnsAnswer<'static>>) -> Detail<'static> {
    Detail::Dns(DnsQuery {
        name: Cow::Owned(name.to_string()),
        status,
        answers,
    })
}

fn address(text: &str) -> DnsAnswer<'static> {
    DnsAnswer::Address(ip(text))
}

fn name(text: &str) -> DnsAnswer<'static> {
    DnsAnswer::Text(Cow::Owned(text.to_string()))
}

/// The rows of one event under `settings`, as text.
fn rows_with(settings: FormatSettings, event: &SysmonEvent<'_>) -> Vec<String> {
    let formatter = Formatter::new(settings).unwrap();
    let mut out = Vec::new();
    let count = formatter.append_rows(event, &mut out);
    let text = String::from_utf8(out).expect("rows are UTF-8");
    assert!(text.ends_with('\n'), "{text:?}");
    let rows: Vec<String> = text.lines().map(str::to_string).collect();
    assert_eq!(rows.len(), count);
    rows
}

fn rows(event: &SysmonEvent<'_>) -> Vec<String> {
    rows_with(FormatSettings::default(), event)
}

/// The uid column of a row, checked for Zeek's form.
fn uid_of(row: &str) -> &str {
    let uid = row.split('\t').nth(1).unwrap();
    assert_eq!(uid.len(), UID_LEN, "{uid}");
    assert!(uid.starts_with('C') && uid[1..].bytes().all(|b| b.is_ascii_alphanumeric()));
    uid
}

/// A row with its uid replaced by `UID`, for comparing everything else exactly.
fn without_uid(row: &str) -> String {
    let uid = uid_of(row);
    row.replacen(uid, "UID", 1)
}

/// Expected columns written one per line for readability, joined by tabs.
fn tsv(columns: &[&str]) -> String {
    columns.join("\t")
}
