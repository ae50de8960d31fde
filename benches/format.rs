//! Cost of the formatting half of conversion, per core, on events built in place (no
//! parsing): one conn row, one DNS event's rows, and whole gzip objects of 100k conn rows,
//! against a plain `GzEncoder` per 128 KiB chunk for comparison.
//!
//! `cargo bench --bench format` prints events/s and rows/s.

use std::borrow::Cow;
use std::hint::black_box;
use std::io::Write;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use espy::event::{Agent, Connection, Detail, DnsAnswer, DnsQuery, Endpoint, Process, Shape};
use espy::event::{SysmonEvent, Transport};
use espy::zeek::{FormatSettings, Formatter, Hour, LogType, MEMBER_BYTES, ObjectBuilder};

const TIME: i64 = 1_575_520_060_123_000;

/// A workstation's outbound HTTPS connection, as Winlogbeat 8 ships it.
fn connection(port: u16, time: i64) -> SysmonEvent<'static> {
    SysmonEvent {
        shape: Shape::Winlogbeat8,
        time,
        computer_name: Cow::Borrowed("WORKSTATION5.theshire.local"),
        agent: Agent {
            id: Some(Cow::Borrowed("0a8e3c5e-56a4-4a6b-9bd7-3f1d2e4c5b6a")),
            hostname: Some(Cow::Borrowed("WORKSTATION5")),
        },
        host_ips: Vec::new(),
        process: Process {
            image: Some(Cow::Borrowed(
                "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
            )),
            user: Some(Cow::Borrowed("THESHIRE\\pgustavo")),
            pid: Some(6872),
            guid: Some(Cow::Borrowed("{5770385f-c22a-43e0-bf4c-06f5698ffbd9}")),
        },
        detail: Detail::Connection(Connection {
            source: Endpoint {
                ip: "172.18.39.106".parse().unwrap(),
                port,
            },
            destination: Endpoint {
                ip: "13.107.42.14".parse().unwrap(),
                port: 443,
            },
            transport: Transport::Tcp,
            initiated: true,
            port_name: Some(Cow::Borrowed("https")),
        }),
    }
}

/// A resolved name with a CNAME, from a host with an IPv4 and an IPv6 address.
fn dns() -> SysmonEvent<'static> {
    let mut event = connection(50000, TIME);
    event.host_ips = vec![
        "172.18.39.106".parse().unwrap(),
        "2001:db8::106".parse().unwrap(),
    ];
    event.detail = Detail::Dns(DnsQuery {
        name: Cow::Borrowed("www.example.com"),
        status: Some(0),
        answers: vec![
            DnsAnswer::Text(Cow::Borrowed("www.example.com-v4.edgesuite.net")),
            DnsAnswer::Address("93.184.216.34".parse().unwrap()),
        ],
    });
    event
}

fn rows(c: &mut Criterion) {
    let formatter = Formatter::new(FormatSettings::default()).unwrap();
    let mut group = c.benchmark_group("append_rows");
    group.throughput(Throughput::Elements(1));

    let event = connection(49730, TIME);
    let mut out = Vec::with_capacity(4096);
    group.bench_function("conn", |b| {
        b.iter(|| {
            out.clear();
            black_box(formatter.append_rows(black_box(&event), &mut out));
        })
    });

    let event = dns();
    group.bench_function("dns_two_host_addresses", |b| {
        b.iter(|| {
            out.clear();
            black_box(formatter.append_rows(black_box(&event), &mut out));
        })
    });
    group.finish();
}

/// 100k conn rows of one hour, ports and times varying as a busy host's do.
fn hour_of_rows() -> Vec<Vec<u8>> {
    let formatter = Formatter::new(FormatSettings::default()).unwrap();
    (0..100_000u32)
        .map(|i| {
            let mut out = Vec::new();
            let event = connection(49152 + (i % 16_000) as u16, TIME + i64::from(i) * 35_000);
            formatter.append_rows(&event, &mut out);
            out
        })
        .collect()
}

fn objects(c: &mut Criterion) {
    let rows = hour_of_rows();
    let text: Vec<u8> = rows.concat();
    let hour = Hour::of(TIME);
    eprintln!(
        "100k conn rows: {} bytes, {:.0} bytes a row",
        text.len(),
        text.len() as f64 / rows.len() as f64
    );
    let mut builder = ObjectBuilder::new(LogType::Conn, hour);
    for row in &rows {
        builder.append(row);
    }
    let size = builder.finish().len();
    eprintln!(
        "object: {size} bytes ({:.1}x)",
        text.len() as f64 / size as f64
    );

    let mut group = c.benchmark_group("object_100k_conn_rows");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rows.len() as u64));
    group.bench_function("object_builder", |b| {
        b.iter(|| {
            let mut builder = ObjectBuilder::new(LogType::Conn, hour);
            for row in &rows {
                builder.append(row);
            }
            black_box(builder.finish())
        })
    });
    group.bench_function("gz_encoder_per_chunk", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            for chunk in text.chunks(MEMBER_BYTES) {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
                encoder.write_all(chunk).unwrap();
                out.extend_from_slice(&encoder.finish().unwrap());
            }
            black_box(out)
        })
    });
    group.finish();
}

criterion_group!(benches, rows, objects);
criterion_main!(benches);
