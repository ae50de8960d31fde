//! Zeek-style uids from an event's identity: `C` and 17 base62 digits of 96 bits of a hash,
//! so that copies of one event (Winlogbeat delivers at least once) share a uid forever.
//!
//! The hash is SipHash-1-3 with 128-bit output (the `siphasher` crate), keyed with the
//! bytes of espy's UUID namespace. It is a published, fixed algorithm whose output does not
//! depend on the platform, and fast on the short inputs an event gives. It is not a
//! collision-resistant hash against someone who knows the key, and need not be: 96 bits give
//! no more than 2^48 collision resistance with any hash, and a host that wants two events
//! to share a uid can simply send the same event twice.
//!
//! Every field is fed as explicitly encoded bytes, never through `std::hash::Hash`:
//! integers little-endian, strings length-prefixed (u32), options as a tag byte (0 none,
//! 1 some) then the value, addresses as a family tag (4 or 6) then their octets. Changing
//! anything here changes every uid; the pinned uids in the tests guard against that.

use std::hash::Hasher;
use std::net::IpAddr;

use siphasher::sip128::{Hasher128, SipHasher13};

use super::identity::ESPY_NAMESPACE;

/// Length of a uid: `C` and 17 digits, as 62^17 > 2^96.
pub const UID_LEN: usize = 18;

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Versions the encoding: a different encoding must start with a different tag.
const DOMAIN: &[u8] = b"espy uid 1\0";

/// A uid, ready to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Uid(pub [u8; UID_LEN]);

/// Feeds an event's identity to the hash in the encoding described above. Small fields
/// are gathered in a buffer first: SipHash reads the same byte stream however it is split,
/// and one call per event is cheaper than one per field.
pub(crate) struct UidHasher {
    sip: SipHasher13,
    buffer: [u8; 256],
    len: usize,
}

impl UidHasher {
    /// Starts a uid for a Sysmon event id (3 or 22).
    pub fn new(event_id: u8) -> UidHasher {
        let key = ESPY_NAMESPACE.as_bytes();
        let k0 = u64::from_le_bytes(key[..8].try_into().expect("8 bytes"));
        let k1 = u64::from_le_bytes(key[8..].try_into().expect("8 bytes"));
        let mut hasher = UidHasher {
            sip: SipHasher13::new_with_keys(k0, k1),
            buffer: [0; 256],
            len: 0,
        };
        hasher.push(DOMAIN);
        hasher.push(&[event_id]);
        hasher
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > self.buffer.len() {
            self.sip.write(&self.buffer[..self.len]);
            self.len = 0;
            if bytes.len() > self.buffer.len() {
                self.sip.write(bytes);
                return;
            }
        }
        self.buffer[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.push(bytes);
    }

    pub fn u8(&mut self, value: u8) {
        self.push(&[value]);
    }

    pub fn u16(&mut self, value: u16) {
        self.push(&value.to_le_bytes());
    }

    pub fn u32(&mut self, value: u32) {
        self.push(&value.to_le_bytes());
    }

    pub fn i64(&mut self, value: i64) {
        self.push(&value.to_le_bytes());
    }

    pub fn str(&mut self, value: &str) {
        // A string over 4 GiB cannot occur (messages are limited to megabytes); saturating
        // keeps the encoding total anyway.
        self.u32(u32::try_from(value.len()).unwrap_or(u32::MAX));
        self.push(value.as_bytes());
    }

    pub fn opt_str(&mut self, value: Option<&str>) {
        match value {
            None => self.u8(0),
            Some(value) => {
                self.u8(1);
                self.str(value);
            }
        }
    }

    pub fn opt_u32(&mut self, value: Option<u32>) {
        match value {
            None => self.u8(0),
            Some(value) => {
                self.u8(1);
                self.u32(value);
            }
        }
    }

    pub fn addr(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) => {
                self.u8(4);
                self.push(&v4.octets());
            }
            IpAddr::V6(v6) => {
                self.u8(6);
                self.push(&v6.octets());
            }
        }
    }

    /// The uid: the first 96 bits of the hash's little-endian bytes (h1 then h2), read as a
    /// big-endian number, in base62. 62^16 < 2^96 < 62^17, so the first digit is `0` or `1`.
    pub fn finish(mut self) -> Uid {
        self.sip.write(&self.buffer[..self.len]);
        let bytes = self.sip.finish128().as_bytes();
        encode(bytes[..12].try_into().expect("12 bytes"))
    }
}

/// `C` and the base62 digits of a 96-bit big-endian number, padded with `0` to 17.
fn encode(bits: [u8; 12]) -> Uid {
    // Two long divisions by 62^5 (which fits a 32-bit limb) peel off five digits each; the
    // quotient left, below 2^96 / 62^10 < 2^37, gives the last seven with plain u64 steps.
    const CHUNK: u64 = 62u64.pow(5);
    let mut limbs = [0u32; 3];
    for (limb, chunk) in limbs.iter_mut().zip(bits.chunks_exact(4)) {
        *limb = u32::from_be_bytes(chunk.try_into().expect("4 bytes"));
    }
    let mut uid = [b'0'; UID_LEN];
    uid[0] = b'C';
    let mut digits = uid[1..].rchunks_mut(5);
    for _ in 0..2 {
        let mut remainder = 0u64;
        for limb in limbs.iter_mut() {
            let value = (remainder << 32) | u64::from(*limb);
            *limb = (value / CHUNK) as u32;
            remainder = value % CHUNK;
        }
        let chunk = digits.next().expect("17 digits");
        for digit in chunk.iter_mut().rev() {
            *digit = DIGITS[(remainder % 62) as usize];
            remainder /= 62;
        }
    }
    debug_assert_eq!(limbs[0], 0);
    let mut rest = (u64::from(limbs[1]) << 32) | u64::from(limbs[2]);
    for digit in uid[1..8].iter_mut().rev() {
        *digit = DIGITS[(rest % 62) as usize];
        rest /= 62;
    }
    Uid(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(feed: impl FnOnce(&mut UidHasher)) -> String {
        let mut hasher = UidHasher::new(3);
        feed(&mut hasher);
        String::from_utf8(hasher.finish().0.to_vec()).unwrap()
    }

    #[test]
    fn a_uid_is_c_and_seventeen_base62_digits() {
        for i in 0..1000u32 {
            let uid = uid(|h| h.u32(i));
            assert_eq!(uid.len(), UID_LEN);
            assert!(uid.starts_with('C'));
            assert!(uid[1..].bytes().all(|b| b.is_ascii_alphanumeric()), "{uid}");
        }
    }

    #[test]
    fn the_encoding_is_pinned() {
        // Computed once from this encoding; a change here changes every uid ever written.
        assert_eq!(uid(|_| {}), "C00ODtirSCKn862JMR");
        assert_eq!(uid(|h| h.str("IT001.shire.com")), "C0TMM5HtsWDTpnlMnl");
    }

    #[test]
    fn base62_is_fixed_width_most_significant_digit_first() {
        let text = |bits: [u8; 12]| String::from_utf8(encode(bits).0.to_vec()).unwrap();
        assert_eq!(text([0; 12]), "C00000000000000000");
        assert_eq!(
            text([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            "C00000000000000001"
        );
        assert_eq!(
            text([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 62]),
            "C00000000000000010"
        );
        assert_eq!(text([0xff; 12]), "C1f2SI9UJPXvb7vdJ1");
        assert_eq!(
            text([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
            "C00P9MVMcaXWHEX8yi"
        );
    }

    proptest::proptest! {
        #[test]
        fn base62_agrees_with_plain_u128_arithmetic(bits in proptest::prelude::any::<[u8; 12]>()) {
            let mut number = bits.iter().fold(0u128, |n, b| n << 8 | u128::from(*b));
            let mut expected = [0u8; 17];
            for digit in expected.iter_mut().rev() {
                *digit = DIGITS[(number % 62) as usize];
                number /= 62;
            }
            proptest::prop_assert_eq!(&encode(bits).0[1..], &expected[..]);
        }
    }

    #[test]
    fn length_prefixes_and_option_tags_keep_neighbouring_fields_apart() {
        assert_ne!(
            uid(|h| {
                h.str("ab");
                h.str("c")
            }),
            uid(|h| {
                h.str("a");
                h.str("bc")
            })
        );
        assert_ne!(uid(|h| h.opt_str(None)), uid(|h| h.opt_str(Some(""))));
        assert_ne!(uid(|h| h.opt_u32(None)), uid(|h| h.opt_u32(Some(0))));
        assert_ne!(
            uid(|h| h.addr("0.0.0.1".parse().unwrap())),
            uid(|h| h.addr("::1".parse().unwrap()))
        );
    }

    #[test]
    fn feeding_in_pieces_hashes_the_same_stream() {
        let whole = uid(|h| h.raw(b"0123456789abcdefghij"));
        let pieces = uid(|h| {
            h.raw(b"012");
            h.raw(b"3456789abc");
            h.raw(b"defghij");
        });
        assert_eq!(whole, pieces);
    }
}
