//! Throughput of the conversion path on real corpus documents, per core: parse only (the
//! baseline), parse and format, parse, format and gzip level 6 (what `run` and `convert`
//! do per event), and the skip path for documents that are not Sysmon network events.
//!
//! `cargo bench --bench convert` prints events/s; MB/s follows from the input sizes
//! printed first.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use espy::event::Detail;
use espy::input::{Decoded, decode};
use espy::zeek::{FormatSettings, Formatter, Hour, LogType, ObjectBuilder};

fn corpus_lines(names: &[&str]) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus");
    names
        .iter()
        .flat_map(|name| {
            let text = std::fs::read(root.join(name)).expect("corpus file");
            text.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Sysmon event 3 documents of both real shapes in the corpus.
fn connection_documents() -> Vec<Vec<u8>> {
    let reference = now();
    let all = corpus_lines(&[
        "nxlog/otrf_nxlog_metasploit_sharpdump_lsass_memory_dump_sysmon_net.ndjson",
        "nxlog/otrf_nxlog_metasploit_outflank-dumpert_lsass_memory_dump_sysmon_net.ndjson",
        "winlogbeat6/otrf_wlb6_empire_scm_dll_hijack_ikeext_sysmon_net.ndjson",
        "winlogbeat6/otrf_wlb6_empire_mimikatz_opth_sysmon_net.ndjson",
    ]);
    all.into_iter()
        .filter(|d| matches!(decode(d, reference), Decoded::Event(e) if matches!(e.detail, Detail::Connection(_))))
        .collect()
}

fn negative_documents() -> Vec<Vec<u8>> {
    corpus_lines(&[
        "nxlog/otrf_nxlog_negatives.ndjson",
        "winlogbeat6/otrf_wlb6_negatives.ndjson",
        "nxlog/otrf_nxlog_security_wfp_5156_etc.ndjson",
        "winlogbeat6/otrf_wlb6_security_wfp_5156_etc.ndjson",
    ])
}

fn report_sizes(name: &str, documents: &[Vec<u8>]) {
    let bytes: usize = documents.iter().map(Vec::len).sum();
    eprintln!(
        "{name}: {} documents, {:.0} bytes on average",
        documents.len(),
        bytes as f64 / documents.len() as f64
    );
}

fn connections(c: &mut Criterion) {
    let documents = connection_documents();
    report_sizes("sysmon 3", &documents);
    let formatter = Formatter::new(FormatSettings::default()).expect("settings");
    let reference = now();
    let mut group = c.benchmark_group("sysmon3");
    group.throughput(Throughput::Elements(documents.len() as u64));

    group.bench_function("parse", |b| {
        b.iter(|| {
            for document in &documents {
                black_box(decode(document, reference));
            }
        })
    });
    group.bench_function("parse_format", |b| {
        let mut rows = Vec::with_capacity(1 << 20);
        b.iter(|| {
            rows.clear();
            for document in &documents {
                if let Decoded::Event(event) = decode(document, reference) {
                    formatter.append_rows(&event, &mut rows);
                }
            }
            black_box(rows.len())
        })
    });
    group.bench_function("parse_format_gzip", |b| {
        let mut rows = Vec::with_capacity(4096);
        b.iter(|| {
            let mut object = ObjectBuilder::new(LogType::Conn, Hour(0));
            for document in &documents {
                if let Decoded::Event(event) = decode(document, reference) {
                    rows.clear();
                    let count = formatter.append_rows(&event, &mut rows);
                    object.append(&rows);
                    black_box(count);
                }
            }
            black_box(object.finish().len())
        })
    });
    group.finish();
}

fn skips(c: &mut Criterion) {
    let documents = negative_documents();
    report_sizes("negatives", &documents);
    let reference = now();
    let mut group = c.benchmark_group("negatives");
    group.throughput(Throughput::Elements(documents.len() as u64));
    group.bench_function("skip", |b| {
        b.iter(|| {
            for document in &documents {
                black_box(decode(document, reference));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, connections, skips);
criterion_main!(benches);
