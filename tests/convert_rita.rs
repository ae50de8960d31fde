//! The tree `espy convert` writes from the corpus and the fixtures is one RITA v5 imports
//! whole, checked by `support::rita_rules` (RITA's rules as read from its source, cited
//! there) rather than by running RITA; and the reader itself refuses what RITA would.

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::convert::{Conversion, convert, corpus_files, dns_events, non_empty_lines};
use support::rita_rules::{check_tree, rita_hour};
use support::zeek_logs::{objects, rows};

/// The corpus and every hand-written fixture: all shapes, rejects included.
fn all_test_files() -> Vec<PathBuf> {
    let mut files = corpus_files();
    let fixtures = support::repo_path("tests/data/fixtures");
    let mut extra: Vec<PathBuf> = std::fs::read_dir(fixtures)
        .expect("fixtures")
        .map(|entry| entry.expect("fixture").path())
        .filter(|path| path.extension().is_some_and(|e| e == "ndjson"))
        .collect();
    extra.sort();
    files.extend(extra);
    files
}

fn converted() -> Conversion {
    convert(&all_test_files(), &[])
}

#[test]
fn every_object_of_the_converted_corpus_meets_ritas_import_rules() {
    let conversion = converted();
    let report = check_tree(&conversion.root());
    assert!(
        report.violations.is_empty(),
        "{} violations:\n{}",
        report.violations.len(),
        report.violations.join("\n")
    );
    // The reader saw what the tree holds.
    assert_eq!(report.objects.len(), objects(&conversion.root()).len());
    assert_eq!(report.objects.len() as u64, conversion.summary.objects);
    let tree = rows(&conversion.root());
    for log in ["conn", "dns"] {
        let written = tree.iter().filter(|row| row.log == log).count();
        assert!(written > 0, "no {log} rows");
        assert_eq!(report.rows(log).count(), written, "{log}");
        assert_eq!(conversion.summary.rows.part(log), written as u64, "{log}");
    }
}

/// The query name of an event 22 document, from a plain reading of the JSON.
fn query_name(document: &Value) -> Option<&str> {
    let winlog = document.get("winlog");
    let data = document
        .get("event_data")
        .or_else(|| winlog?.get("event_data"))
        .unwrap_or(document);
    data.get("QueryName")
        .or_else(|| document.get("dns")?.get("question")?.get("name"))
        .and_then(Value::as_str)
}

#[test]
fn dns_names_without_a_dot_are_written_and_counted() {
    let conversion = converted();
    let tree = rows(&conversion.root());
    let dotless: Vec<_> = tree
        .iter()
        .filter(|row| row.log == "dns" && !row.fields["query"].contains('.'))
        .collect();
    assert!(!dotless.is_empty(), "no single-label query in the output");
    assert_eq!(
        conversion.summary.single_label_queries,
        dns_events(&dotless),
        "{}",
        conversion.stdout
    );

    // The same number from the documents themselves.
    let mut documents = 0;
    for path in all_test_files() {
        for line in non_empty_lines(&path) {
            let Ok(document) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            if query_name(&document).is_some_and(|name| !name.contains('.')) {
                documents += 1;
            }
        }
    }
    assert_eq!(conversion.summary.single_label_queries, documents);
}

#[test]
fn rita_reads_the_hour_from_the_first_letters_dot_hour_in_the_name() {
    for (name, hour) in [
        (
            "2019-12-05/conn.04:00:00-05:00:00-convert-1f.s0000.log.gz",
            4,
        ),
        (
            "2019-12-05/dns.23:00:00-00:00:00-winlogbeat.p0003.o000000000812.log.gz",
            23,
        ),
        (
            "2019-12-05/conn.00:00:00-01:00:00-winlogbeat.p0000.o000000000000.log.gz",
            0,
        ),
    ] {
        assert_eq!(rita_hour(name), Some(hour), "{name}");
    }
    assert_eq!(rita_hour("2019-12-05/conn.log.gz"), None);
}

/// A change to an object's text.
type Edit = Box<dyn FnOnce(String) -> String>;

/// A copy of one object of `source` under `root`, its text changed by `edit`, named `name`.
fn broken_copy(source: &Path, root: &Path, name: &str, edit: impl FnOnce(String) -> String) {
    let mut text = String::new();
    let file = std::fs::File::open(source).expect("object");
    flate2::read::MultiGzDecoder::new(file)
        .read_to_string(&mut text)
        .expect("gunzip");
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().expect("folder")).expect("mkdir");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).expect("create"),
        flate2::Compression::default(),
    );
    encoder.write_all(edit(text).as_bytes()).expect("gzip");
    encoder.finish().expect("finish gzip");
}

#[test]
fn the_reader_refuses_what_rita_would_not_import() {
    let conversion = convert(&corpus_files(), &[]);
    let source = objects(&conversion.root())
        .into_iter()
        .find(|path| {
            path.to_string_lossy()
                .contains("2019-12-05/conn.04:00:00-05:00:00")
        })
        .expect("the 2019-12-05 04:00 conn object");
    let name = source
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let other_hour = name.replace("04:00:00-05:00:00", "05:00:00-06:00:00");
    let dir = tempfile::tempdir().expect("temp dir");

    let cases: [(&str, String, Edit); 7] = [
        // One type fewer than fields.
        (
            "#types",
            format!("types/{name}"),
            Box::new(|text| text.replacen("\tbool\n", "\n", 1)),
        ),
        // A header line between #types and the rows.
        (
            "among the rows",
            format!("extra/{name}"),
            Box::new(|text| {
                let at = text.find("\n1575").expect("a row") + 1;
                format!("{}#extra\tx\n{}", &text[..at], &text[at..])
            }),
        ),
        // A port out of range.
        (
            "not a port",
            format!("port/{name}"),
            Box::new(|text| text.replacen("\t53\t", "\t70000\t", 1)),
        ),
        // The name says 05:00 while #open and the rows say 04:00.
        ("#open", format!("hour/{other_hour}"), Box::new(|text| text)),
        // No #close.
        (
            "#close",
            format!("close/{name}"),
            Box::new(|text| {
                let at = text.rfind("#close").expect("#close");
                text[..at].to_owned()
            }),
        ),
        // An address that does not parse.
        (
            "address",
            format!("addr/{name}"),
            Box::new(|text| text.replacen("\t172.18.39.5\t", "\t172.18.39.500\t", 1)),
        ),
        // A row cut short.
        (
            "fields, #fields has",
            format!("cut/{name}"),
            Box::new(|text| {
                let start = text.find("\n1575").expect("a row") + 1;
                let end = start + text[start..].find('\n').expect("row end");
                let row = &text[start..end];
                let cut = row.rsplitn(3, '\t').last().expect("columns");
                format!("{}{cut}{}", &text[..start], &text[end..])
            }),
        ),
    ];
    for (rule, folder_and_name, edit) in cases {
        let root = dir.path().join(rule.replace(['#', ' ', ','], "_"));
        // Objects in a day folder, as in a real tree.
        let (folder, file) = folder_and_name.split_once('/').expect("folder");
        broken_copy(&source, &root, &format!("2019-12-05/{file}"), edit);
        let report = check_tree(&root);
        assert!(
            report.violations.iter().any(|v| v.contains(rule)),
            "{folder}: no violation naming {rule:?}: {:?}",
            report.violations
        );
    }
}
