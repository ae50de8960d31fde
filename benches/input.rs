//! Throughput of `input::decode` alone, per core, on real corpus documents: Sysmon event 3
//! and 22 (parse and extract), and documents that are not network events (the skip path:
//! byte scan, or parse when the scan cannot decide). A plain serde_json validation pass
//! over the same documents is the yardstick.
//!
//! `cargo bench --bench input` prints documents/s ("elem/s").

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use espy::event::Detail;
use espy::input::{Decoded, decode};

#[path = "corpus.rs"]
mod corpus;

use corpus::{REFERENCE, corpus_lines};

fn network(kind: u32) -> Vec<Vec<u8>> {
    corpus_lines(|name| name.contains("_sysmon_net"))
        .into_iter()
        .filter(|d| match decode(d, REFERENCE) {
            Decoded::Event(event) => match event.detail {
                Detail::Connection(_) => kind == 3,
                Detail::Dns(_) => kind == 22,
            },
            _ => false,
        })
        .collect()
}

fn negatives() -> Vec<Vec<u8>> {
    corpus_lines(|name| !name.contains("_sysmon_net"))
}

fn report(name: &str, documents: &[Vec<u8>]) {
    let bytes: usize = documents.iter().map(Vec::len).sum();
    eprintln!(
        "{name}: {} documents, {:.0} bytes on average",
        documents.len(),
        bytes as f64 / documents.len().max(1) as f64
    );
}

fn bench_set(c: &mut Criterion, name: &str, documents: &[Vec<u8>]) {
    report(name, documents);
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(documents.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| {
            for document in documents {
                black_box(decode(document, REFERENCE));
            }
        })
    });
    group.bench_function("serde_json_validate", |b| {
        b.iter(|| {
            for document in documents {
                black_box(serde_json::from_slice::<serde::de::IgnoredAny>(document).is_ok());
            }
        })
    });
    group.finish();
}

fn inputs(c: &mut Criterion) {
    bench_set(c, "sysmon3", &network(3));
    bench_set(c, "sysmon22", &network(22));
    let all = negatives();
    let (sysmon, other): (Vec<_>, Vec<_>) = all
        .iter()
        .cloned()
        .partition(|d| d.windows(26).any(|w| w == b"\"Microsoft-Windows-Sysmon\""));
    bench_set(c, "negatives", &all);
    bench_set(c, "negatives_sysmon_other_ids", &sysmon);
    bench_set(c, "negatives_not_sysmon", &other);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = inputs
}
criterion_main!(benches);
