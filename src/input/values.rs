//! Field values as Sysmon and the shippers write them: strings that may be `-` or empty
//! for "none", ports and pids as strings or numbers, `true`/`false` strings, and addresses
//! in Sysmon's forms. Each reader returns the value or a [`Reject`] naming field and value.
//!
//! Nothing here knows which shape a field came from; callers pass the field's path.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use super::document::Scalar;
use super::{Reject, RejectReason, describe};
use crate::event::Transport;

/// A field's path in the document, for reject details: `winlog.event_data.` + `SourceIp`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub prefix: &'static str,
    pub name: &'static str,
}

impl Field {
    pub(crate) const fn new(prefix: &'static str, name: &'static str) -> Field {
        Field { prefix, name }
    }

    pub(crate) const fn top(name: &'static str) -> Field {
        Field { prefix: "", name }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}{}", self.prefix, self.name)
    }
}

/// Whether a string means "no value": newer Sysmon writes `-` for empty fields, older Sysmon
/// writes an empty string (which Winlogbeat and NXLog then usually drop).
pub(crate) fn is_placeholder(text: &str) -> bool {
    text.is_empty() || text == "-"
}

/// A string value, or `None` when absent, a placeholder, or not a string.
pub(crate) fn optional_text(value: Option<Scalar<'_>>) -> Option<Cow<'_, str>> {
    match value {
        Some(Scalar::Str(text)) if !is_placeholder(&text) => Some(text),
        _ => None,
    }
}

/// A string value a record cannot do without.
pub(crate) fn required_text(
    value: Option<Scalar<'_>>,
    field: Field,
) -> Result<Cow<'_, str>, Reject> {
    match value {
        Some(Scalar::Str(text)) if !is_placeholder(&text) => Ok(text),
        Some(Scalar::Str(text)) => Err(missing(field, &format!("holds {}", describe(&text)))),
        None => Err(missing(field, "is absent")),
        Some(other) => Err(missing(
            field,
            &format!("is {}, not a string", kind(&other)),
        )),
    }
}

/// A port: a decimal string (raw shapes) or a number (ECS), 0 to 65535.
pub(crate) fn port(value: Option<Scalar<'_>>, field: Field) -> Result<u16, Reject> {
    match number(value, field, "a port")? {
        Some(port) => {
            u16::try_from(port).map_err(|_| bad_number(field, &port.to_string(), "a port"))
        }
        None => Err(missing(field, "is absent")),
    }
}

/// A pid, when the document gives one.
pub(crate) fn optional_pid(value: Option<Scalar<'_>>, field: Field) -> Result<Option<u32>, Reject> {
    match number(value, field, "a pid")? {
        Some(pid) => u32::try_from(pid)
            .map(Some)
            .map_err(|_| bad_number(field, &pid.to_string(), "a pid")),
        None => Ok(None),
    }
}

/// A whole number that may be written as a decimal string; `None` when absent or a
/// placeholder. `expected` names what it should be, for the reject detail.
pub(crate) fn number(
    value: Option<Scalar<'_>>,
    field: Field,
    expected: &str,
) -> Result<Option<u64>, Reject> {
    match value {
        None => Ok(None),
        Some(Scalar::Str(text)) if is_placeholder(&text) => Ok(None),
        Some(Scalar::Str(text)) => match parse_decimal(text.as_bytes()) {
            Some(number) => Ok(Some(number)),
            None => Err(bad_number(field, &describe(&text), expected)),
        },
        Some(Scalar::UInt(number)) => Ok(Some(number)),
        Some(other) => Err(bad_number(field, &describe_scalar(&other), expected)),
    }
}

/// Sysmon's `Initiated`: the strings `true` or `false` (a JSON bool is taken too).
pub(crate) fn flag(value: Option<Scalar<'_>>, field: Field) -> Result<bool, Reject> {
    match value {
        Some(Scalar::Str(text)) if text.eq_ignore_ascii_case("true") => Ok(true),
        Some(Scalar::Str(text)) if text.eq_ignore_ascii_case("false") => Ok(false),
        Some(Scalar::Bool(flag)) => Ok(flag),
        Some(Scalar::Str(text)) if is_placeholder(&text) => Err(missing(field, "is empty")),
        None => Err(missing(field, "is absent")),
        Some(other) => Err(bad_number(field, &describe_scalar(&other), "true or false")),
    }
}

/// Sysmon's `Protocol` or ECS `network.transport`: Sysmon only logs TCP and UDP.
pub(crate) fn transport(value: Option<Scalar<'_>>, field: Field) -> Result<Transport, Reject> {
    match value {
        Some(Scalar::Str(text)) if text.eq_ignore_ascii_case("tcp") => Ok(Transport::Tcp),
        Some(Scalar::Str(text)) if text.eq_ignore_ascii_case("udp") => Ok(Transport::Udp),
        Some(Scalar::Str(text)) if is_placeholder(&text) => Err(missing(field, "is empty")),
        None => Err(missing(field, "is absent")),
        Some(other) => Err(bad_number(field, &describe_scalar(&other), "tcp or udp")),
    }
}

/// An address a record cannot do without.
pub(crate) fn address(value: Option<Scalar<'_>>, field: Field) -> Result<IpAddr, Reject> {
    match value {
        Some(Scalar::Str(text)) if is_placeholder(&text) => Err(missing(field, "is empty")),
        Some(Scalar::Str(text)) => parse_ip(&text).ok_or_else(|| {
            Reject::new(
                RejectReason::BadAddress,
                format!("`{field}` {} is not an IP address", describe(&text)),
            )
        }),
        None => Err(missing(field, "is absent")),
        Some(other) => Err(Reject::new(
            RejectReason::BadAddress,
            format!("`{field}` is {}, not an address string", kind(&other)),
        )),
    }
}

/// Parses an address as Sysmon and the shippers write it, normalised as Zeek writes it:
/// fully expanded IPv6 (`0:0:0:0:0:0:0:1`) parses like any other form; an IPv4-mapped IPv6
/// address (`::ffff:1.2.3.4`, Sysmon's usual DNS answer) becomes plain IPv4; a `%zone`
/// suffix on IPv6 is dropped, because Zeek's addresses have no zone and the address without
/// it still names the same host. Sysmon 9.01's bogus IPv6 twins are valid addresses and
/// are kept as they are.
pub(crate) fn parse_ip(text: &str) -> Option<IpAddr> {
    let ip = match text.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => {
            let (address, zone) = text.split_once('%')?;
            if zone.is_empty() {
                return None;
            }
            IpAddr::V6(address.parse::<Ipv6Addr>().ok()?)
        }
    };
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    })
}

/// A non-negative decimal of ASCII digits only (no sign, no spaces, at most 19 digits, so
/// it always fits).
pub(crate) fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut value = 0u64;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(byte - b'0');
    }
    Some(value)
}

pub(crate) fn missing(field: Field, what: &str) -> Reject {
    Reject::new(RejectReason::MissingField, format!("`{field}` {what}"))
}

/// A value that does not parse as the number or the fixed word Sysmon writes there.
pub(crate) fn bad_number(field: Field, value: &str, expected: &str) -> Reject {
    Reject::new(
        RejectReason::BadNumber,
        format!("`{field}` {value} is not {expected}"),
    )
}

fn kind(value: &Scalar<'_>) -> &'static str {
    match value {
        Scalar::Str(_) => "a string",
        Scalar::UInt(_) | Scalar::Int(_) | Scalar::Float(_) => "a number",
        Scalar::Bool(_) => "a boolean",
        Scalar::Null => "null",
        Scalar::Other => "an object or array",
    }
}

/// A value for a reject detail, quoted and truncated when it is a string.
pub(crate) fn describe_scalar(value: &Scalar<'_>) -> String {
    match value {
        Scalar::Str(text) => describe(text),
        Scalar::UInt(number) => number.to_string(),
        Scalar::Int(number) => number.to_string(),
        Scalar::Float(number) => number.to_string(),
        Scalar::Bool(flag) => flag.to_string(),
        Scalar::Null => "null".to_owned(),
        Scalar::Other => "an object or array".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const F: Field = Field::top("SourcePort");

    fn s(text: &str) -> Option<Scalar<'_>> {
        Some(Scalar::Str(Cow::Borrowed(text)))
    }

    #[test]
    fn sysmon_writes_ipv6_fully_expanded_and_it_parses() {
        assert_eq!(
            parse_ip("0:0:0:0:0:0:0:1"),
            Some(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
        assert_eq!(
            parse_ip("fe80:0:0:0:a1cd:665f:9ac2:55c1"),
            "fe80::a1cd:665f:9ac2:55c1".parse().ok()
        );
        assert_eq!(parse_ip("ff02:0:0:0:0:0:1:3"), "ff02::1:3".parse().ok());
    }

    #[test]
    fn ipv4_mapped_addresses_become_plain_ipv4() {
        assert_eq!(
            parse_ip("::ffff:23.223.14.67"),
            Some(IpAddr::V4(Ipv4Addr::new(23, 223, 14, 67)))
        );
        assert_eq!(
            parse_ip("0:0:0:0:0:ffff:ac12:2605"),
            Some(IpAddr::V4(Ipv4Addr::new(172, 18, 38, 5)))
        );
        // IPv4-compatible (deprecated) addresses are not mapped ones: `::1` stays loopback.
        assert_eq!(parse_ip("::1"), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    }

    #[test]
    fn bogus_sysmon_9_01_ipv6_twins_are_kept() {
        assert_eq!(
            parse_ip("a00:20f:0:0:18a2:6e00:e0:ffff"),
            "a00:20f::18a2:6e00:e0:ffff".parse().ok()
        );
    }

    #[test]
    fn an_ipv6_zone_is_dropped_and_anything_else_is_not_an_address() {
        assert_eq!(parse_ip("fe80::1%12"), "fe80::1".parse().ok());
        assert_eq!(parse_ip("fe80::1%"), None);
        assert_eq!(parse_ip("10.0.0.1%3"), None);
        assert_eq!(parse_ip(" 10.0.0.1"), None);
        assert_eq!(parse_ip("10.0.0.256"), None);
        assert_eq!(parse_ip("-"), None);
    }

    #[test]
    fn ports_are_decimal_strings_or_numbers_within_range() {
        assert_eq!(port(s("55680"), F), Ok(55680));
        assert_eq!(port(Some(Scalar::UInt(53)), F), Ok(53));
        assert_eq!(
            port(s("65536"), F).map_err(|r| r.reason),
            Err(RejectReason::BadNumber)
        );
        assert_eq!(
            port(s("+53"), F).map_err(|r| r.reason),
            Err(RejectReason::BadNumber)
        );
        assert_eq!(
            port(s("53 "), F).map_err(|r| r.reason),
            Err(RejectReason::BadNumber)
        );
        assert_eq!(
            port(Some(Scalar::Int(-1)), F).map_err(|r| r.reason),
            Err(RejectReason::BadNumber)
        );
        assert_eq!(
            port(s("-"), F).map_err(|r| r.reason),
            Err(RejectReason::MissingField)
        );
        assert_eq!(
            port(None, F).map_err(|r| r.reason),
            Err(RejectReason::MissingField)
        );
    }

    #[test]
    fn a_reject_detail_names_the_field_and_value() {
        let reject = port(s("http"), Field::new("event_data.", "SourcePort")).expect_err("bad");
        assert_eq!(
            reject.detail,
            "`event_data.SourcePort` \"http\" is not a port"
        );
    }

    #[test]
    fn pids_are_optional_but_must_parse_when_present() {
        assert_eq!(optional_pid(None, F), Ok(None));
        assert_eq!(optional_pid(s("-"), F), Ok(None));
        assert_eq!(optional_pid(s("3068"), F), Ok(Some(3068)));
        assert_eq!(optional_pid(Some(Scalar::UInt(4)), F), Ok(Some(4)));
        assert!(optional_pid(s("4294967296"), F).is_err());
        assert!(optional_pid(s("x"), F).is_err());
    }

    #[test]
    fn initiated_is_a_true_or_false_string() {
        assert_eq!(flag(s("true"), F), Ok(true));
        assert_eq!(flag(s("false"), F), Ok(false));
        assert_eq!(flag(Some(Scalar::Bool(false)), F), Ok(false));
        assert_eq!(
            flag(s("yes"), F).map_err(|r| r.reason),
            Err(RejectReason::BadNumber)
        );
        assert_eq!(
            flag(None, F).map_err(|r| r.reason),
            Err(RejectReason::MissingField)
        );
    }

    #[test]
    fn transport_is_tcp_or_udp() {
        assert_eq!(transport(s("tcp"), F), Ok(Transport::Tcp));
        assert_eq!(transport(s("udp"), F), Ok(Transport::Udp));
        assert!(transport(s("icmp"), F).is_err());
    }

    #[test]
    fn placeholders_mean_no_value() {
        assert_eq!(optional_text(s("-")), None);
        assert_eq!(optional_text(s("")), None);
        assert_eq!(optional_text(Some(Scalar::UInt(1))), None);
        assert_eq!(optional_text(s("https")), Some(Cow::Borrowed("https")));
        let reject = required_text(s("-"), Field::top("QueryName")).expect_err("placeholder");
        assert_eq!(reject.reason, RejectReason::MissingField);
    }

    #[test]
    fn addresses_that_do_not_parse_are_bad_addresses() {
        let reject = address(s("10.0.0"), Field::top("SourceIp")).expect_err("bad");
        assert_eq!(reject.reason, RejectReason::BadAddress);
        assert_eq!(reject.detail, "`SourceIp` \"10.0.0\" is not an IP address");
        let reject = address(None, Field::top("SourceIp")).expect_err("absent");
        assert_eq!(reject.reason, RejectReason::MissingField);
    }
}
