//! Which objects an export takes: the times operators type (`2024-05-01`, `2024-05-01T13`,
//! RFC 3339), the days to list, and the hour an object name stands for.
//!
//! Names are read the way RITA reads them: the day from the folder, the hour from the
//! first `<letters>.<HH>:` of the file name. Anything else is not a Zeek object here.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

/// Parses a time given on the command line; times without a zone are UTC.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    // `2024-05-01T13`, and with minutes or seconds but no zone.
    let formats = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ];
    for format in formats {
        if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(time.and_utc());
        }
    }
    if let Some((day, hour)) = text.split_once(['T', ' '])
        && let (Ok(day), Ok(hour)) = (NaiveDate::parse_from_str(day, "%Y-%m-%d"), hour.parse())
        && let Some(time) = day.and_hms_opt(hour, 0, 0)
    {
        return Ok(time.and_utc());
    }
    Err(format!(
        "invalid time {text:?}: expected a day (2024-05-01), an hour (2024-05-01T13) or \
         RFC 3339 (2024-05-01T13:30:00Z)"
    ))
}

/// The days (UTC) that overlap `[since, until)`, oldest first.
pub fn days(since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<NaiveDate> {
    let mut days = Vec::new();
    let mut day = since.date_naive();
    while day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() < until {
        days.push(day);
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    days
}

/// The folder of a day in the Zeek tree.
pub fn day_folder(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// A Zeek object found in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZeekObject {
    /// The day folder, `YYYY-MM-DD`.
    pub day: String,
    /// The file name inside it.
    pub file: String,
    /// The start of the object's hour.
    pub hour: DateTime<Utc>,
}

impl ZeekObject {
    /// Reads `<YYYY-MM-DD>/<path>.<HH>:00:00-<HH+1>:00:00[-<writer>].log.gz`, the layout
    /// espy writes (and Zeek's own archive names, which lack the writer). Names with other
    /// characters than `[A-Za-z0-9._:-]` are refused, so a name can never leave the
    /// destination folder.
    pub fn parse(path: &str) -> Option<ZeekObject> {
        let (day, file) = path.split_once('/')?;
        let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
        if day.len() != 10
            || !file
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
        {
            return None;
        }
        let stem = file.strip_suffix(".log.gz")?;
        let (log, times) = stem.split_once('.')?;
        if log.is_empty() || !log.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        let start: u32 = times.get(..2)?.parse().ok()?;
        let end: u32 = times.get(9..11)?.parse().ok()?;
        let shape_ok = times.get(2..9) == Some(":00:00-") && times.get(11..17) == Some(":00:00");
        let rest = times.get(17..)?;
        if !shape_ok || start > 23 || end != (start + 1) % 24 {
            return None;
        }
        if !(rest.is_empty() || rest.len() > 1 && rest.starts_with('-')) {
            return None;
        }
        let hour = date.and_hms_opt(start, 0, 0)?.and_utc();
        Some(ZeekObject {
            day: day.to_string(),
            file: file.to_string(),
            hour,
        })
    }

    /// Whether the object's hour overlaps `[since, until)`.
    pub fn overlaps(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> bool {
        self.hour < until && self.hour + TimeDelta::hours(1) > since
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn operators_give_a_day_an_hour_or_an_rfc_3339_time() {
        assert_eq!(parse_time("2024-05-01"), Ok(utc("2024-05-01T00:00:00Z")));
        assert_eq!(parse_time("2024-05-01T13"), Ok(utc("2024-05-01T13:00:00Z")));
        assert_eq!(
            parse_time("2024-05-01T13:30"),
            Ok(utc("2024-05-01T13:30:00Z"))
        );
        assert_eq!(
            parse_time("2024-05-01T15:00:00+02:00"),
            Ok(utc("2024-05-01T13:00:00Z"))
        );
        let error = parse_time("May 1st").unwrap_err();
        assert!(error.contains("\"May 1st\"") && error.contains("2024-05-01T13"));
        assert!(parse_time("2024-05-01T24").is_err());
    }

    #[test]
    fn espy_and_zeek_names_give_their_hour_and_others_are_not_objects() {
        let espy = ZeekObject::parse(
            "2024-05-01/conn.23:00:00-00:00:00-winlogbeat.p0003.o000000000812.log.gz",
        )
        .unwrap();
        assert_eq!(espy.hour, utc("2024-05-01T23:00:00Z"));
        assert_eq!(espy.day, "2024-05-01");
        let zeek = ZeekObject::parse("2024-05-01/dns.13:00:00-14:00:00.log.gz").unwrap();
        assert_eq!(zeek.hour, utc("2024-05-01T13:00:00Z"));

        for other in [
            "_espy/markers/winlogbeat/p0000/o000000000000.json",
            "2024-05-01/conn.13:00:00-15:00:00-w.log.gz",
            "2024-05-01/conn.13:00:00-14:00:00-w.log",
            "2024-05-01/sub/conn.13:00:00-14:00:00-w.log.gz",
            "2024-05-01/conn.13:00:00-14:00:00-w x.log.gz",
            "2024-13-01/conn.13:00:00-14:00:00-w.log.gz",
            "rejects.ndjson",
        ] {
            assert_eq!(ZeekObject::parse(other), None, "{other}");
        }
    }

    #[test]
    fn an_hour_is_taken_when_it_overlaps_the_range() {
        let object = ZeekObject::parse("2024-05-01/conn.13:00:00-14:00:00-w.log.gz").unwrap();

        assert!(object.overlaps(utc("2024-05-01T13:00:00Z"), utc("2024-05-01T14:00:00Z")));
        assert!(object.overlaps(utc("2024-05-01T13:30:00Z"), utc("2024-05-01T13:31:00Z")));
        assert!(!object.overlaps(utc("2024-05-01T14:00:00Z"), utc("2024-05-02T00:00:00Z")));
        assert!(!object.overlaps(utc("2024-05-01T00:00:00Z"), utc("2024-05-01T13:00:00Z")));
    }

    #[test]
    fn the_days_to_list_are_those_the_range_touches() {
        let days = days(utc("2024-04-30T23:00:00Z"), utc("2024-05-02T00:00:00Z"));

        let names: Vec<String> = days.into_iter().map(day_folder).collect();
        assert_eq!(names, ["2024-04-30", "2024-05-01"]);
    }
}
