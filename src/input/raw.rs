//! Extraction from the shapes that keep Sysmon's own fields: Winlogbeat raw
//! (`winlog.event_data.*`), Winlogbeat 6 (`event_data.*`) and NXLog (top level). Only the
//! place of the fields and of the computer name differ between them.
//!
//! The time is always `UtcTime`: the `@timestamp`, `EventTime` and `TimeCreated` these
//! shapes also carry are shipper or local times, so a document without `UtcTime` is rejected
//! rather than dated by them.

use super::document::{Document, EventData, Scalar};
use super::identify::Kind;
use super::values::{
    Field, address, flag, optional_pid, optional_text, port, required_text, transport,
};
use super::{Reject, answers, beats, time};
use crate::event::{
    Agent, Connection, Detail, DnsQuery, Endpoint, Micros, Process, Shape, SysmonEvent,
};

/// Builds the event from a document whose shape is Winlogbeat 8, Winlogbeat 6 or NXLog.
pub(crate) fn event<'a>(
    doc: Document<'a>,
    shape: Shape,
    kind: Kind,
    reference: Micros,
) -> Result<SysmonEvent<'a>, Reject> {
    let (data, prefix, computer_name, computer_field, agent, host_ips);
    match shape {
        Shape::Winlogbeat8 => {
            let winlog = doc.winlog.unwrap_or_default();
            data = winlog.event_data.unwrap_or_default();
            prefix = "winlog.event_data.";
            computer_name = winlog.computer_name;
            computer_field = Field::top("winlog.computer_name");
            agent = beats::agent(doc.agent);
            host_ips = beats::host_ips(doc.host);
        }
        Shape::Winlogbeat6 => {
            data = doc.wlb6.event_data.unwrap_or_default();
            prefix = "event_data.";
            computer_name = doc.wlb6.computer_name;
            computer_field = Field::top("computer_name");
            // `beat.*` and `host.name` are the collector (often a WEC server), not the
            // endpoint, and 6.x has no agent id.
            agent = Agent::default();
            host_ips = Vec::new();
        }
        _ => {
            data = doc.flat.data;
            prefix = "";
            computer_name = doc.flat.hostname;
            computer_field = Field::top("Hostname");
            // NXLog's `host` is the relay or Logstash peer, not the endpoint.
            agent = Agent::default();
            host_ips = Vec::new();
        }
    }
    let field = |name| Field::new(prefix, name);

    let EventData {
        utc_time,
        process_guid,
        process_id,
        image,
        user,
        protocol,
        initiated,
        source_ip,
        source_port,
        destination_ip,
        destination_port,
        destination_port_name,
        query_name,
        query_status,
        query_results,
    } = data;

    let time = time::event_time(utc_time, field("UtcTime"), reference)?;
    let computer_name = required_text(computer_name, computer_field)?;
    let detail = match kind {
        Kind::Connection => Detail::Connection(Connection {
            source: endpoint(
                source_ip,
                source_port,
                field("SourceIp"),
                field("SourcePort"),
            )?,
            destination: endpoint(
                destination_ip,
                destination_port,
                field("DestinationIp"),
                field("DestinationPort"),
            )?,
            transport: transport(protocol, field("Protocol"))?,
            initiated: flag(initiated, field("Initiated"))?,
            port_name: optional_text(destination_port_name),
        }),
        Kind::Dns => Detail::Dns(DnsQuery {
            name: required_text(query_name, field("QueryName"))?,
            status: answers::query_status(query_status, field("QueryStatus"))?,
            answers: answers::query_results(query_results),
        }),
    };
    let process = Process {
        image: optional_text(image),
        user: optional_text(user),
        pid: optional_pid(process_id, field("ProcessId"))?,
        guid: optional_text(process_guid),
    };

    Ok(SysmonEvent {
        shape,
        time,
        computer_name,
        agent,
        host_ips,
        process,
        detail,
    })
}

fn endpoint(
    ip: Option<Scalar<'_>>,
    port_value: Option<Scalar<'_>>,
    ip_field: Field,
    port_field: Field,
) -> Result<Endpoint, Reject> {
    Ok(Endpoint {
        ip: address(ip, ip_field)?,
        port: port(port_value, port_field)?,
    })
}
