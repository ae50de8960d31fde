//! The structural walk that confirms a skip the byte scan proposes for a Sysmon document:
//! it reads the provider, channel and event id at exactly the paths the parser reads them
//! (the top level, `winlog.*`, `event.*`) and decides as `identify` would, without building
//! anything or validating more than it needs.
//!
//! Anything it does not expect (a repeated key, an escape in a value it compares, an id
//! that is not a plain whole number, bytes that are not JSON) makes it answer "parse".

use memchr::memchr;

use super::Skip;
use super::identify::{CHANNEL, PROVIDER};
use super::scan::Verdict;
use super::values::parse_decimal;

/// A value at one of the paths the walk reads, as the parser would see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Value<'d> {
    /// The key is not there, or holds `null` (which the parser treats as absent).
    #[default]
    Absent,
    /// A string's raw bytes between the quotes.
    Str(&'d [u8]),
    /// A number's raw bytes.
    Number(&'d [u8]),
    /// A boolean, an object or an array: present, but not a string or a number.
    Other,
}

/// The fields `identify` reads, named by their paths.
#[derive(Default)]
struct Fields<'d> {
    winlog_provider_name: Value<'d>,
    winlog_channel: Value<'d>,
    winlog_event_id: Value<'d>,
    event_provider: Value<'d>,
    event_code: Value<'d>,
    source_name: Value<'d>,
    log_name: Value<'d>,
    event_id: Value<'d>,
    flat_source_name: Value<'d>,
    flat_channel: Value<'d>,
    flat_event_id: Value<'d>,
    provider: Value<'d>,
    event_source_name: Value<'d>,
}

/// Decides as the parser would whether the document is skipped, or says `Parse`.
pub(crate) fn decide(document: &[u8]) -> Verdict {
    match read_fields(document) {
        Some(fields) => verdict(&fields).unwrap_or(Verdict::Parse),
        None => Verdict::Parse,
    }
}

fn verdict(fields: &Fields<'_>) -> Option<Verdict> {
    let provider = first(&[
        fields.winlog_provider_name,
        fields.event_provider,
        fields.source_name,
        fields.flat_source_name,
        fields.provider,
        fields.event_source_name,
    ]);
    let sysmon = match provider {
        Some(provider) => equals(provider, PROVIDER)?,
        None => match first(&[fields.winlog_channel, fields.log_name, fields.flat_channel]) {
            Some(channel) => equals(channel, CHANNEL)?,
            None => false,
        },
    };
    if !sysmon {
        return Some(Verdict::Skip(Skip::NotSysmon));
    }
    let id = first(&[
        fields.winlog_event_id,
        fields.event_code,
        fields.event_id,
        fields.flat_event_id,
    ])?;
    match id {
        Value::Str(digits) | Value::Number(digits) => match parse_decimal(digits)? {
            3 | 22 => None,
            _ => Some(Verdict::Skip(Skip::OtherEventId)),
        },
        _ => None,
    }
}

fn first<'d>(values: &[Value<'d>]) -> Option<Value<'d>> {
    values.iter().copied().find(|value| *value != Value::Absent)
}

/// Whether a value is the string `expected`; `None` (undecided) when the string holds an
/// escape, since the raw bytes are then not the parser's string.
fn equals(value: Value<'_>, expected: &str) -> Option<bool> {
    match value {
        Value::Str(raw) if raw.contains(&b'\\') => None,
        Value::Str(raw) => Some(raw == expected.as_bytes()),
        _ => Some(false),
    }
}

/// Which object the walk is in, for the keys it reads there.
#[derive(Clone, Copy)]
enum Scope {
    Top,
    Winlog,
    Event,
}

fn read_fields(document: &[u8]) -> Option<Fields<'_>> {
    let mut cursor = Cursor {
        bytes: document,
        at: 0,
    };
    let mut fields = Fields::default();
    let (mut seen_winlog, mut seen_event) = (false, false);
    cursor.object(|cursor, key| match key {
        b"winlog" | b"event" => {
            let seen = if key == b"winlog" {
                &mut seen_winlog
            } else {
                &mut seen_event
            };
            if std::mem::replace(seen, true) {
                return None;
            }
            if cursor.peek() == Some(b'{') {
                let scope = if key == b"winlog" {
                    Scope::Winlog
                } else {
                    Scope::Event
                };
                return cursor.object(|cursor, key| read(cursor, &mut fields, scope, key));
            }
            cursor.skip_value()
        }
        _ => read(cursor, &mut fields, Scope::Top, key),
    })?;
    cursor.space();
    (cursor.at == document.len()).then_some(fields)
}

fn read<'d>(
    cursor: &mut Cursor<'d>,
    fields: &mut Fields<'d>,
    scope: Scope,
    key: &[u8],
) -> Option<()> {
    let slot = match (scope, key) {
        (Scope::Top, b"source_name") => &mut fields.source_name,
        (Scope::Top, b"log_name") => &mut fields.log_name,
        (Scope::Top, b"event_id") => &mut fields.event_id,
        (Scope::Top, b"SourceName") => &mut fields.flat_source_name,
        (Scope::Top, b"Channel") => &mut fields.flat_channel,
        (Scope::Top, b"EventID") => &mut fields.flat_event_id,
        (Scope::Top, b"Provider") => &mut fields.provider,
        (Scope::Top, b"EventSourceName") => &mut fields.event_source_name,
        (Scope::Winlog, b"provider_name") => &mut fields.winlog_provider_name,
        (Scope::Winlog, b"channel") => &mut fields.winlog_channel,
        (Scope::Winlog, b"event_id") => &mut fields.winlog_event_id,
        (Scope::Event, b"provider") => &mut fields.event_provider,
        (Scope::Event, b"code") => &mut fields.event_code,
        _ => return cursor.skip_value(),
    };
    if *slot != Value::Absent {
        // A repeated key: the parser rejects the document, so only it may decide.
        return None;
    }
    *slot = cursor.value()?;
    Some(())
}

/// A position in the document, moving forward only.
struct Cursor<'d> {
    bytes: &'d [u8],
    at: usize,
}

impl<'d> Cursor<'d> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.space();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Walks an object, calling `entry` with each key while the cursor is at its value
    /// (after the colon and any space); `entry` must consume the value.
    fn object(
        &mut self,
        mut entry: impl FnMut(&mut Cursor<'d>, &'d [u8]) -> Option<()>,
    ) -> Option<()> {
        self.expect(b'{')?;
        self.space();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            self.space();
            let key = self.string()?;
            self.expect(b':')?;
            self.space();
            entry(self, key)?;
            self.space();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// At an opening quote: the raw bytes up to the closing quote, which is consumed. Only
    /// quotes are searched for, since Windows documents are full of backslashes (paths,
    /// `\r\n` in messages); a quote after an odd run of backslashes is escaped.
    fn string(&mut self) -> Option<&'d [u8]> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.at + 1;
        let mut at = start;
        loop {
            let found = at + memchr(b'"', self.bytes.get(at..)?)?;
            let backslashes = self.bytes[start..found]
                .iter()
                .rev()
                .take_while(|b| **b == b'\\')
                .count();
            if backslashes % 2 == 0 {
                self.at = found + 1;
                return Some(&self.bytes[start..found]);
            }
            at = found + 1;
        }
    }

    /// A value at a path the walk reads.
    fn value(&mut self) -> Option<Value<'d>> {
        match self.peek()? {
            b'"' => self.string().map(Value::Str),
            b'n' => self.literal(b"null").map(|()| Value::Absent),
            b't' => self.literal(b"true").map(|()| Value::Other),
            b'f' => self.literal(b"false").map(|()| Value::Other),
            b'{' | b'[' => self.skip_value().map(|()| Value::Other),
            b'-' | b'0'..=b'9' => {
                let start = self.at;
                while matches!(
                    self.peek(),
                    Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                ) {
                    self.at += 1;
                }
                Some(Value::Number(&self.bytes[start..self.at]))
            }
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// Skips any value: a string, a container (counting brackets outside strings), or a
    /// bare number or literal.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => self.skip_container(),
            _ => {
                let start = self.at;
                while self
                    .peek()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
                {
                    self.at += 1;
                }
                (self.at > start).then_some(())
            }
        }
    }

    fn skip_container(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                b'{' | b'[' => {
                    depth += 1;
                    self.at += 1;
                }
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    self.at += 1;
                    if depth == 0 {
                        return Some(());
                    }
                }
                _ => self.at += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(text: &str) -> Verdict {
        decide(text.as_bytes())
    }

    #[test]
    fn reads_the_id_where_each_shape_keeps_it() {
        let nxlog = r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":1,"Message":"x"}"#;
        assert_eq!(verdict(nxlog), Verdict::Skip(Skip::OtherEventId));
        let wlb6 = r#"{"event_data":{"EventID":3},"source_name":"Microsoft-Windows-Sysmon","event_id":13}"#;
        assert_eq!(verdict(wlb6), Verdict::Skip(Skip::OtherEventId));
        let wlb8 = r#"{"winlog":{"event_id":"10","provider_name":"Microsoft-Windows-Sysmon"},"event":{"code":"10"}}"#;
        assert_eq!(verdict(wlb8), Verdict::Skip(Skip::OtherEventId));
        let flat = r#"{ "Channel" : "Microsoft-Windows-Sysmon/Operational" , "EventID" : 11 }"#;
        assert_eq!(verdict(flat), Verdict::Skip(Skip::OtherEventId));
    }

    #[test]
    fn an_id_key_anywhere_else_is_not_the_id() {
        // The parser finds no id here and rejects the document as an unsupported shape.
        let stray = r#"{"SourceName":"Microsoft-Windows-Sysmon","code":1,"Task":"22"}"#;
        assert_eq!(verdict(stray), Verdict::Parse);
        let nested = r#"{"SourceName":"Microsoft-Windows-Sysmon","x":{"EventID":1}}"#;
        assert_eq!(verdict(nested), Verdict::Parse);
        let in_array = r#"{"winlog":[{"event_id":1,"provider_name":"Microsoft-Windows-Sysmon"}]}"#;
        assert_eq!(verdict(in_array), Verdict::Skip(Skip::NotSysmon));
    }

    #[test]
    fn network_events_and_undecidable_ids_go_to_the_parser() {
        for text in [
            r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":3}"#,
            r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":"22"}"#,
            r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":1.0}"#,
            r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":true}"#,
            r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":"\u0031"}"#,
            r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":1,"EventID":1}"#,
            r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":1"#,
            r#"{"SourceName":"Microsoft-Windows-Sysmon","EventID":1} trailing"#,
            r#"["SourceName","Microsoft-Windows-Sysmon"]"#,
        ] {
            assert_eq!(verdict(text), Verdict::Parse, "{text}");
        }
    }

    #[test]
    fn the_first_provider_field_decides_as_in_the_parser() {
        let security = r#"{"winlog":{"provider_name":"Microsoft-Windows-Security-Auditing","event_id":4688},"Channel":"Microsoft-Windows-Sysmon/Operational"}"#;
        assert_eq!(verdict(security), Verdict::Skip(Skip::NotSysmon));
        let null_provider =
            r#"{"SourceName":null,"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":5}"#;
        assert_eq!(verdict(null_provider), Verdict::Skip(Skip::OtherEventId));
    }

    #[test]
    fn values_it_skips_may_hold_anything() {
        let text = r#"{"a":[1,{"b":"}]\"{"},-2.5e3,true,null,"x\\"],"SourceName":"Microsoft-Windows-Sysmon","n":-7,"EventID":7}"#;
        assert_eq!(verdict(text), Verdict::Skip(Skip::OtherEventId));
    }
}
