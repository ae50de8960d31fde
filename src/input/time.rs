//! Event times: Sysmon's `UtcTime` (`2019-05-18 20:35:52.569`, UTC, no zone) and ECS
//! `@timestamp` (RFC 3339, `2019-05-18T20:35:52.57Z`, zero to seven or more fraction digits),
//! to microseconds, and the range an event time must fall in.
//!
//! Which field holds the event time is the extractors' decision, not this file's.

use super::document::Scalar;
use super::values::{Field, is_placeholder, missing};
use super::{Reject, RejectReason, describe};
use crate::event::Micros;

/// 2000-01-01T00:00:00Z: no Sysmon network event is older (Sysmon appeared in 2014), so an
/// earlier time is a broken clock or a broken field.
pub(crate) const EARLIEST: Micros = 946_684_800 * 1_000_000;

/// How far past the reference time an event may be: shippers are late, never early, so a
/// time further ahead is a wrong clock on the endpoint.
pub(crate) const MAX_AHEAD: Micros = 24 * 3_600 * 1_000_000;

/// Reads the event time from `value` and checks it against the range: not before
/// [`EARLIEST`], not more than [`MAX_AHEAD`] after `reference`.
pub(crate) fn event_time(
    value: Option<Scalar<'_>>,
    field: Field,
    reference: Micros,
) -> Result<Micros, Reject> {
    let text = match value {
        Some(Scalar::Str(text)) if !is_placeholder(&text) => text,
        Some(Scalar::Str(_)) => return Err(missing(field, "is empty")),
        None => return Err(missing(field, "is absent")),
        Some(_) => {
            return Err(Reject::new(
                RejectReason::BadTime,
                format!("`{field}` is not a string"),
            ));
        }
    };
    let Some(time) = parse_time(&text) else {
        return Err(Reject::new(
            RejectReason::BadTime,
            format!("`{field}` {} is not a UTC date and time", describe(&text)),
        ));
    };
    if time < EARLIEST || time > reference.saturating_add(MAX_AHEAD) {
        return Err(Reject::new(
            RejectReason::TimeOutOfRange,
            format!(
                "`{field}` {} is before 2000-01-01 or more than 24 h after the reference time",
                describe(&text)
            ),
        ));
    }
    Ok(time)
}

/// Parses `YYYY-MM-DD HH:MM:SS[.fraction][zone]` with a space or `T` between date and time.
/// No zone means UTC (`UtcTime`); `Z`, `+HH:MM` and `+HHMM` are applied. Fraction digits
/// past the sixth are truncated, since espy keeps microseconds. A second of 60 (a leap
/// second, which Windows can log) counts as the first second of the next minute.
pub(crate) fn parse_time(text: &str) -> Option<Micros> {
    let b = text.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    let separators_ok = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b' ' | b'T' | b't')
        && b[13] == b':'
        && b[16] == b':';
    if !separators_ok
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }

    let mut rest = &b[19..];
    let mut micros = 0i64;
    if let Some((b'.', fraction)) = rest.split_first() {
        let count = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if count == 0 {
            return None;
        }
        for position in 0..6 {
            let digit = fraction.get(position).filter(|_| position < count);
            micros = micros * 10 + digit.map_or(0, |d| i64::from(d - b'0'));
        }
        rest = &fraction[count..];
    }
    let offset = zone_offset(rest)?;

    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset;
    Some(seconds * 1_000_000 + micros)
}

/// Seconds east of UTC for a zone suffix: empty (UTC), `Z`, `+HH:MM`, `-HHMM`.
fn zone_offset(zone: &[u8]) -> Option<i64> {
    match zone {
        [] | [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (hours, minutes) = match rest {
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?)
                }
                _ => return None,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3_600 + minutes * 60;
            Some(if *sign == b'-' { -offset } else { offset })
        }
        _ => None,
    }
}

fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |value, byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + i64::from(byte - b'0'))
    })
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date, counting years from March so that
/// the leap day is the last day of its year.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn chrono_micros(text: &str) -> Micros {
        chrono::DateTime::parse_from_rfc3339(text)
            .expect("reference time")
            .timestamp_micros()
    }

    #[test]
    fn utc_time_has_a_space_no_zone_and_milliseconds() {
        assert_eq!(
            parse_time("2019-05-18 20:35:52.569"),
            Some(chrono_micros("2019-05-18T20:35:52.569Z"))
        );
    }

    #[test]
    fn ecs_timestamps_carry_any_number_of_fraction_digits() {
        for (text, expected) in [
            ("2019-03-18T16:57:48.07Z", "2019-03-18T16:57:48.070Z"),
            ("2019-03-18T16:57:48Z", "2019-03-18T16:57:48Z"),
            (
                "2021-04-20T22:08:49.3405807Z",
                "2021-04-20T22:08:49.340580Z",
            ),
            ("2021-04-20T22:08:37.933324Z", "2021-04-20T22:08:37.933324Z"),
            (
                "2021-04-20T22:08:37.9333249999Z",
                "2021-04-20T22:08:37.933324Z",
            ),
        ] {
            assert_eq!(parse_time(text), Some(chrono_micros(expected)), "{text}");
        }
    }

    #[test]
    fn zone_offsets_are_applied() {
        assert_eq!(
            parse_time("2019-05-18T22:35:52.569+02:00"),
            parse_time("2019-05-18 20:35:52.569")
        );
        assert_eq!(
            parse_time("2019-05-18T15:35:52.569-0500"),
            parse_time("2019-05-18 20:35:52.569")
        );
    }

    #[test]
    fn calendar_arithmetic_matches_chrono_across_leap_years_and_centuries() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59.999999Z",
            "2024-02-29T12:00:00Z",
            "2100-03-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "9999-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_time(text), Some(chrono_micros(text)), "{text}");
        }
    }

    #[test]
    fn a_leap_second_is_the_next_minute() {
        assert_eq!(
            parse_time("2016-12-31 23:59:60.500"),
            parse_time("2017-01-01 00:00:00.500")
        );
    }

    #[test]
    fn malformed_times_do_not_parse() {
        for text in [
            "",
            "2019-05-18",
            "2019-05-18 20:35",
            "2019-13-18 20:35:52.569",
            "2019-02-29 20:35:52.569",
            "2019-05-18 24:00:00.000",
            "2019-05-18 20:35:52.",
            "2019-05-18 20:35:52.569 ",
            "2019-05-18 20:35:52.569+2",
            "2019/05/18 20:35:52.569",
            "5/18/2019 8:35:52 PM",
            "２０１９-05-18 20:35:52",
        ] {
            assert_eq!(parse_time(text), None, "{text:?}");
        }
    }

    #[test]
    fn times_before_2000_or_a_day_past_the_reference_are_out_of_range() {
        let reference = chrono_micros("2024-06-01T00:00:00Z");
        let field = Field::top("UtcTime");
        let at = |text: &'static str| {
            event_time(Some(Scalar::Str(Cow::Borrowed(text))), field, reference)
        };
        assert!(at("2000-01-01 00:00:00.000").is_ok());
        assert!(at("2024-06-02 00:00:00.000").is_ok());
        let reason = |r: Result<Micros, Reject>| r.map_err(|r| r.reason);
        assert_eq!(
            reason(at("1999-12-31 23:59:59.999")),
            Err(RejectReason::TimeOutOfRange)
        );
        assert_eq!(
            reason(at("2024-06-02 00:00:00.001")),
            Err(RejectReason::TimeOutOfRange)
        );
        assert_eq!(
            reason(at("1990-01-01 00:00:00.000")),
            Err(RejectReason::TimeOutOfRange)
        );
        assert_eq!(reason(at("yesterday")), Err(RejectReason::BadTime));
        assert_eq!(
            reason(event_time(None, field, reference)),
            Err(RejectReason::MissingField)
        );
    }
}
