//! How Zeek's ASCII writer prints its non-string types: `time` with exactly six decimals,
//! `addr` as Zeek prints addresses, `count` and `port` in decimal, `bool` as `T`/`F`.
//!
//! Everything appends to a byte buffer without allocating; strings are `escape`'s job.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::event::Micros;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends a `time` or `interval` from microseconds: seconds, a dot and six decimals,
/// computed on integers so that no float rounding can change a digit.
pub fn time(out: &mut Vec<u8>, micros: Micros) {
    if micros < 0 {
        out.push(b'-');
    }
    let micros = micros.unsigned_abs();
    count(out, micros / 1_000_000);
    let mut fraction = (micros % 1_000_000) as u32;
    let mut digits = *b".000000";
    for digit in digits[1..].iter_mut().rev() {
        *digit = b'0' + (fraction % 10) as u8;
        fraction /= 10;
    }
    out.extend_from_slice(&digits);
}

/// Appends a `count` or `port`.
pub fn count(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends a `bool`.
pub fn boolean(out: &mut Vec<u8>, value: bool) {
    out.push(if value { b'T' } else { b'F' });
}

/// The address as Zeek holds it: Zeek stores IPv4 as IPv4-mapped IPv6, so `::ffff:a.b.c.d`
/// and `a.b.c.d` are one address to it, and it is an IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Appends an `addr` as Zeek prints it (through `inet_ntop`): IPv4 dotted (IPv4-mapped
/// IPv6 included), IPv6 in RFC 5952 form, lower-case hex with the longest run of two or more
/// zero groups (the first of equal runs) written `::`. Like `inet_ntop`, a deprecated
/// IPv4-compatible address (96 zero bits, then a non-zero group) ends in dotted form,
/// `::10.0.0.1`; Rust's `Display` would write `::a00:1`.
pub fn addr(out: &mut Vec<u8>, ip: IpAddr) {
    match canonical(ip) {
        IpAddr::V4(v4) => ipv4(out, v4),
        IpAddr::V6(v6) => ipv6(out, v6),
    }
}

fn ipv4(out: &mut Vec<u8>, ip: Ipv4Addr) {
    let [a, b, c, d] = ip.octets();
    count(out, a);
    out.push(b'.');
    count(out, b);
    out.push(b'.');
    count(out, c);
    out.push(b'.');
    count(out, d);
}

fn ipv6(out: &mut Vec<u8>, ip: Ipv6Addr) {
    let groups = ip.segments();
    if groups[..6] == [0; 6] && groups[6] != 0 {
        out.extend_from_slice(b"::");
        ipv4(out, Ipv4Addr::from_bits(ip.to_bits() as u32));
        return;
    }

    let (mut run_start, mut run_len) = (0, 0);
    let mut i = 0;
    while i < 8 {
        if groups[i] == 0 {
            let start = i;
            while i < 8 && groups[i] == 0 {
                i += 1;
            }
            if i - start > run_len {
                (run_start, run_len) = (start, i - start);
            }
        } else {
            i += 1;
        }
    }
    if run_len < 2 {
        run_len = 0;
    }

    let mut i = 0;
    while i < 8 {
        if run_len > 0 && i == run_start {
            out.extend_from_slice(b"::");
            i += run_len;
            continue;
        }
        if i > 0 && !(run_len > 0 && i == run_start + run_len) {
            out.push(b':');
        }
        hex_group(out, groups[i]);
        i += 1;
    }
}

fn hex_group(out: &mut Vec<u8>, group: u16) {
    let digits = [
        HEX[(group >> 12) as usize],
        HEX[((group >> 8) & 0xf) as usize],
        HEX[((group >> 4) & 0xf) as usize],
        HEX[(group & 0xf) as usize],
    ];
    let significant = (group.max(1).ilog2() / 4) as usize;
    out.extend_from_slice(&digits[3 - significant..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn time_has_exactly_six_decimals_from_integer_microseconds() {
        assert_eq!(
            text(|o| time(o, 1_575_503_260_123_000)),
            "1575503260.123000"
        );
        assert_eq!(
            text(|o| time(o, 1_575_503_260_000_001)),
            "1575503260.000001"
        );
        assert_eq!(text(|o| time(o, 0)), "0.000000");
        assert_eq!(text(|o| time(o, -1)), "-0.000001");
        assert_eq!(text(|o| time(o, i64::MIN)), "-9223372036854.775808");
    }

    #[test]
    fn sysmon_expanded_ipv6_is_written_compressed() {
        let ip = |s: &str| text(|o| addr(o, s.parse().unwrap()));
        assert_eq!(ip("0:0:0:0:0:0:0:1"), "::1");
        assert_eq!(
            ip("fe80:0:0:0:a1cd:665f:9ac2:55c1"),
            "fe80::a1cd:665f:9ac2:55c1"
        );
        assert_eq!(ip("ff02:0:0:0:0:0:1:3"), "ff02::1:3");
        assert_eq!(ip("0:0:0:0:0:0:0:0"), "::");
        assert_eq!(ip("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
        assert_eq!(ip("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
        assert_eq!(
            ip("a00:20f:0:0:18a2:6e00:e0:ffff"),
            "a00:20f::18a2:6e00:e0:ffff"
        );
    }

    #[test]
    fn ipv4_mapped_is_written_as_ipv4_and_ipv4_compatible_as_inet_ntop_does() {
        let ip = |s: &str| text(|o| addr(o, s.parse().unwrap()));
        assert_eq!(ip("::ffff:23.223.14.67"), "23.223.14.67");
        assert_eq!(ip("::ffff:0:0"), "0.0.0.0");
        assert_eq!(ip("::10.0.0.1"), "::10.0.0.1");
        assert_eq!(ip("::0.0.1.0"), "::100");
        assert_eq!(ip("::0.0.0.2"), "::2");
    }

    proptest! {
        #[test]
        fn ipv6_matches_rust_display_outside_the_ipv4_forms(bits in any::<u128>(), zeros in any::<u8>()) {
            // Zero out some groups so that runs of zeros are common.
            let mut groups = Ipv6Addr::from_bits(bits).segments();
            for (i, group) in groups.iter_mut().enumerate() {
                if zeros & (1 << i) != 0 {
                    *group = 0;
                }
            }
            let ip = Ipv6Addr::from(groups);
            prop_assume!(ip.to_ipv4_mapped().is_none() && !(groups[..6] == [0; 6] && groups[6] != 0));
            prop_assert_eq!(text(|o| addr(o, IpAddr::V6(ip))), ip.to_string());
        }

        #[test]
        fn ipv4_matches_rust_display(bits in any::<u32>()) {
            let ip = Ipv4Addr::from_bits(bits);
            prop_assert_eq!(text(|o| addr(o, IpAddr::V4(ip))), ip.to_string());
        }
    }
}
