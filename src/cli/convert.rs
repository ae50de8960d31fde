//! `espy convert`: Winlogbeat/NXLog NDJSON files (plain or gzip) or stdin to a Zeek tree,
//! for backfill and for trying espy without Kafka.
//!
//! It decodes and formats exactly as `run` does, so identical events get identical uids;
//! only the writer part of object names differs. Rejected documents go to a rejects file
//! with their reason, so nothing is lost.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use bytes::Bytes;
use flate2::read::MultiGzDecoder;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::buckets::HourBuckets;
use crate::config::OutputConfig;
use crate::event::{Detail, Micros};
use crate::input::{self, Decoded, Reject, RejectReason};
use crate::store::Store;
use crate::zeek::{FormatSettings, Formatter, LogType};

/// Arguments of `espy convert`.
#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// NDJSON input files, plain or gzip; `-` or nothing reads standard input.
    pub inputs: Vec<PathBuf>,
    /// Root folder of the Zeek tree.
    #[arg(long, default_value = "./zeek-logs")]
    pub out: PathBuf,
    /// Where rejected documents go, one JSON object per line with reason, source file,
    /// line number and the document. Default: `<out>/rejects.ndjson`.
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Replace objects that already exist with different content, instead of stopping.
    #[arg(long)]
    pub overwrite: bool,
    /// Write the full computer name in agent_hostname instead of its first label.
    #[arg(long)]
    pub full_hostname: bool,
    /// Compressed bytes to hold before writing a batch of objects; bounds memory on large
    /// backfills (each batch gets the next sequence number in its object names).
    #[arg(long, default_value_t = 256 << 20)]
    pub batch_bytes: usize,
    /// Documents over this many bytes are rejected as `oversize`, as `espy run` dead-letters
    /// messages over `kafka.max_message_bytes` (the same default), so that both make the
    /// same records from the same documents.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_document_bytes: usize,
}

/// What a conversion did, printed at the end.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub documents: u64,
    pub rows: BTreeMap<&'static str, u64>,
    pub events: BTreeMap<&'static str, u64>,
    pub skipped: BTreeMap<&'static str, u64>,
    pub rejected: BTreeMap<&'static str, u64>,
    pub single_label_queries: u64,
    pub objects: u64,
}

/// Entry point of `espy convert`.
pub fn convert(args: ConvertArgs) -> anyhow::Result<()> {
    let summary = run_conversion(&args)?;
    print_summary(&summary, &args)?;
    Ok(())
}

/// Converts every input and writes the tree; the summary counts what happened.
pub fn run_conversion(args: &ConvertArgs) -> anyhow::Result<Summary> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let output = OutputConfig {
        root: args.out.to_string_lossy().into_owned(),
        create_only: !args.overwrite,
        ..OutputConfig::default()
    };
    let store = Store::open(&output)?;
    let settings = FormatSettings {
        full_hostname: args.full_hostname,
        ..FormatSettings::default()
    };
    let formatter = Formatter::new(settings)?;
    let rejects_path = args
        .rejects
        .clone()
        .unwrap_or_else(|| args.out.join("rejects.ndjson"));
    let mut rejects = RejectsFile::new(rejects_path);
    let inputs = if args.inputs.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.inputs.clone()
    };
    let writer_prefix = writer_prefix(&inputs);
    // The wall clock at start bounds event times, as the Kafka timestamp does in `run`.
    let reference: Micros = chrono::Utc::now().timestamp_micros();

    let mut summary = Summary::default();
    let mut buckets = HourBuckets::default();
    let mut batch = 0u32;
    let mut rows = Vec::with_capacity(4096);
    let progress = progress_bar(&inputs);
    for path in &inputs {
        let mut reader = open_input(path, &progress)?;
        let source = path.display().to_string();
        let mut line = Vec::with_capacity(4096);
        let mut line_number = 0u64;
        loop {
            line.clear();
            if reader
                .read_until(b'\n', &mut line)
                .with_context(|| format!("reading {source}"))?
                == 0
            {
                break;
            }
            line_number += 1;
            let document = trim_line_end(&line);
            if document.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            summary.documents += 1;
            let decoded = if document.len() > args.max_document_bytes {
                Decoded::Rejected(Reject::new(
                    RejectReason::Oversize,
                    format!(
                        "document of {} bytes is over the {}-byte limit",
                        document.len(),
                        args.max_document_bytes
                    ),
                ))
            } else {
                input::decode(document, reference)
            };
            match decoded {
                Decoded::Event(event) => {
                    *summary.events.entry(event.shape.as_str()).or_default() += 1;
                    if let Detail::Dns(query) = &event.detail
                        && query.is_single_label()
                    {
                        summary.single_label_queries += 1;
                    }
                    rows.clear();
                    let count = formatter.append_rows(&event, &mut rows);
                    let log = LogType::of(&event);
                    *summary.rows.entry(log.as_str()).or_default() += count as u64;
                    buckets.append(log, crate::zeek::Hour::of(event.time), &rows, count);
                }
                Decoded::Skipped(skip) => *summary.skipped.entry(skip.as_str()).or_default() += 1,
                Decoded::Rejected(reject) => {
                    *summary.rejected.entry(reject.reason.as_str()).or_default() += 1;
                    rejects.write(&reject, &source, line_number, document)?;
                }
            }
            if buckets.compressed_len() >= args.batch_bytes {
                summary.objects += write_batch(
                    &runtime,
                    &store,
                    std::mem::take(&mut buckets),
                    &writer_prefix,
                    batch,
                )?;
                batch += 1;
            }
        }
    }
    progress.finish_and_clear();
    if !buckets.is_empty() {
        summary.objects += write_batch(&runtime, &store, buckets, &writer_prefix, batch)?;
    }
    rejects.finish()?;
    Ok(summary)
}

/// Writes one batch of objects; returns how many.
fn write_batch(
    runtime: &tokio::runtime::Runtime,
    store: &Store,
    buckets: HourBuckets,
    writer_prefix: &str,
    batch: u32,
) -> anyhow::Result<u64> {
    let objects = buckets.finish(&format!("{writer_prefix}.s{batch:04}"));
    let count = objects.len() as u64;
    runtime.block_on(async {
        for object in objects {
            store
                .put_object(&object.path, Bytes::from(object.bytes))
                .await?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(count)
}

/// The writer part of object names: a hash of the input names, so that converting the
/// same files again rewrites the same objects, and different inputs never collide.
fn writer_prefix(inputs: &[PathBuf]) -> String {
    use std::hash::Hasher;
    let mut hasher = siphasher::sip::SipHasher13::new();
    for input in inputs {
        hasher.write(input.to_string_lossy().as_bytes());
        hasher.write_u8(0);
    }
    format!("convert-{:016x}", hasher.finish())
}

/// A line without its `\n` or `\r\n` ending.
pub(crate) fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Opens a file or stdin, decompressing gzip (detected by its magic bytes).
pub(crate) fn open_input(path: &Path, progress: &ProgressBar) -> anyhow::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        Box::new(progress.wrap_read(file))
    };
    let mut buffered = BufReader::with_capacity(1 << 16, raw);
    let is_gzip = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if is_gzip {
        Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(buffered),
        ))
    } else {
        Box::new(buffered)
    })
}

/// A progress bar over the input bytes, shown only on a terminal.
fn progress_bar(inputs: &[PathBuf]) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let total: u64 = inputs
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|m| m.len())
        .sum();
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

/// The rejects file, created on the first reject.
struct RejectsFile {
    path: PathBuf,
    file: Option<io::BufWriter<File>>,
}

#[derive(Serialize)]
struct RejectLine<'a> {
    reason: &'static str,
    detail: &'a str,
    source: &'a str,
    line: u64,
    /// The document as text when it is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    document: Option<&'a str>,
    /// The document in base64 when it is not UTF-8, so no byte is lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    document_base64: Option<String>,
}

impl RejectsFile {
    fn new(path: PathBuf) -> RejectsFile {
        RejectsFile { path, file: None }
    }

    fn write(
        &mut self,
        reject: &Reject,
        source: &str,
        line: u64,
        document: &[u8],
    ) -> anyhow::Result<()> {
        let text = std::str::from_utf8(document).ok();
        let entry = RejectLine {
            reason: reject.reason.as_str(),
            detail: &reject.detail,
            source,
            line,
            document: text,
            document_base64: text
                .is_none()
                .then(|| base64::engine::general_purpose::STANDARD.encode(document)),
        };
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                if let Some(parent) = self.path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let file = File::create(&self.path)
                    .with_context(|| format!("creating {}", self.path.display()))?;
                self.file.insert(io::BufWriter::new(file))
            }
        };
        serde_json::to_writer(&mut *file, &entry)?;
        file.write_all(b"\n")?;
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        if let Some(mut file) = self.file {
            file.flush()
                .with_context(|| format!("writing {}", self.path.display()))?;
        }
        Ok(())
    }
}

fn print_summary(summary: &Summary, args: &ConvertArgs) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let list = |map: &BTreeMap<&str, u64>| {
        let total: u64 = map.values().sum();
        let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k} {v}")).collect();
        if parts.is_empty() {
            total.to_string()
        } else {
            format!("{total} ({})", parts.join(", "))
        }
    };
    let result: io::Result<()> = (|| {
        writeln!(out, "documents read:   {}", summary.documents)?;
        writeln!(out, "events converted: {}", list(&summary.events))?;
        writeln!(out, "rows written:     {}", list(&summary.rows))?;
        writeln!(out, "skipped:          {}", list(&summary.skipped))?;
        writeln!(out, "rejected:         {}", list(&summary.rejected))?;
        writeln!(
            out,
            "dns queries without a dot (RITA skips these): {}",
            summary.single_label_queries
        )?;
        writeln!(
            out,
            "objects written:  {} under {}",
            summary.objects,
            args.out.display()
        )?;
        if !summary.rejected.is_empty() {
            let rejects = args
                .rejects
                .clone()
                .unwrap_or_else(|| args.out.join("rejects.ndjson"));
            writeln!(out, "rejected documents: {}", rejects.display())?;
        }
        Ok(())
    })();
    // A closed pipe (`espy convert ... | head`) is a normal end, not an error.
    match result {
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
