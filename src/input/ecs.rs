//! Extraction from the ECS shapes: Winlogbeat 7's Sysmon processor and Elastic's ingest
//! pipeline, which move Sysmon's fields to `source.*`, `destination.*`, `network.*`,
//! `process.*`, `user.*`, `dns.*` and `sysmon.dns.status`, and `UtcTime` to `@timestamp`.
//!
//! Whatever the processor left in `winlog.event_data` is read where the ECS field is
//! missing: it leaves `User` there when the value has no single backslash to split and on
//! event 22, which it does not map, and a partly processed document may keep more.

use std::borrow::Cow;

use super::document::{Document, EcsEndpoint, EcsUser, Scalar};
use super::identify::Kind;
use super::values::{Field, address, optional_pid, optional_text, port, required_text, transport};
use super::{Reject, answers, beats, time, values};
use crate::event::{Connection, Detail, DnsQuery, Endpoint, Micros, Process, Shape, SysmonEvent};

/// Builds the event from a document whose shape is Winlogbeat 7 ECS or Elastic ECS.
pub(crate) fn event<'a>(
    doc: Document<'a>,
    shape: Shape,
    kind: Kind,
    reference: Micros,
) -> Result<SysmonEvent<'a>, Reject> {
    let winlog = doc.winlog.unwrap_or_default();
    let leftover = winlog.event_data.unwrap_or_default();
    let ecs = doc.ecs;

    let time = time::event_time(doc.timestamp, Field::top("@timestamp"), reference)?;
    let computer_name = required_text(winlog.computer_name, Field::top("winlog.computer_name"))?;
    let detail = match kind {
        Kind::Connection => {
            let network = ecs.network.unwrap_or_default();
            Detail::Connection(Connection {
                source: endpoint(ecs.source, "source")?,
                destination: endpoint(ecs.destination, "destination")?,
                transport: transport(network.transport, Field::top("network.transport"))?,
                initiated: initiated(network.direction)?,
                port_name: optional_text(network.protocol),
            })
        }
        Kind::Dns => {
            let dns = ecs.dns.unwrap_or_default();
            let name = dns
                .question
                .unwrap_or_default()
                .name
                .or(leftover.query_name);
            let status = ecs
                .sysmon
                .and_then(|sysmon| sysmon.dns)
                .and_then(|dns| dns.status);
            let status = match status {
                Some(_) => answers::ecs_status(status, Field::top("sysmon.dns.status"))?,
                None => answers::query_status(
                    leftover.query_status,
                    Field::top("winlog.event_data.QueryStatus"),
                )?,
            };
            let answers = if dns.answers.is_empty() {
                answers::query_results(leftover.query_results)
            } else {
                answers::ecs_answers(dns.answers)
            };
            Detail::Dns(DnsQuery {
                name: required_text(name, Field::top("dns.question.name"))?,
                status,
                answers,
            })
        }
    };
    let process = ecs.process.unwrap_or_default();
    let process = Process {
        image: optional_text(process.executable),
        user: user(ecs.user).or_else(|| optional_text(leftover.user)),
        pid: optional_pid(process.pid, Field::top("process.pid"))?,
        guid: optional_text(process.entity_id),
    };

    Ok(SysmonEvent {
        shape,
        time,
        computer_name,
        agent: beats::agent(doc.agent),
        host_ips: beats::host_ips(doc.host),
        process,
        detail,
    })
}

fn endpoint(fields: Option<EcsEndpoint<'_>>, side: &'static str) -> Result<Endpoint, Reject> {
    let (ip_field, port_field) = match side {
        "source" => (Field::top("source.ip"), Field::top("source.port")),
        _ => (Field::top("destination.ip"), Field::top("destination.port")),
    };
    let Some(fields) = fields else {
        return Err(values::missing(Field::top(side), "is absent"));
    };
    Ok(Endpoint {
        ip: address(fields.ip, ip_field)?,
        port: port(fields.port, port_field)?,
    })
}

/// `network.direction`: the processor writes `egress` for `Initiated` true and `ingress`
/// for false (older ECS said `outbound`/`inbound`). Any other word, from a pipeline that
/// recomputed the direction, is taken as initiated, so that the orientation rule keeps
/// Sysmon's order.
fn initiated(direction: Option<Scalar<'_>>) -> Result<bool, Reject> {
    let field = Field::top("network.direction");
    let direction = required_text(direction, field)?;
    Ok(!(direction.eq_ignore_ascii_case("ingress") || direction.eq_ignore_ascii_case("inbound")))
}

/// `user.domain\user.name` as Sysmon wrote `User`; the name alone when there is no domain.
fn user(fields: Option<EcsUser<'_>>) -> Option<Cow<'_, str>> {
    let fields = fields?;
    let name = optional_text(fields.name)?;
    match optional_text(fields.domain) {
        Some(domain) => Some(Cow::Owned(format!("{domain}\\{name}"))),
        None => Some(name),
    }
}
