//! DNS results: Sysmon's `QueryResults` string, ECS `dns.answers`, and the query status,
//! whether Sysmon's decimal `QueryStatus` or the name Winlogbeat's processor puts in
//! `sysmon.dns.status`.
//!
//! An answer espy cannot interpret is kept as text (or dropped when empty); nothing here
//! rejects an event, except a `QueryStatus` that is not a number.

use std::borrow::Cow;
use std::ops::Range;

use super::Reject;
use super::document::{EcsAnswer, Scalar};
use super::values::{Field, bad_number, is_placeholder, number, parse_ip};
use crate::event::DnsAnswer;

/// Splits `QueryResults`: `;`-separated entries ending in `;`, each an address (IPv4-mapped,
/// plain IPv4, or compressed IPv6) or `type:  N value` (two spaces) for other record types
/// (CNAME 5, PTR 12, SRV 33, ...), whose value may be empty; `-` alone means none.
pub(crate) fn query_results(value: Option<Scalar<'_>>) -> Vec<DnsAnswer<'_>> {
    let Some(Scalar::Str(results)) = value else {
        return Vec::new();
    };
    let mut answers = Vec::new();
    let text: &str = &results;
    let mut start = 0;
    for entry in text.split(';') {
        let range = start..start + entry.len();
        start = range.end + 1;
        if let Some(answer) = entry_answer(text, range) {
            answers.push(match answer {
                Entry::Address(ip) => DnsAnswer::Address(ip),
                Entry::Text(range) => DnsAnswer::Text(slice(&results, range)),
            });
        }
    }
    answers
}

/// One `QueryResults` entry, with text as a range of the whole string so that it can borrow
/// from the document when the whole string does.
enum Entry {
    Address(std::net::IpAddr),
    Text(Range<usize>),
}

fn entry_answer(text: &str, range: Range<usize>) -> Option<Entry> {
    let range = trim(text, range);
    let entry = &text[range.clone()];
    if is_placeholder(entry) {
        return None;
    }
    if let Some(typed) = entry.strip_prefix("type:") {
        let offset = range.start + "type:".len();
        let typed_range = trim(text, offset..offset + typed.len());
        let typed = &text[typed_range.clone()];
        let code_len = typed.bytes().take_while(u8::is_ascii_digit).count();
        let after_code = &typed[code_len..];
        if code_len > 0 && (after_code.is_empty() || after_code.starts_with(' ')) {
            let value = trim(text, typed_range.start + code_len..typed_range.end);
            return value_answer(text, value);
        }
        // `type:` without a record type number: keep the entry as Sysmon wrote it.
        return Some(Entry::Text(range));
    }
    value_answer(text, range)
}

fn value_answer(text: &str, range: Range<usize>) -> Option<Entry> {
    let value = &text[range.clone()];
    if value.is_empty() {
        return None;
    }
    Some(match parse_ip(value) {
        Some(ip) => Entry::Address(ip),
        None => Entry::Text(range),
    })
}

fn trim(text: &str, range: Range<usize>) -> Range<usize> {
    let part = &text[range.clone()];
    let start = range.start + (part.len() - part.trim_start().len());
    let end = range.end - (part.len() - part.trim_end().len());
    start..end.max(start)
}

fn slice<'a>(whole: &Cow<'a, str>, range: Range<usize>) -> Cow<'a, str> {
    match whole {
        Cow::Borrowed(text) => Cow::Borrowed(&text[range]),
        Cow::Owned(text) => Cow::Owned(text[range].to_owned()),
    }
}

/// ECS `dns.answers`: each entry's `data` is an address or text, decided from the value.
pub(crate) fn ecs_answers(answers: Vec<EcsAnswer<'_>>) -> Vec<DnsAnswer<'_>> {
    answers
        .into_iter()
        .filter_map(|answer| match answer.data? {
            Scalar::Str(data) => {
                let trimmed = data.trim();
                if trimmed.is_empty() {
                    None
                } else if let Some(ip) = parse_ip(trimmed) {
                    Some(DnsAnswer::Address(ip))
                } else if trimmed.len() == data.len() {
                    Some(DnsAnswer::Text(data))
                } else {
                    Some(DnsAnswer::Text(Cow::Owned(trimmed.to_owned())))
                }
            }
            Scalar::UInt(number) => Some(DnsAnswer::Text(Cow::Owned(number.to_string()))),
            _ => None,
        })
        .collect()
}

/// Sysmon's `QueryStatus`, a decimal Windows status code; absent or `-` is no status.
pub(crate) fn query_status(value: Option<Scalar<'_>>, field: Field) -> Result<Option<u32>, Reject> {
    match number(value, field, "a Windows status code")? {
        Some(code) => u32::try_from(code)
            .map(Some)
            .map_err(|_| bad_number(field, &code.to_string(), "a Windows status code")),
        None => Ok(None),
    }
}

/// `sysmon.dns.status`: Winlogbeat's processor replaces a known code by its name and leaves
/// an unknown one as the decimal string. A name espy does not know gives no status.
pub(crate) fn ecs_status(value: Option<Scalar<'_>>, field: Field) -> Result<Option<u32>, Reject> {
    match value {
        Some(Scalar::Str(name)) if name.bytes().any(|b| !b.is_ascii_digit()) => {
            Ok(status_code(&name))
        }
        other => query_status(other, field),
    }
}

/// The Windows status code for a status name, as Winlogbeat's Sysmon processor names them
/// (the `winerror.h` constants DnsQuery returns, plus `SUCCESS` for 0).
pub(crate) fn status_code(name: &str) -> Option<u32> {
    Some(match name {
        "SUCCESS" => 0,
        "ERROR_ACCESS_DENIED" => 5,
        "ERROR_NOT_ENOUGH_MEMORY" => 8,
        "ERROR_INVALID_DATA" => 13,
        "ERROR_OUTOFMEMORY" => 14,
        "ERROR_INVALID_NAME" => 123,
        "ERROR_INVALID_NETNAME" => 1214,
        "ERROR_CANCELLED" => 1223,
        "ERROR_TIMEOUT" => 1460,
        "ERROR_OBJECT_NOT_FOUND" => 4312,
        "DNS_ERROR_RCODE_FORMAT_ERROR" => 9001,
        "DNS_ERROR_RCODE_SERVER_FAILURE" => 9002,
        "DNS_ERROR_RCODE_NAME_ERROR" => 9003,
        "DNS_ERROR_RCODE_NOT_IMPLEMENTED" => 9004,
        "DNS_ERROR_RCODE_REFUSED" => 9005,
        "DNS_ERROR_RCODE_YXDOMAIN" => 9006,
        "DNS_ERROR_RCODE_YXRRSET" => 9007,
        "DNS_ERROR_RCODE_NXRRSET" => 9008,
        "DNS_ERROR_RCODE_NOTAUTH" => 9009,
        "DNS_ERROR_RCODE_NOTZONE" => 9010,
        "DNS_ERROR_RCODE_BADSIG" => 9016,
        "DNS_ERROR_RCODE_BADKEY" => 9017,
        "DNS_ERROR_RCODE_BADTIME" => 9018,
        "DNS_INFO_NO_RECORDS" => 9501,
        "DNS_ERROR_BAD_PACKET" => 9502,
        "DNS_ERROR_NO_PACKET" => 9503,
        "DNS_ERROR_RCODE" => 9504,
        "DNS_ERROR_UNSECURE_PACKET" => 9505,
        "DNS_REQUEST_PENDING" => 9506,
        "DNS_ERROR_INVALID_TYPE" => 9551,
        "DNS_ERROR_INVALID_IP_ADDRESS" => 9552,
        "DNS_ERROR_INVALID_PROPERTY" => 9553,
        "DNS_ERROR_TRY_AGAIN_LATER" => 9554,
        "DNS_ERROR_NOT_UNIQUE" => 9555,
        "DNS_ERROR_NON_RFC_NAME" => 9556,
        "DNS_STATUS_FQDN" => 9557,
        "DNS_STATUS_DOTTED_NAME" => 9558,
        "DNS_STATUS_SINGLE_PART_NAME" => 9559,
        "DNS_ERROR_INVALID_NAME_CHAR" => 9560,
        "DNS_ERROR_NUMERIC_NAME" => 9561,
        "DNS_ERROR_RECORD_DOES_NOT_EXIST" => 9701,
        "DNS_ERROR_RECORD_FORMAT" => 9702,
        "DNS_ERROR_UNKNOWN_RECORD_TYPE" => 9704,
        "DNS_ERROR_RECORD_TIMED_OUT" => 9705,
        "DNS_ERROR_NAME_NOT_IN_ZONE" => 9706,
        "DNS_ERROR_CNAME_LOOP" => 9707,
        "DNS_ERROR_NODE_IS_CNAME" => 9708,
        "DNS_ERROR_CNAME_COLLISION" => 9709,
        "DNS_ERROR_NAME_DOES_NOT_EXIST" => 9714,
        "DNS_ERROR_NODE_IS_DNAME" => 9720,
        "DNS_ERROR_DNAME_COLLISION" => 9721,
        "DNS_ERROR_ALIAS_LOOP" => 9722,
        "DNS_ERROR_NO_TCPIP" => 9851,
        "DNS_ERROR_NO_DNS_SERVERS" => 9852,
        "WSAECONNRESET" => 10054,
        "WSAENOBUFS" => 10055,
        "WSAETIMEDOUT" => 10060,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn results(text: &str) -> Vec<DnsAnswer<'_>> {
        query_results(Some(Scalar::Str(Cow::Borrowed(text))))
    }

    fn ip(text: &str) -> DnsAnswer<'static> {
        DnsAnswer::Address(text.parse::<IpAddr>().expect("test address"))
    }

    fn name(text: &str) -> DnsAnswer<'_> {
        DnsAnswer::Text(Cow::Borrowed(text))
    }

    #[test]
    fn a_cname_chain_then_mapped_addresses() {
        assert_eq!(
            results("type:  5 f2.taboola.map.fastly.net;::ffff:151.101.66.2;::ffff:151.101.130.2;"),
            vec![
                name("f2.taboola.map.fastly.net"),
                ip("151.101.66.2"),
                ip("151.101.130.2")
            ]
        );
    }

    #[test]
    fn plain_ipv4_and_compressed_ipv6_answers() {
        assert_eq!(
            results("192.5.6.30;2001:503:a83e::2:30;::1;fe80::798a:6744:8c18:1b47;"),
            vec![
                ip("192.5.6.30"),
                ip("2001:503:a83e::2:30"),
                ip("::1"),
                ip("fe80::798a:6744:8c18:1b47")
            ]
        );
    }

    #[test]
    fn srv_and_ptr_entries_keep_their_value_and_drop_an_empty_one() {
        assert_eq!(
            results("type:  33 dc01.pandalab.com;192.168.56.4;"),
            vec![name("dc01.pandalab.com"), ip("192.168.56.4")]
        );
        assert_eq!(results("type:  33 ;172.18.38.5;"), vec![ip("172.18.38.5")]);
        assert_eq!(
            results("type:  12 a23-67-84-128.deploy.static.akamaitechnologies.com;"),
            vec![name("a23-67-84-128.deploy.static.akamaitechnologies.com")]
        );
    }

    #[test]
    fn a_dash_or_nothing_means_no_answers() {
        assert!(results("-").is_empty());
        assert!(results("").is_empty());
        assert!(results(";;").is_empty());
        assert!(query_results(None).is_empty());
        assert!(query_results(Some(Scalar::UInt(3))).is_empty());
    }

    #[test]
    fn entries_espy_cannot_interpret_are_kept_as_text() {
        assert_eq!(
            results("type: x;garbage;type:  5;"),
            vec![name("type: x"), name("garbage")]
        );
        // No terminating `;` is still one entry.
        assert_eq!(results("::ffff:10.0.0.1"), vec![ip("10.0.0.1")]);
    }

    #[test]
    fn text_answers_borrow_unless_the_string_had_escapes() {
        let owned = query_results(Some(Scalar::Str(Cow::Owned("type:  5 a.example;".into()))));
        assert_eq!(owned, vec![DnsAnswer::Text(Cow::Owned("a.example".into()))]);
        assert!(matches!(
            &results("type:  5 a.example;")[0],
            DnsAnswer::Text(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn ecs_answers_are_addresses_when_their_data_parses() {
        let answers = vec![
            EcsAnswer {
                data: Some(Scalar::Str("www.example.net".into())),
            },
            EcsAnswer {
                data: Some(Scalar::Str("93.184.216.34".into())),
            },
            EcsAnswer {
                data: Some(Scalar::Str("".into())),
            },
            EcsAnswer { data: None },
        ];
        assert_eq!(
            ecs_answers(answers),
            vec![name("www.example.net"), ip("93.184.216.34")]
        );
    }

    #[test]
    fn statuses_are_decimal_codes_or_winlogbeat_names() {
        let field = Field::top("QueryStatus");
        let status =
            |text: &'static str| query_status(Some(Scalar::Str(Cow::Borrowed(text))), field);
        assert_eq!(status("0"), Ok(Some(0)));
        assert_eq!(status("9003"), Ok(Some(9003)));
        assert_eq!(status("-"), Ok(None));
        assert!(status("NXDOMAIN").is_err());

        let named = |text: &'static str| ecs_status(Some(Scalar::Str(Cow::Borrowed(text))), field);
        assert_eq!(named("SUCCESS"), Ok(Some(0)));
        assert_eq!(named("DNS_ERROR_RCODE_NAME_ERROR"), Ok(Some(9003)));
        assert_eq!(named("ERROR_TIMEOUT"), Ok(Some(1460)));
        assert_eq!(named("1234"), Ok(Some(1234)));
        assert_eq!(named("SOMETHING_NEW"), Ok(None));
    }
}
