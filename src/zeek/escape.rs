//! Zeek ASCII-writer escaping of string values, on bytes, so that no value can forge a
//! column, a line or a placeholder; and the inverse, for readers and tests.
//!
//! It knows nothing of columns or types: callers pick [`field`] for a string column and
//! [`element`] for one element of a set or vector.

/// Zeek's placeholder for an unset field.
pub const UNSET: &[u8] = b"-";
/// Zeek's placeholder for an empty string or an empty container.
pub const EMPTY: &[u8] = b"(empty)";

const HEX: &[u8; 16] = b"0123456789abcdef";

/// What one byte needs, for the scan that decides where a plain run ends.
const PLAIN: u8 = 0;
/// Always written as `\xHH` (ASCII controls) or `\\` (backslash).
const ESCAPE: u8 = 1;
/// The first byte of a character that may be one of the Unicode controls escaped below.
const INSPECT: u8 = 2;
/// The set separator, escaped only inside containers.
const SEPARATOR: u8 = 3;
/// Any other byte from 0x80 up: part of a multi-byte character, or invalid UTF-8.
const HIGH: u8 = 4;

const CLASS: [u8; 256] = {
    let mut class = [PLAIN; 256];
    let mut b = 0;
    while b < 256 {
        class[b] = match b as u8 {
            0x00..=0x1f | 0x7f | b'\\' => ESCAPE,
            b',' => SEPARATOR,
            0xc2 | 0xe2 => INSPECT,
            0x80..=0xff => HIGH,
            _ => PLAIN,
        };
        b += 1;
    }
    class
};

/// Appends `value` as a Zeek string column: `\` as `\\`; tab, newline, CR and every other
/// ASCII control byte, and each byte of invalid UTF-8, as `\xHH` in lower-case hex as Zeek
/// writes it; an empty value as `(empty)`; a value equal to `-` or `(empty)` with its first
/// byte escaped so that it cannot pass for a placeholder.
///
/// Valid UTF-8 passes through, except C1 controls (U+0080 to U+009F), the line and
/// paragraph separators U+2028/U+2029 and the bidirectional embedding, override and isolate
/// controls (U+202A to U+202E, U+2066 to U+2069), whose bytes are escaped too. Zeek passes
/// those through; espy escapes them because some readers split lines on U+0085 and U+2028
/// (Python's `str.splitlines`), and because an analyst reading a log in a terminal must see
/// a host name as it is, not as control characters make it look.
pub fn field(out: &mut Vec<u8>, value: &[u8]) {
    write(out, value, false);
}

/// Appends `value` as one element of a set or vector: as [`field`], and the set separator
/// `,` escaped as `\x2c`, as Zeek does inside containers.
pub fn element(out: &mut Vec<u8>, value: &[u8]) {
    write(out, value, true);
}

fn write(out: &mut Vec<u8>, value: &[u8], in_container: bool) {
    if value.is_empty() {
        out.extend_from_slice(EMPTY);
        return;
    }
    let mut rest = value;
    if value == UNSET || value == EMPTY {
        push_hex(out, value[0]);
        rest = &value[1..];
    }
    // The common case, a value with nothing to escape, is one scan and one copy.
    let mut start = 0;
    let mut i = 0;
    while i < rest.len() {
        let b = rest[i];
        match CLASS[b as usize] {
            PLAIN => i += 1,
            SEPARATOR if !in_container => i += 1,
            HIGH | INSPECT => {
                let len = utf8_len(&rest[i..]);
                if len == 0 {
                    out.extend_from_slice(&rest[start..i]);
                    push_hex(out, b);
                    i += 1;
                    start = i;
                } else if is_escaped_unicode(&rest[i..i + len]) {
                    out.extend_from_slice(&rest[start..i]);
                    for &byte in &rest[i..i + len] {
                        push_hex(out, byte);
                    }
                    i += len;
                    start = i;
                } else {
                    i += len;
                }
            }
            _ => {
                if b == b'\\' {
                    // The run and the backslash in one copy, then its double.
                    out.extend_from_slice(&rest[start..=i]);
                    out.push(b'\\');
                } else {
                    out.extend_from_slice(&rest[start..i]);
                    push_hex(out, b);
                }
                i += 1;
                start = i;
            }
        }
    }
    out.extend_from_slice(&rest[start..]);
}

fn push_hex(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[b'\\', b'x', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]);
}

/// The length of the valid UTF-8 character at the start of `bytes`, or 0 when the first
/// byte does not start one (a stray continuation byte, an overlong or surrogate form, a
/// truncated sequence).
fn utf8_len(bytes: &[u8]) -> usize {
    let len = match bytes[0] {
        0x00..=0x7f => return 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return 0,
    };
    match bytes.get(..len) {
        Some(candidate) if std::str::from_utf8(candidate).is_ok() => len,
        _ => 0,
    }
}

/// Whether a valid UTF-8 character is one of the controls [`field`] escapes.
fn is_escaped_unicode(character: &[u8]) -> bool {
    matches!(
        character,
        [0xc2, 0x80..=0x9f] | [0xe2, 0x80, 0xa8..=0xae] | [0xe2, 0x81, 0xa6..=0xa9]
    )
}

/// Reverses [`field`] or [`element`] on one value as a Zeek reader does: `-` is unset
/// (`None`), `(empty)` is the empty string, `\\` is a backslash and `\xHH` a byte. Any other
/// backslash is kept as it is.
pub fn unescape(value: &[u8]) -> Option<Vec<u8>> {
    if value == UNSET {
        return None;
    }
    if value == EMPTY {
        return Some(Vec::new());
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'\\' {
            if value.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if value.get(i + 1) == Some(&b'x')
                && let Some(byte) = value
                    .get(i + 2..i + 4)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(value[i]);
        i += 1;
    }
    Some(out)
}

/// Splits a vector or set column at its separators and unescapes each element; `-` is
/// unset and `(empty)` the empty container.
pub fn unescape_elements(value: &[u8]) -> Option<Vec<Vec<u8>>> {
    if value == UNSET {
        return None;
    }
    if value == EMPTY {
        return Some(Vec::new());
    }
    Some(
        value
            .split(|b| *b == b',')
            .map(|element| unescape(element).unwrap_or_default())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn escaped(value: &[u8]) -> String {
        let mut out = Vec::new();
        field(&mut out, value);
        String::from_utf8(out).expect("escaped output of valid input is UTF-8")
    }

    fn escaped_element(value: &[u8]) -> String {
        let mut out = Vec::new();
        element(&mut out, value);
        String::from_utf8(out).expect("escaped output of valid input is UTF-8")
    }

    #[test]
    fn plain_values_pass_through_unchanged() {
        assert_eq!(
            escaped(b"C:/Program Files/app.exe"),
            "C:/Program Files/app.exe"
        );
        assert_eq!(escaped(b"a b,c"), "a b,c");
        assert_eq!(
            escaped("Bj\u{f6}rn-\u{5317}\u{4eac}-\u{1f600}".as_bytes()),
            "Bj\u{f6}rn-\u{5317}\u{4eac}-\u{1f600}"
        );
    }

    #[test]
    fn separators_line_breaks_and_controls_become_hex_escapes() {
        assert_eq!(escaped(b"a\tb"), "a\\x09b");
        assert_eq!(escaped(b"a\nb\rc"), "a\\x0ab\\x0dc");
        assert_eq!(escaped(b"\x00\x1b[31m\x7f"), "\\x00\\x1b[31m\\x7f");
    }

    #[test]
    fn backslash_is_doubled_as_zeek_does() {
        assert_eq!(escaped(b"SHIRE\\pgustavo"), "SHIRE\\\\pgustavo");
        assert_eq!(escaped(b"\\x41"), "\\\\x41");
    }

    #[test]
    fn placeholders_have_their_first_byte_escaped_and_empty_is_the_empty_placeholder() {
        assert_eq!(escaped(b"-"), "\\x2d");
        assert_eq!(escaped(b"(empty)"), "\\x28empty)");
        assert_eq!(escaped(b""), "(empty)");
        assert_eq!(escaped(b"--"), "--");
        assert_eq!(escaped(b"(empty)x"), "(empty)x");
    }

    #[test]
    fn invalid_utf8_is_escaped_byte_by_byte_and_valid_neighbours_kept() {
        assert_eq!(escaped(b"a\xffb"), "a\\xffb");
        assert_eq!(escaped(b"\xe2\x82"), "\\xe2\\x82");
        assert_eq!(escaped(b"\xc3\xa9\x80"), "\u{e9}\\x80");
        // Overlong encoding of '/' and a UTF-16 surrogate are not valid UTF-8.
        assert_eq!(escaped(b"\xc0\xaf"), "\\xc0\\xaf");
        assert_eq!(escaped(b"\xed\xa0\x80"), "\\xed\\xa0\\x80");
    }

    #[test]
    fn unicode_line_separators_c1_and_bidi_controls_are_escaped() {
        assert_eq!(escaped("a\u{85}b".as_bytes()), "a\\xc2\\x85b");
        assert_eq!(
            escaped("a\u{2028}b\u{2029}".as_bytes()),
            "a\\xe2\\x80\\xa8b\\xe2\\x80\\xa9"
        );
        assert_eq!(
            escaped("x\u{202e}gpj.exe".as_bytes()),
            "x\\xe2\\x80\\xaegpj.exe"
        );
        assert_eq!(escaped("\u{2067}".as_bytes()), "\\xe2\\x81\\xa7");
        // Neighbours of the escaped ranges pass.
        assert_eq!(
            escaped("\u{a0}\u{2027}\u{2030}\u{2065}".as_bytes()),
            "\u{a0}\u{2027}\u{2030}\u{2065}"
        );
    }

    #[test]
    fn elements_escape_the_set_separator_and_fields_do_not() {
        assert_eq!(escaped_element(b"a,b"), "a\\x2cb");
        assert_eq!(escaped_element(b"-"), "\\x2d");
        assert_eq!(escaped(b"a,b"), "a,b");
    }

    #[test]
    fn unescape_reads_placeholders_and_escapes() {
        assert_eq!(unescape(b"-"), None);
        assert_eq!(unescape(b"(empty)"), Some(Vec::new()));
        assert_eq!(unescape(b"\\x2d"), Some(b"-".to_vec()));
        assert_eq!(unescape(b"a\\\\b\\x09"), Some(b"a\\b\t".to_vec()));
        assert_eq!(
            unescape_elements(b"a\\x2cb,c"),
            Some(vec![b"a,b".to_vec(), b"c".to_vec()])
        );
    }

    proptest! {
        #[test]
        fn escaped_bytes_never_hold_a_raw_separator_or_line_break(value in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut out = Vec::new();
            field(&mut out, &value);
            prop_assert!(!out.iter().any(|b| matches!(b, b'\t' | b'\n' | b'\r')));
            prop_assert!(out.iter().all(|b| *b >= 0x20 && *b != 0x7f || *b >= 0x80));
            prop_assert!(std::str::from_utf8(&out).is_ok());
            prop_assert!(out != UNSET);
        }

        #[test]
        fn unescaping_round_trips_any_bytes(value in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut out = Vec::new();
            field(&mut out, &value);
            prop_assert_eq!(unescape(&out), Some(value.clone()));
            let mut out = Vec::new();
            element(&mut out, &value);
            prop_assert!(!out.contains(&b','));
            prop_assert_eq!(unescape(&out), Some(value));
        }

        #[test]
        fn unescaping_round_trips_any_text(value in "\\PC*|[\t\n\\\\,\u{85}\u{2028}\u{202e}-]{0,8}") {
            let mut out = Vec::new();
            element(&mut out, value.as_bytes());
            prop_assert_eq!(unescape(&out), Some(value.into_bytes()));
        }
    }
}
