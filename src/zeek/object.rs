//! Whole Zeek log objects: the header, rows compressed as they come into a series of gzip
//! members, the `#close` line, and the object's name.
//!
//! An object is a pure function of its log type, hour and rows: `#open`/`#close` are the
//! hour's bounds, gzip headers carry no time or name, and members are cut by row bytes
//! alone, so that a replay rewrites an object byte for byte.
//!
//! That holds for one build. zlib-ng 2.3 (flate2's backend here) chooses the same matches on
//! every CPU, its SIMD paths computing the same results, but another zlib-ng version may
//! compress the same text differently: a segment replayed by a replica of a newer build
//! (during a rolling upgrade) then writes different bytes, which a create-only store
//! reports as a conflict although the text is identical.

use std::cell::RefCell;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use super::{Hour, LogType, conn, dns};

/// Uncompressed bytes gathered before they are compressed as one gzip member: the member
/// ends with the first row that reaches this size. Big enough that restarting the 32 KiB
/// deflate window per member costs little ratio; small enough that a segment holding many
/// (log, hour) buckets, a laptop's three-day backlog, keeps little uncompressed data per
/// bucket, instead of the ~300 KB a live deflate stream holds.
pub const MEMBER_BYTES: usize = 128 * 1024;

/// Room above [`MEMBER_BYTES`] for the rows that pass it: one event's rows are a few
/// hundred bytes.
const MEMBER_HEADROOM: usize = 16 * 1024;

/// gzip level: zlib's default, the usual trade of speed for size.
const LEVEL: u32 = 6;

/// A gzip member header (RFC 1952): deflate, no flags, mtime 0, no extra flags, OS
/// "unknown". No name and no time, so that identical rows give identical bytes.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

thread_local! {
    /// One raw-deflate compressor per thread, reset for every member, instead of one per
    /// object being built: deflate state is the largest part of an idle object's memory.
    /// A reset stream compresses exactly as a new one does.
    static COMPRESSOR: RefCell<Compress> =
        RefCell::new(Compress::new(Compression::new(LEVEL), false));
}

/// One gzip Zeek log object being built: header written at creation, rows appended,
/// `#close` and the last gzip member written by [`ObjectBuilder::finish`].
///
/// The object is a series of complete gzip members; RFC 1952 makes their concatenation one
/// gzip file, and the readers that matter (Go's `compress/gzip` in RITA, Python's `gzip` in
/// zat, `zcat`) read every member.
pub struct ObjectBuilder {
    hour: Hour,
    /// Complete gzip members, each in an allocation of its own size: one growing buffer
    /// would hold up to twice its length while it doubles, and copy itself as it does.
    members: Vec<Vec<u8>>,
    compressed_len: usize,
    /// Text not yet compressed: whole lines only.
    pending: Vec<u8>,
}

impl ObjectBuilder {
    pub fn new(log: LogType, hour: Hour) -> ObjectBuilder {
        let mut pending = Vec::with_capacity(4096);
        write_header(&mut pending, log, hour);
        ObjectBuilder {
            hour,
            members: Vec::new(),
            compressed_len: 0,
            pending,
        }
    }

    /// Appends complete rows produced by [`super::Formatter::append_rows`].
    pub fn append(&mut self, rows: &[u8]) {
        let needed = self.pending.len() + rows.len();
        if needed > self.pending.capacity() {
            // Straight to a member and the rows that pass it, instead of doubling past it:
            // a bucket holding a few stragglers stays small, a busy one allocates once.
            let target = needed.max(MEMBER_BYTES + MEMBER_HEADROOM);
            self.pending.reserve_exact(target - self.pending.len());
        }
        self.pending.extend_from_slice(rows);
        self.compress_full_members();
    }

    /// Bytes held so far, compressed and not yet compressed, for memory accounting.
    pub fn compressed_len(&self) -> usize {
        self.compressed_len + self.pending.len()
    }

    /// The whole object: what was appended, `#close`, and the end of the last member.
    pub fn finish(mut self) -> Vec<u8> {
        self.pending.extend_from_slice(b"#close\t");
        write_stamp(&mut self.pending, self.hour.end());
        self.pending.push(b'\n');
        self.compress_full_members();
        let last = compress_member(&self.pending);
        let mut object = Vec::with_capacity(self.compressed_len + last.len());
        for member in self.members.iter().chain([&last]) {
            object.extend_from_slice(member);
        }
        object
    }

    /// Compresses every complete member: up to the end of the first line that reaches
    /// [`MEMBER_BYTES`]. The cut depends on the text alone, not on how it was appended.
    fn compress_full_members(&mut self) {
        let mut start = 0;
        while self.pending.len() - start >= MEMBER_BYTES {
            let Some(newline) = memchr::memchr(b'\n', &self.pending[start + MEMBER_BYTES - 1..])
            else {
                break;
            };
            let end = start + MEMBER_BYTES + newline;
            let member = compress_member(&self.pending[start..end]);
            self.compressed_len += member.len();
            self.members.push(member);
            start = end;
        }
        if start > 0 {
            self.pending.drain(..start);
        }
    }
}

/// `text` as one complete gzip member.
fn compress_member(text: &[u8]) -> Vec<u8> {
    // Zeek rows compress to well under a third; the loop below grows the buffer if not.
    let mut out = Vec::with_capacity(text.len() / 3 + 64);
    out.extend_from_slice(&GZIP_HEADER);
    COMPRESSOR.with_borrow_mut(|compress| {
        compress.reset();
        let start = compress.total_in();
        loop {
            let consumed = (compress.total_in() - start) as usize;
            if out.len() == out.capacity() {
                out.reserve((text.len() - consumed) / 2 + 64);
            }
            let status = compress
                .compress_vec(&text[consumed..], &mut out, FlushCompress::Finish)
                .expect("deflate accepts any input held in memory");
            if status == Status::StreamEnd {
                break;
            }
        }
    });
    let mut crc = Crc::new();
    crc.update(text);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952).
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.shrink_to_fit();
    out
}

/// The header every object starts with; `#open` is the start of its hour.
fn write_header(out: &mut Vec<u8>, log: LogType, hour: Hour) {
    out.extend_from_slice(b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n");
    out.extend_from_slice(b"#unset_field\t-\n#path\t");
    out.extend_from_slice(log.as_str().as_bytes());
    out.extend_from_slice(b"\n#open\t");
    write_stamp(out, hour.start());
    let columns: &[(&str, &str)] = match log {
        LogType::Conn => &conn::COLUMNS,
        LogType::Dns => &dns::COLUMNS,
    };
    out.extend_from_slice(b"\n#fields");
    for (name, _) in columns {
        out.push(b'\t');
        out.extend_from_slice(name.as_bytes());
    }
    out.extend_from_slice(b"\n#types");
    for (_, kind) in columns {
        out.push(b'\t');
        out.extend_from_slice(kind.as_bytes());
    }
    out.push(b'\n');
}

/// `YYYY-MM-DD-HH-MM-SS` in UTC, as Zeek writes `#open` and `#close`.
fn write_stamp(out: &mut Vec<u8>, micros: i64) {
    let seconds = micros.div_euclid(1_000_000);
    let (year, month, day) = civil_date(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    out.extend_from_slice(
        format!(
            "{year:04}-{month:02}-{day:02}-{:02}-{:02}-{:02}",
            of_day / 3600,
            of_day / 60 % 60,
            of_day % 60
        )
        .as_bytes(),
    );
}

/// The object name below the root: `<YYYY-MM-DD>/<path>.<HH>:00:00-<HH+1>:00:00-<writer>.log.gz`,
/// in UTC, the hour after 23:00 written `00:00:00` in the same day's folder, as RITA reads
/// it. `writer` must already be limited to `[A-Za-z0-9._-]`; any other byte becomes `_`, so
/// that a name can never leave its folder.
pub fn object_path(log: LogType, hour: Hour, writer: &str) -> String {
    let (year, month, day) = civil_date(hour.0.div_euclid(24));
    let start = hour.0.rem_euclid(24);
    let end = (start + 1) % 24;
    let writer: String = writer
        .chars()
        .map(|c| {
            if c.is_ascii() && is_writer_byte(c as u8) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{year:04}-{month:02}-{day:02}/{}.{start:02}:00:00-{end:02}:00:00-{writer}.log.gz",
        log.as_str()
    )
}

fn is_writer_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// (year, month, day) of a day counted from 1970-01-01, in the proleptic Gregorian
/// calendar: days are shifted to start on 0000-03-01 so that the leap day ends each
/// 400-year era's years, then split into eras, years of era and days of year.
fn civil_date(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use chrono::{Datelike, TimeZone, Utc};

    use super::*;

    fn hour(text: &str) -> Hour {
        let time = chrono::DateTime::parse_from_rfc3339(text).unwrap();
        Hour::of(time.timestamp_micros())
    }

    fn gunzip(bytes: &[u8]) -> String {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    fn rows(count: usize) -> Vec<u8> {
        (0..count)
            .map(|i| {
                format!(
                    "1575503260.{i:06}\tC{i:017}\t10.0.0.{}\t{}\n",
                    i % 250,
                    40000 + i % 9999
                )
            })
            .collect::<String>()
            .into_bytes()
    }

    #[test]
    fn the_header_is_zeeks_with_the_hours_bounds() {
        let object = ObjectBuilder::new(LogType::Dns, hour("2019-12-05T04:17:00Z")).finish();
        let text = gunzip(&object);
        let fields = dns::COLUMNS.map(|(name, _)| name).join("\t");
        let types = dns::COLUMNS.map(|(_, kind)| kind).join("\t");
        assert_eq!(
            text,
            format!(
                "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n\
                 #path\tdns\n#open\t2019-12-05-04-00-00\n#fields\t{fields}\n#types\t{types}\n\
                 #close\t2019-12-05-05-00-00\n"
            )
        );
    }

    #[test]
    fn conn_fields_and_types_are_the_contracts() {
        let object = ObjectBuilder::new(LogType::Conn, hour("2019-12-31T23:59:59Z")).finish();
        let text = gunzip(&object);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[4], "#path\tconn");
        assert_eq!(lines[5], "#open\t2019-12-31-23-00-00");
        assert_eq!(
            lines[6],
            "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\t\
             orig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\t\
             orig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tagent_uuid\t\
             agent_hostname\tprocess\tuser\tpid\tinitiated"
        );
        assert_eq!(
            lines[7],
            "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\t\
             string\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tstring\t\
             string\tstring\tstring\tcount\tbool"
        );
        assert_eq!(lines[8], "#close\t2020-01-01-00-00-00");
    }

    #[test]
    fn dns_types_are_zeeks() {
        let types: Vec<&str> = dns::COLUMNS.iter().map(|(_, kind)| *kind).collect();
        assert_eq!(
            types.join(" "),
            "time string addr port addr port enum count interval string count string count \
             string count string bool bool bool bool count vector[string] vector[interval] bool \
             string string count string string count"
        );
    }

    #[test]
    fn object_paths_name_the_utc_day_and_hour_and_23_ends_at_00() {
        let h = hour("2019-12-05T04:17:00Z");
        assert_eq!(
            object_path(LogType::Conn, h, "winlogbeat.p0003.o000000000812"),
            "2019-12-05/conn.04:00:00-05:00:00-winlogbeat.p0003.o000000000812.log.gz"
        );
        assert_eq!(
            object_path(LogType::Dns, hour("2024-02-29T23:59:59Z"), "w"),
            "2024-02-29/dns.23:00:00-00:00:00-w.log.gz"
        );
        assert_eq!(
            object_path(LogType::Conn, hour("2000-01-01T00:00:00Z"), "w"),
            "2000-01-01/conn.00:00:00-01:00:00-w.log.gz"
        );
    }

    #[test]
    fn a_writer_with_other_bytes_cannot_leave_its_folder() {
        let path = object_path(LogType::Conn, Hour(0), "../x/y");
        assert_eq!(path, "1970-01-01/conn.00:00:00-01:00:00-.._x_y.log.gz");
    }

    #[test]
    fn civil_dates_agree_with_chrono_across_centuries() {
        for days in (-800_000i64..800_000).step_by(997).chain(10_950..11_400) {
            let date = Utc.timestamp_opt(days * 86_400, 0).unwrap();
            assert_eq!(
                civil_date(days),
                (i64::from(date.year()), date.month(), date.day()),
                "day {days}"
            );
        }
    }

    #[test]
    fn the_same_rows_give_the_same_bytes_however_they_are_appended() {
        let text = rows(20_000);
        assert!(text.len() > 4 * MEMBER_BYTES);
        let h = hour("2019-12-05T04:00:00Z");

        let mut whole = ObjectBuilder::new(LogType::Conn, h);
        whole.append(&text);
        let whole = whole.finish();

        let mut by_row = ObjectBuilder::new(LogType::Conn, h);
        for line in text.split_inclusive(|b| *b == b'\n') {
            by_row.append(line);
        }
        let by_row = by_row.finish();
        assert_eq!(whole, by_row);

        // Another object compressed in between on this thread changes nothing.
        let mut other = ObjectBuilder::new(LogType::Dns, h);
        other.append(&rows(3000));
        let mut again = ObjectBuilder::new(LogType::Conn, h);
        for chunk in text
            .split_inclusive(|b| *b == b'\n')
            .collect::<Vec<_>>()
            .chunks(777)
        {
            again.append(&chunk.concat());
            other.append(b"x\n");
        }
        drop(other.finish());
        assert_eq!(again.finish(), whole);
    }

    #[test]
    fn a_multi_member_object_decodes_to_the_header_rows_and_close() {
        let text = rows(20_000);
        let h = hour("2019-12-05T04:00:00Z");
        let mut builder = ObjectBuilder::new(LogType::Conn, h);
        builder.append(&text);
        assert!(builder.compressed_len() < text.len());
        let object = builder.finish();
        let members = object
            .windows(4)
            .filter(|w| *w == [0x1f, 0x8b, 8, 0])
            .count();
        assert!(members >= 4, "{members} members");

        let decoded = gunzip(&object);
        let mut expected = Vec::new();
        write_header(&mut expected, LogType::Conn, h);
        expected.extend_from_slice(&text);
        expected.extend_from_slice(b"#close\t2019-12-05-05-00-00\n");
        assert_eq!(decoded.as_bytes(), expected);
        // Every member ends on a whole line.
        assert!(
            decoded
                .lines()
                .all(|line| line.starts_with('#') || line.split('\t').count() == 4)
        );
    }

    #[test]
    fn gzip_members_carry_no_time_or_name() {
        let object = ObjectBuilder::new(LogType::Conn, Hour(0)).finish();
        assert_eq!(object[..10], GZIP_HEADER);
        let decoder = flate2::read::GzDecoder::new(&object[..]);
        let header = decoder.header().unwrap();
        assert_eq!(header.mtime(), 0);
        assert!(header.filename().is_none());
    }
}
