//! Hostile values through `espy convert`, end to end: real corpus documents with the computer
//! name, `Image`, `User`, the DNS query and an answer replaced by values that would forge a
//! column, a line or a placeholder if written raw. Every line of every object keeps its column
//! count, no line is forged, and each value comes back unchanged through Zeek's unescaping.
//!
//! JSON strings cannot carry invalid UTF-8, so byte-level escapes are covered in
//! `src/zeek/escape.rs`; control characters (`\u0000`) and Unicode line separators can, and
//! are here.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use espy::zeek::escape::{unescape, unescape_elements};
use serde_json::Value;
use support::convert::{Conversion, convert, non_empty_lines};
use support::zeek_logs::{objects, read_object};

const WLB6: &str = "tests/data/corpus/winlogbeat6/otrf_wlb6_empire_enable_rdp_sysmon_net.ndjson";
const NXLOG_B_DNS: &str = "tests/data/corpus/nxlog/otrf_nxlog_cmd_wevtutil_modify_security_eventlog_path_sysmon_net.ndjson";

/// Values that must never reach a log as they are.
const HOSTILE: [&str; 17] = [
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "back\\slash",
    "\\x41 looks escaped",
    "-",
    "(empty)",
    "nul\u{0}byte",
    "\u{1b}[31mred",
    "del\u{7f}",
    "next\u{85}line",
    "line\u{2028}separator",
    "invoice\u{202e}txt.exe",
    "comma,separated",
    "#close\t2019-05-07-12-00-00",
    "x\n1557229805.128000\tCforgedforgedforg\t10.0.0.1",
    " padded ",
];

fn corpus_line(path: &str, number: usize) -> Value {
    let line = &non_empty_lines(&support::repo_path(path))[number - 1];
    serde_json::from_slice(line).expect("corpus JSON")
}

/// Writes the documents as NDJSON and converts them; `extra` are convert's flags.
fn convert_documents(documents: &[Value], extra: &[&str]) -> Conversion {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("hostile.ndjson");
    let text: Vec<String> = documents.iter().map(Value::to_string).collect();
    std::fs::write(&input, text.join("\n") + "\n").expect("write input");
    let conversion = convert(&[input], extra);
    assert_eq!(
        conversion.summary.rejected.total, 0,
        "{}",
        conversion.stdout
    );
    conversion
}

/// Every data row of the tree by its columns, checking on the way that every line of every
/// object is a header line, `#close` last, or a row exactly as wide as `#fields`.
fn checked_rows(root: &Path) -> Vec<BTreeMap<String, String>> {
    let mut rows = Vec::new();
    for object in objects(root) {
        let text = read_object(&object);
        let lines: Vec<&str> = text.lines().collect();
        let fields: Vec<&str> = lines
            .iter()
            .find_map(|line| line.strip_prefix("#fields\t"))
            .expect("#fields")
            .split('\t')
            .collect();
        assert!(lines.last().expect("lines").starts_with("#close\t"));
        let headers = lines.iter().filter(|line| line.starts_with('#')).count();
        assert_eq!(headers, 9, "{}: header lines", object.display());
        for line in lines.iter().filter(|line| !line.starts_with('#')) {
            let values: Vec<&str> = line.split('\t').collect();
            assert_eq!(values.len(), fields.len(), "{line:?}");
            rows.push(
                fields
                    .iter()
                    .map(|f| f.to_string())
                    .zip(values.iter().map(|v| v.to_string()))
                    .collect(),
            );
        }
    }
    rows
}

fn unescaped(value: &str) -> String {
    let bytes = unescape(value.as_bytes()).unwrap_or_else(|| panic!("{value:?} is unset"));
    String::from_utf8(bytes).expect("UTF-8 after unescaping")
}

/// One Winlogbeat 6 connection per hostile value, told apart by their source ports: the value
/// as the computer name's first label, as the `Image` and as the `User`.
fn hostile_connections() -> Vec<Value> {
    let document = corpus_line(WLB6, 4);
    HOSTILE
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let mut copy = document.clone();
            copy["computer_name"] = format!("{value}.shire.com").into();
            copy["event_data"]["Image"] = (*value).into();
            copy["event_data"]["User"] = format!("SHIRE\\{value}").into();
            copy["event_data"]["SourcePort"] = (40000 + i).to_string().into();
            copy
        })
        .collect()
}

#[test]
fn hostile_host_process_and_user_values_keep_every_line_whole_and_round_trip() {
    let conversion = convert_documents(&hostile_connections(), &[]);
    let rows = checked_rows(&conversion.root());
    assert_eq!(
        rows.len(),
        HOSTILE.len(),
        "one row per document, none forged"
    );
    for row in rows {
        let port: usize = row["id.orig_p"].parse().expect("a port");
        let value = HOSTILE[port - 40000];
        // agent_hostname is the computer name's first label: up to its first dot.
        let first_label = value.split('.').next().expect("a label");
        assert_eq!(unescaped(&row["agent_hostname"]), first_label, "{row:?}");
        // Newer Sysmon writes `-` for a field it has no value for, so an `Image` of `-` is
        // no process; any other value is the process.
        let process = unescape(row["process"].as_bytes()).map(|b| String::from_utf8(b).unwrap());
        let expected = (value != "-").then(|| value.to_owned());
        assert_eq!(process, expected, "{row:?}");
        assert_eq!(
            unescaped(&row["user"]),
            format!("SHIRE\\{value}"),
            "{row:?}"
        );
        // A placeholder-looking value is never written as the placeholder.
        assert!(
            row["agent_hostname"] != "-" && row["agent_hostname"] != "(empty)",
            "{row:?}"
        );
    }
}

#[test]
fn a_full_hostile_computer_name_round_trips_when_full_names_are_kept() {
    let conversion = convert_documents(&hostile_connections(), &["--full-hostname"]);
    let rows = checked_rows(&conversion.root());
    assert_eq!(rows.len(), HOSTILE.len());
    for row in rows {
        let port: usize = row["id.orig_p"].parse().expect("a port");
        let value = HOSTILE[port - 40000];
        assert_eq!(
            unescaped(&row["agent_hostname"]),
            format!("{value}.shire.com")
        );
    }
}

#[test]
fn hostile_query_names_and_answers_round_trip_in_dns_rows() {
    let document = corpus_line(NXLOG_B_DNS, 1);
    let documents: Vec<Value> = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let mut copy = document.clone();
            copy["QueryName"] = format!("{value}.example.com").into();
            copy["QueryResults"] = format!("type:  5 {value};192.0.2.{};", i + 1).into();
            copy
        })
        .collect();
    let conversion = convert_documents(&documents, &[]);
    let rows = checked_rows(&conversion.root());
    assert_eq!(
        rows.len(),
        HOSTILE.len(),
        "one row per document, none forged"
    );
    let mut seen = 0;
    for row in rows {
        let answers = unescape_elements(row["answers"].as_bytes()).expect("answers");
        let address = String::from_utf8(answers[1].clone()).expect("UTF-8");
        let index: usize = address
            .strip_prefix("192.0.2.")
            .and_then(|n| n.parse().ok())
            .expect("the address answer");
        let value = HOSTILE[index - 1];
        assert_eq!(answers.len(), 2, "{row:?}");
        // QueryResults entries are trimmed, so the padded value loses its outer spaces.
        assert_eq!(
            String::from_utf8(answers[0].clone()).expect("UTF-8"),
            value.trim(),
            "{row:?}"
        );
        assert_eq!(
            unescaped(&row["query"]),
            format!("{value}.example.com"),
            "{row:?}"
        );
        seen += 1;
    }
    assert_eq!(seen, HOSTILE.len());
}
