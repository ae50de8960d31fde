//! The byte scan that skips most documents before any JSON parsing. A Sysmon network event
//! must hold the provider or channel as a whole JSON string; a document without one is
//! skipped here, and a Sysmon document whose id keys say 3 or 22 goes straight to the
//! parser. For the other Sysmon documents, `walk` confirms the skip structurally.
//!
//! The scan decides only what the parser would decide for the same valid JSON document and
//! hands everything else to it. It does not validate JSON, so a broken document that is
//! plainly another event is skipped, which PRODUCT.md allows.

use std::sync::LazyLock;

use memchr::memmem::Finder;

use super::values::parse_decimal;
use super::{Skip, walk};

/// What the scan concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Skip(Skip),
    /// Could be a Sysmon network event: parse it.
    Parse,
}

/// The opening quote and the provider, which also begins the channel
/// `Microsoft-Windows-Sysmon/Operational`.
const PROVIDER: &[u8] = b"\"Microsoft-Windows-Sysmon";

static PROVIDER_FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(PROVIDER));
static SYSMON_FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(&PROVIDER[1..]));
static ESCAPE_FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\\u00"));

/// Every key the parser reads an event id from (`winlog.event_id` and Winlogbeat 6's
/// `event_id`, ECS `event.code`, NXLog's `EventID`), looked for at any depth.
static ID_KEY_FINDERS: LazyLock<[Finder<'static>; 3]> = LazyLock::new(|| {
    [
        Finder::new(b"\"EventID\""),
        Finder::new(b"\"event_id\""),
        Finder::new(b"\"code\""),
    ]
});

/// Decides from the bytes whether `document` can be skipped.
///
/// - A `\u00XX` escape of a letter, digit, `-`, `_` or `/` could spell the provider or a key
///   in a way byte patterns do not see, so a skip is only decided without one. (Shippers
///   escape `<`, `>`, `&` and `'` this way, which is harmless.)
/// - No `"Microsoft-Windows-Sysmon"` or `"Microsoft-Windows-Sysmon/Operational"` string:
///   not Sysmon, since the parser compares provider and channel as whole strings.
/// - An id key anywhere saying 3 or 22: parse, the common case for Sysmon documents.
/// - Otherwise the structural walk decides, reading the fields the parser reads.
pub(crate) fn scan(document: &[u8]) -> Verdict {
    let Some(provider_at) = sysmon_string_at(document) else {
        return if has_hiding_escape(document) {
            Verdict::Parse
        } else {
            Verdict::Skip(Skip::NotSysmon)
        };
    };
    if says_network(document, provider_at) || has_hiding_escape(document) {
        return Verdict::Parse;
    }
    walk::decide(document)
}

/// Whether any id key, at any depth, holds 3 or 22. The key the shape probably uses is
/// tried first, guessed from the key in front of the provider: Winlogbeat writes
/// `"source_name":` or `"provider_name":` there and `event_id` for the id, NXLog
/// `"SourceName":` and `EventID`. The guess only orders the search.
fn says_network(document: &[u8], provider_at: usize) -> bool {
    let before = &document[..provider_at];
    let winlogbeat =
        before.ends_with(b"\"source_name\":") || before.ends_with(b"\"provider_name\":");
    let order: [usize; 3] = if winlogbeat { [1, 0, 2] } else { [0, 1, 2] };
    order.iter().any(|&index| {
        let finder = &ID_KEY_FINDERS[index];
        finder.find_iter(document).any(|at| {
            matches!(
                id_after_key(document, at, finder.needle().len()),
                KeyRead::Id(3 | 22)
            )
        })
    })
}

/// Whether the bytes mention Sysmon's provider at all, in any form: a document that does
/// and is not JSON is rejected, one that does not is skipped.
pub(crate) fn mentions_sysmon(document: &[u8]) -> bool {
    SYSMON_FINDER.find(document).is_some()
}

fn has_hiding_escape(document: &[u8]) -> bool {
    ESCAPE_FINDER.find_iter(document).any(|at| {
        let hex = document.get(at + 4..at + 6);
        let value = hex
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        // An incomplete escape is invalid JSON; let the parser say so.
        value.is_none_or(|byte| byte.is_ascii_alphanumeric() || b"-_/".contains(&byte))
    })
}

/// Where the first whole-string provider or channel starts, if any.
fn sysmon_string_at(document: &[u8]) -> Option<usize> {
    PROVIDER_FINDER.find_iter(document).find(|&at| {
        let rest = &document[at + PROVIDER.len()..];
        rest.starts_with(b"\"")
            || rest.starts_with(b"/Operational\"")
            || rest.starts_with(b"\\/Operational\"")
    })
}

enum KeyRead {
    /// The quoted word is a string value, not a key.
    NotAKey,
    Id(u64),
    /// A key whose value is not a plain whole number, or a match whose quote may be
    /// escaped.
    Unsure,
}

/// Reads what follows a quoted id key found at `at`. In valid JSON an unescaped quote
/// followed by the name, a quote and a colon can only be a key (of some object).
fn id_after_key(document: &[u8], at: usize, key_len: usize) -> KeyRead {
    if at > 0 && document[at - 1] == b'\\' {
        return KeyRead::Unsure;
    }
    let mut rest = skip_space(&document[at + key_len..]);
    match rest.split_first() {
        Some((b':', after)) => rest = skip_space(after),
        _ => return KeyRead::NotAKey,
    }
    let quoted = rest.first() == Some(&b'"');
    if quoted {
        rest = &rest[1..];
    }
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let terminated = match rest.get(digits) {
        Some(b'"') => quoted,
        Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') => !quoted,
        _ => false,
    };
    match parse_decimal(&rest[..digits]) {
        Some(id) if terminated => KeyRead::Id(id),
        _ => KeyRead::Unsure,
    }
}

fn skip_space(bytes: &[u8]) -> &[u8] {
    let spaces = bytes
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .count();
    &bytes[spaces..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(text: &str) -> Verdict {
        scan(text.as_bytes())
    }

    #[test]
    fn documents_without_the_sysmon_provider_string_are_not_sysmon() {
        let security = r#"{"SourceName":"Microsoft-Windows-Security-Auditing","EventID":5156}"#;
        assert_eq!(verdict(security), Verdict::Skip(Skip::NotSysmon));
        let linux = r#"{"SyslogMessage":"<Provider Name=\"Linux-Sysmon\"/><EventID>3</EventID>"}"#;
        assert_eq!(verdict(linux), Verdict::Skip(Skip::NotSysmon));
        assert_eq!(verdict("not json at all"), Verdict::Skip(Skip::NotSysmon));
    }

    #[test]
    fn the_provider_inside_a_longer_string_is_not_the_provider() {
        let cleared = r#"{"SourceName":"Microsoft-Windows-Eventlog","EventID":104,
            "Message":"The Microsoft-Windows-Sysmon/Operational log file was cleared."}"#;
        assert_eq!(verdict(cleared), Verdict::Skip(Skip::NotSysmon));
        let xml = r#"{"original":"<Provider Name=\"Microsoft-Windows-Sysmon\"/>"}"#;
        assert_eq!(verdict(xml), Verdict::Skip(Skip::NotSysmon));
    }

    #[test]
    fn the_channel_counts_as_sysmon_also_with_an_escaped_slash() {
        let channel = r#"{"Channel":"Microsoft-Windows-Sysmon\/Operational","EventID":3}"#;
        assert_eq!(verdict(channel), Verdict::Parse);
    }

    #[test]
    fn sysmon_events_other_than_3_and_22_are_skipped_by_their_id() {
        let nxlog = r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":1,"Task":1}"#;
        assert_eq!(verdict(nxlog), Verdict::Skip(Skip::OtherEventId));
        let wlb8 = r#"{"winlog":{"provider_name":"Microsoft-Windows-Sysmon","event_id":"10"},
            "event":{"code":"10"}}"#;
        assert_eq!(verdict(wlb8), Verdict::Skip(Skip::OtherEventId));
        let spaced = r#"{"source_name":"Microsoft-Windows-Sysmon", "event_id" : 11 }"#;
        assert_eq!(verdict(spaced), Verdict::Skip(Skip::OtherEventId));
    }

    #[test]
    fn any_id_key_saying_3_or_22_goes_to_the_parser() {
        for text in [
            r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":3}"#,
            r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":"22"}"#,
            r#"{"winlog":{"provider_name":"Microsoft-Windows-Sysmon","event_id":1},"event":{"code":3}}"#,
        ] {
            assert_eq!(verdict(text), Verdict::Parse, "{text}");
        }
    }

    #[test]
    fn ids_the_scan_cannot_read_go_to_the_parser() {
        for text in [
            r#"{"SourceName":"Microsoft-Windows-Sysmon"}"#,
            r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":1.5}"#,
            r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":" 1"}"#,
            r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":1"#,
            r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":-1}"#,
            r#"{"SourceName":"Microsoft-Windows-Sysmon","x\"EventID":1}"#,
            r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":99999999999999999999}"#,
        ] {
            assert_eq!(verdict(text), Verdict::Parse, "{text}");
        }
    }

    #[test]
    fn an_id_key_at_a_place_the_parser_does_not_read_is_not_the_id() {
        // No event id where the parser looks: it rejects this as an unsupported shape.
        let stray = r#"{"SourceName":"Microsoft-Windows-Sysmon","Task":"22","code":1}"#;
        assert_eq!(verdict(stray), Verdict::Parse);
    }

    #[test]
    fn an_id_word_as_a_value_is_not_a_key() {
        let text = r#"{"SourceName":"Microsoft-Windows-Sysmon","field":"EventID","EventID":7}"#;
        assert_eq!(verdict(text), Verdict::Skip(Skip::OtherEventId));
    }

    #[test]
    fn escapes_that_could_hide_the_provider_or_an_id_go_to_the_parser() {
        let hidden = r#"{"SourceName":"Microsoft-Windows-Sysmo\u006e","EventID":3}"#;
        assert_eq!(verdict(hidden), Verdict::Parse);
        let digit = r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":"\u0033"}"#;
        assert_eq!(verdict(digit), Verdict::Parse);
        let harmless = r#"{"SourceName":"Microsoft-Windows-Security-Auditing","Image":"\u003cunknown process\u003e"}"#;
        assert_eq!(verdict(harmless), Verdict::Skip(Skip::NotSysmon));
    }
}
