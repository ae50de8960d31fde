//! Throughput of the conversion path per core, on the real corpus: for Sysmon event 3
//! documents, (a) parse only (`input::decode`, the baseline), (b) parse and format the row,
//! (c) the whole convert path without I/O (parse, format, and gzip level 6 through
//! `HourBuckets`, objects finished); and (d) the skip path on documents that are not Sysmon
//! network events.
//!
//! `cargo bench --bench convert` prints documents/s and input MiB/s for each.

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use espy::buckets::HourBuckets;
use espy::event::Detail;
use espy::input::{Decoded, decode};
use espy::zeek::{FormatSettings, Formatter, Hour, LogType};

#[path = "corpus.rs"]
mod corpus;

use corpus::{REFERENCE, corpus_lines};

/// Every Sysmon event 3 document of the corpus (Winlogbeat 6 and NXLog).
fn connection_documents() -> Vec<Vec<u8>> {
    corpus_lines(|name| name.contains("_sysmon_net"))
        .into_iter()
        .filter(|d| {
            matches!(decode(d, REFERENCE),
                Decoded::Event(e) if matches!(e.detail, Detail::Connection(_)))
        })
        .collect()
}

/// Every document of the corpus that is not a Sysmon network event: other Windows events,
/// other Sysmon events, and Security firewall-platform events.
fn negative_documents() -> Vec<Vec<u8>> {
    let documents = corpus_lines(|name| !name.contains("_sysmon_net"));
    assert!(
        documents
            .iter()
            .all(|d| matches!(decode(d, REFERENCE), Decoded::Skipped(_))),
        "a negative document is not skipped"
    );
    documents
}

/// A group reporting documents/s and input bytes/s.
fn group<'c>(
    c: &'c mut Criterion,
    name: &str,
    documents: &[Vec<u8>],
) -> BenchmarkGroup<'c, WallTime> {
    let bytes: usize = documents.iter().map(Vec::len).sum();
    eprintln!(
        "{name}: {} documents, {:.0} bytes on average",
        documents.len(),
        bytes as f64 / documents.len() as f64
    );
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::ElementsAndBytes {
        elements: documents.len() as u64,
        bytes: bytes as u64,
    });
    group
}

fn connections(c: &mut Criterion) {
    let documents = connection_documents();
    let formatter = Formatter::new(FormatSettings::default()).expect("settings");
    let mut group = group(c, "sysmon3", &documents);

    group.bench_function("a_parse", |b| {
        b.iter(|| {
            for document in &documents {
                black_box(decode(document, REFERENCE));
            }
        })
    });
    group.bench_function("b_parse_format", |b| {
        let mut rows = Vec::with_capacity(4096);
        b.iter(|| {
            for document in &documents {
                if let Decoded::Event(event) = decode(document, REFERENCE) {
                    rows.clear();
                    formatter.append_rows(&event, &mut rows);
                    black_box(&rows);
                }
            }
        })
    });
    group.bench_function("c_parse_format_gzip6_buckets", |b| {
        let mut rows = Vec::with_capacity(4096);
        b.iter(|| {
            let mut buckets = HourBuckets::default();
            for document in &documents {
                if let Decoded::Event(event) = decode(document, REFERENCE) {
                    rows.clear();
                    let count = formatter.append_rows(&event, &mut rows);
                    buckets.append(LogType::of(&event), Hour::of(event.time), &rows, count);
                }
            }
            black_box(buckets.finish("bench"))
        })
    });
    group.finish();
}

fn skips(c: &mut Criterion) {
    let documents = negative_documents();
    let mut group = group(c, "negatives", &documents);
    group.bench_function("d_skip", |b| {
        b.iter(|| {
            for document in &documents {
                black_box(decode(document, REFERENCE));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, connections, skips);
criterion_main!(benches);
