//! `conn.log` rows from Sysmon event 3: Zeek's columns in Zeek's order, then espy's own
//! `process`, `user`, `pid` and `initiated`.
//!
//! Sysmon sees a connection start, never its end: duration, bytes, packets, state and
//! history are unset, not zero, so no reader mistakes them for measurements.

use crate::event::{Connection, Endpoint, Transport};

use super::orientation::orient;
use super::row::{Common, opt_string, tab};
use super::settings::Settings;
use super::value;

/// `#fields` and `#types` of conn.log.
pub(crate) const COLUMNS: [(&str, &str); 27] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
    ("agent_uuid", "string"),
    ("agent_hostname", "string"),
    ("process", "string"),
    ("user", "string"),
    ("pid", "count"),
    ("initiated", "bool"),
];

/// Appends the event's one conn.log row.
pub(crate) fn append_row(
    settings: &Settings,
    common: &Common<'_>,
    connection: &Connection<'_>,
    out: &mut Vec<u8>,
) {
    let canonical = |end: Endpoint| Endpoint {
        ip: value::canonical(end.ip),
        port: end.port,
    };
    let ends = orient(
        connection,
        canonical(connection.source),
        canonical(connection.destination),
    );

    let mut uid = common.uid_start(3);
    uid.addr(ends.orig.ip);
    uid.u16(ends.orig.port);
    uid.addr(ends.resp.ip);
    uid.u16(ends.resp.port);
    // IANA protocol numbers, so the encoding does not depend on an enum's order.
    uid.u8(match connection.transport {
        Transport::Tcp => 6,
        Transport::Udp => 17,
    });
    uid.u8(u8::from(connection.initiated));
    let uid = common.uid_finish(uid);

    out.reserve(512);
    value::time(out, common.event.time);
    tab(out);
    out.extend_from_slice(&uid.0);
    tab(out);
    value::addr(out, ends.orig.ip);
    tab(out);
    value::count(out, ends.orig.port);
    tab(out);
    value::addr(out, ends.resp.ip);
    tab(out);
    value::count(out, ends.resp.port);
    tab(out);
    out.extend_from_slice(connection.transport.as_str().as_bytes());
    tab(out);
    opt_string(out, connection.port_name.as_deref());
    // duration, orig_bytes, resp_bytes, conn_state
    out.extend_from_slice(b"\t-\t-\t-\t-\t");
    value::boolean(out, settings.is_local(ends.orig.ip));
    tab(out);
    value::boolean(out, settings.is_local(ends.resp.ip));
    // missed_bytes, history, orig_pkts, orig_ip_bytes, resp_pkts, resp_ip_bytes,
    // tunnel_parents
    out.extend_from_slice(b"\t-\t-\t-\t-\t-\t-\t-\t");
    common.agent_columns(out);
    tab(out);
    common.process_columns(out);
    tab(out);
    value::boolean(out, connection.initiated);
    out.push(b'\n');
}
