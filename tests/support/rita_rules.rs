//! A reader of Zeek trees written against RITA v5's import rules, plus the rules PRODUCT.md
//! adds for espy's objects, so that a test can say "RITA would import every row of this
//! tree" without a RITA installation.
//!
//! What RITA v5 does, read from activecm/rita (`cmd/import.go`, `importer/parser.go`,
//! `importer/conn.go`, `importer/dns.go`, `util/util.go`); no code is taken from it:
//!
//! - Files: only names ending in `.log` or `.gz`; the base name must start with the log type
//!   (`conn`, but not `conn_summary`/`conn-summary`; `dns`). The hour is the first match of
//!   `[A-Za-z]+\.(\d{2})[:/_]\d{2}` in the path, 0 to 23, else the file is left out. The day is
//!   the parent folder's name read as `YYYY-MM-DD`; any other folder name lumps the file into
//!   a placeholder day. `.gz` files go through Go's `compress/gzip`, which reads concatenated
//!   members.
//! - Header: every line starting with `#` before the first row is a header line, split on
//!   whitespace; the directive's value is the second word (so values hold no spaces), and
//!   `#separator`'s value is unquoted (`\x09` is a tab). `#open` must parse as
//!   `2006-01-02-15-04-05` (Go layout) or the file is not imported. `#fields` and `#types`,
//!   split on whitespace, must have the same count. Once both are seen, every further header
//!   line appends the fields again, so `#types` must be the last header line. `#path` must
//!   equal the file name's log type (a mismatch is reported as an error).
//! - Rows: lines are read with a 1 MiB buffer; fields are split on the separator, and a row
//!   with fewer than all but two of the fields counts as truncated and ends the file's
//!   import. Fields equal to `#empty_field` or `#unset_field` are skipped; otherwise `time`
//!   must be integer digits, a dot and integer digits; `port` and `count` decimal integers;
//!   `bool` what Go's `strconv.ParseBool` accepts; `interval` a float.
//! - conn and dns rows whose `id.orig_h` or `id.resp_h` do not parse as addresses are dropped;
//!   dns rows without a query are dropped and queries without a dot are ignored by choice.
//! - `agent_uuid` must parse as a UUID for private addresses to be grouped by it; otherwise
//!   they all fall into one "unknown private" network.
//!
//! PRODUCT.md adds: paths of `[A-Za-z0-9._:/-]` named
//! `<day>/<log>.<HH>:00:00-<HH+1>:00:00-<writer>.log.gz`, `#open` the start of the hour
//! named and `#close` (the last line) its end, `ts` with six decimals inside that hour, a
//! uid on every row, every row as wide as `#fields`, ports `-` or 0 to 65535, bools `T`, `F`
//! or `-`.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};

/// The header lines in the order Zeek writes them, each checked by name.
const HEADER: [&str; 8] = [
    "separator",
    "set_separator",
    "empty_field",
    "unset_field",
    "path",
    "open",
    "fields",
    "types",
];

/// RITA's line buffer (`bufio.Scanner` with a 1 MiB maximum).
const MAX_LINE: usize = 1 << 20;

/// What a tree holds by RITA's reading, and every rule it breaks.
#[derive(Debug, Default)]
pub struct Report {
    /// Objects by their path below the root.
    pub objects: BTreeMap<String, Object>,
    /// One line per broken rule, naming the object, the line and the rule.
    pub violations: Vec<String>,
}

/// One object as RITA reads it.
#[derive(Debug, Default)]
pub struct Object {
    pub log: String,
    /// Each row's fields by name.
    pub rows: Vec<BTreeMap<String, String>>,
}

impl Report {
    /// Rows of one log type across the tree.
    pub fn rows(&self, log: &str) -> impl Iterator<Item = &BTreeMap<String, String>> {
        self.objects
            .values()
            .filter(move |object| object.log == log)
            .flat_map(|object| &object.rows)
    }
}

/// Reads every file under `root` as RITA's walk would and checks each against the rules.
pub fn check_tree(root: &Path) -> Report {
    let mut report = Report::default();
    let mut files = Vec::new();
    collect(root, &mut files);
    files.sort();
    for path in files {
        let name = path
            .strip_prefix(root)
            .expect("below root")
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".ndjson") || name.starts_with("_espy/") {
            // The rejects file and espy's bookkeeping: RITA leaves them out by extension.
            continue;
        }
        let mut violations = Vec::new();
        let object = check_object(&path, &name, &mut violations);
        report
            .violations
            .extend(violations.into_iter().map(|v| format!("{name}: {v}")));
        report.objects.insert(name, object);
    }
    report
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read folder") {
        let path = entry.expect("folder entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// The hour RITA reads from a path: the first `<letters>.<HH>[:/_]<MM>`.
pub fn rita_hour(path: &str) -> Option<u32> {
    let bytes = path.as_bytes();
    (1..bytes.len()).find_map(|dot| {
        let candidate = bytes.get(dot..dot + 6)?;
        let matches = bytes[dot - 1].is_ascii_alphabetic()
            && candidate[0] == b'.'
            && candidate[1..3].iter().all(u8::is_ascii_digit)
            && matches!(candidate[3], b':' | b'/' | b'_')
            && candidate[4..6].iter().all(u8::is_ascii_digit);
        matches.then(|| u32::from(candidate[1] - b'0') * 10 + u32::from(candidate[2] - b'0'))
    })
}

fn check_object(path: &Path, name: &str, violations: &mut Vec<String>) -> Object {
    let mut object = Object::default();

    // The name: characters, folder day, log type, hour and its end.
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._:/-".contains(*c)))
    {
        violations.push(format!("character {bad:?} outside [A-Za-z0-9._:/-]"));
    }
    let (day, base) = name.rsplit_once('/').unwrap_or(("", name));
    let day = match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
        Ok(date) if day.len() == 10 => Some(date),
        _ => {
            violations.push(format!("folder {day:?} is not YYYY-MM-DD"));
            None
        }
    };
    if !base.ends_with(".log.gz") {
        violations.push("not a .log.gz name".into());
    }
    let log = base.split('.').next().unwrap_or_default().to_owned();
    if log != "conn" && log != "dns" {
        violations.push(format!("log type {log:?} is neither conn nor dns"));
    }
    let hour = rita_hour(name);
    let Some(hour) = hour.filter(|h| *h < 24) else {
        violations.push("RITA finds no hour 00-23 in the name".into());
        return object;
    };
    let next = (hour + 1) % 24;
    let span = format!("{log}.{hour:02}:00:00-{next:02}:00:00-");
    if !base.starts_with(&span) || base.len() <= span.len() + ".log.gz".len() {
        violations.push(format!("name does not start with {span:?} and a writer"));
    }
    let start = day.map(|day| day.and_hms_opt(hour, 0, 0).expect("valid hour"));

    // The content, through every gzip member.
    let mut text = Vec::new();
    let file = std::fs::File::open(path).expect("open object");
    if let Err(err) = flate2::read::MultiGzDecoder::new(file).read_to_end(&mut text) {
        violations.push(format!("gzip: {err}"));
        return object;
    }
    let Ok(text) = String::from_utf8(text) else {
        violations.push("not UTF-8".into());
        return object;
    };
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    if !text.ends_with('\n') {
        violations.push("the last line has no newline".into());
    }
    if lines.len() < HEADER.len() + 1 {
        violations.push(format!("only {} lines", lines.len()));
        return object;
    }

    // The header, in Zeek's order.
    if lines[0] != "#separator \\x09" {
        violations.push(format!("line 1 is {:?}", lines[0]));
    }
    let mut directives = BTreeMap::new();
    for (index, (line, expected)) in lines.iter().zip(HEADER).enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let directive = words.first().and_then(|w| w.strip_prefix('#'));
        if directive != Some(expected) {
            violations.push(format!(
                "header line {} is {line:?}, not #{expected}",
                index + 1
            ));
            continue;
        }
        let values: Vec<&str> = line.split('\t').skip(1).collect();
        let tab_values = if expected == "separator" {
            vec![words.get(1).copied().unwrap_or_default()]
        } else {
            values
        };
        if words.len() - 1 != tab_values.len() {
            violations.push(format!("#{expected} has a value with whitespace: {line:?}"));
        }
        directives.insert(expected, tab_values);
    }
    let single = |name: &str| -> &str {
        directives
            .get(name)
            .and_then(|v| v.first())
            .copied()
            .unwrap_or_default()
    };
    for (name, value) in [
        ("set_separator", ","),
        ("empty_field", "(empty)"),
        ("unset_field", "-"),
    ] {
        if single(name) != value {
            violations.push(format!("#{name} is {:?}, not {value:?}", single(name)));
        }
    }
    if single("path") != log {
        violations.push(format!(
            "#path {:?} differs from the name's {log:?}",
            single("path")
        ));
    }
    let stamp = |value: &str| NaiveDateTime::parse_from_str(value, "%Y-%m-%d-%H-%M-%S").ok();
    match (stamp(single("open")), start) {
        (Some(open), Some(start)) if open == start => {}
        (open, start) => violations.push(format!(
            "#open {:?} is not the hour start {start:?} from the path ({open:?})",
            single("open")
        )),
    }
    let fields: Vec<String> = directives
        .get("fields")
        .map(|v| v.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    let types: Vec<&str> = directives.get("types").cloned().unwrap_or_default();
    if fields.len() != types.len() || fields.is_empty() {
        violations.push(format!(
            "#fields has {} names and #types {} types",
            fields.len(),
            types.len()
        ));
        return object;
    }

    // #close, the last line.
    let last = lines[lines.len() - 1];
    let close = last.strip_prefix("#close\t").and_then(stamp);
    match (close, start) {
        (Some(close), Some(start)) if close == start + TimeDelta::hours(1) => {}
        _ => violations.push(format!(
            "the last line {last:?} is not #close at the hour's end"
        )),
    }

    // The rows.
    let hour_micros = start.map(|start| {
        let start = start.and_utc().timestamp_micros();
        (start, start + 3_600_000_000)
    });
    for (index, line) in lines[HEADER.len()..lines.len() - 1].iter().enumerate() {
        let at = HEADER.len() + index + 1;
        if line.starts_with('#') {
            violations.push(format!("line {at}: header line {line:?} among the rows"));
            continue;
        }
        if line.len() > MAX_LINE {
            violations.push(format!("line {at}: over RITA's 1 MiB line buffer"));
        }
        let values: Vec<&str> = line.split('\t').collect();
        if values.len() != fields.len() {
            violations.push(format!(
                "line {at}: {} fields, #fields has {}",
                values.len(),
                fields.len()
            ));
            continue;
        }
        let row: BTreeMap<String, String> = fields
            .iter()
            .cloned()
            .zip(values.iter().map(|v| v.to_string()))
            .collect();
        for ((field, kind), value) in fields.iter().zip(&types).zip(&values) {
            if let Err(problem) = check_value(field, kind, value, hour_micros) {
                violations.push(format!("line {at}: {field} {value:?}: {problem}"));
            }
        }
        for required in ["uid", "id.orig_h", "id.resp_h"] {
            if row.get(required).is_none_or(|v| v.is_empty() || v == "-") {
                violations.push(format!("line {at}: no {required}"));
            }
        }
        if log == "dns" && row.get("query").is_none_or(|q| q == "-" || q == "(empty)") {
            violations.push(format!("line {at}: a dns row without a query"));
        }
        object.rows.push(row);
    }
    object.log = log;
    object
}

/// One value against its Zeek type as RITA parses it, and espy's stricter rules.
fn check_value(
    field: &str,
    kind: &str,
    value: &str,
    hour: Option<(i64, i64)>,
) -> Result<(), String> {
    if value.is_empty() {
        return Err("an empty field (Zeek writes (empty))".into());
    }
    let unset = value == "-";
    match kind {
        "time" => {
            let (seconds, fraction) = value.split_once('.').ok_or("no decimal point")?;
            if fraction.len() != 6 || !is_digits(seconds) || !is_digits(fraction) {
                return Err("not seconds with six decimals".into());
            }
            let micros = seconds.parse::<i64>().map_err(|e| e.to_string())? * 1_000_000
                + fraction.parse::<i64>().map_err(|e| e.to_string())?;
            if let Some((start, end)) = hour
                && !(start..end).contains(&micros)
            {
                return Err("outside the object's hour".into());
            }
        }
        "port" if !unset => {
            value.parse::<u16>().map_err(|_| "not a port 0..65535")?;
        }
        "count" if !unset => {
            value.parse::<u64>().map_err(|_| "not a count")?;
        }
        "bool" if !matches!(value, "T" | "F" | "-") => return Err("not T, F or -".into()),
        "addr" => {
            value
                .parse::<IpAddr>()
                .map_err(|_| "does not parse as an address")?;
        }
        "interval" if !unset => {
            value.parse::<f64>().map_err(|_| "not an interval")?;
        }
        _ => {}
    }
    if field == "agent_uuid" {
        let parsed = uuid::Uuid::try_parse(value).map_err(|_| "not a UUID")?;
        if value.len() != 36 || parsed.is_nil() {
            return Err("not a hyphenated, non-nil UUID".into());
        }
    }
    Ok(())
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}
