//! `espy export`: copies the Zeek objects of a time range from the store (a folder or S3)
//! into a local Zeek tree with the same layout, since RITA reads only local disk.
//!
//! It lists one day folder at a time (`range`), copies atomically (`copy`) and is
//! idempotent: a second run copies nothing. espy's bookkeeping under `_espy/` and anything
//! that is not a Zeek object name is never copied.

mod copy;
mod range;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::StreamExt;

use self::copy::Copied;
use self::range::ZeekObject;
use crate::config::{Config, OutputConfig};
use crate::store::{ObjectEntry, Store};

use self::range::parse_time;

/// Objects copied at once: enough to hide S3 round trips, few enough for a laptop's disk.
const PARALLEL_COPIES: usize = 8;

/// Arguments of `espy export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The store to read: a folder or `s3://bucket/prefix`. Default: `[output] root` of
    /// the configuration.
    #[arg(long)]
    pub from: Option<String>,
    /// Local folder to copy into; created if missing.
    #[arg(long)]
    pub to: PathBuf,
    /// Start of the range, inclusive: a day (`2024-05-01`), an hour (`2024-05-01T13`) or
    /// RFC 3339; UTC unless it names a zone. Every hour that overlaps the range is copied.
    #[arg(long, value_parser = parse_time)]
    pub since: DateTime<Utc>,
    /// End of the range, exclusive, in the same forms. Default: now.
    #[arg(long, value_parser = parse_time)]
    pub until: Option<DateTime<Utc>>,
    /// espy configuration whose `[output]` (root and `[output.s3]`) to read from;
    /// `ESPY_OUTPUT__*` variables override it as they do for `run`. S3 credentials left
    /// out of it come from the standard `AWS_*` variables.
    #[arg(long, env = "ESPY_CONFIG")]
    pub config: Option<PathBuf>,
    /// S3 endpoint for non-AWS stores; overrides `[output.s3] endpoint`.
    #[arg(long)]
    pub s3_endpoint: Option<String>,
    /// S3 region; overrides `[output.s3] region`.
    #[arg(long)]
    pub s3_region: Option<String>,
    /// Allow a plain-HTTP S3 endpoint; overrides `[output.s3] allow_http`.
    #[arg(long)]
    pub s3_allow_http: bool,
}

impl ExportArgs {
    /// The store settings: the configuration's `[output]`, then the flags.
    fn output(&self) -> anyhow::Result<OutputConfig> {
        let mut output = Config::load(self.config.as_deref())
            .with_context(|| match &self.config {
                Some(path) => format!("loading {}", path.display()),
                None => "loading configuration from defaults and ESPY_* variables".into(),
            })?
            .output;
        if let Some(from) = &self.from {
            output.root = from.clone();
        }
        if let Some(endpoint) = &self.s3_endpoint {
            output.s3.endpoint = Some(endpoint.clone());
        }
        if let Some(region) = &self.s3_region {
            output.s3.region = Some(region.clone());
        }
        output.s3.allow_http |= self.s3_allow_http;
        Ok(output)
    }
}

/// What an export did, printed at the end.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Objects written, including replaced ones.
    pub copied: u64,
    /// Of `copied`, those that replaced a file of another size.
    pub replaced: u64,
    /// Objects already present with the same size.
    pub skipped: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Objects that could not be copied.
    pub failed: u64,
}

/// Entry point of `espy export`.
pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let output = args.output()?;
    let until = args.until.unwrap_or_else(Utc::now);
    if args.since >= until {
        anyhow::bail!("--since {} is not before --until {until}", args.since);
    }
    // Opening a folder store creates it; a mistyped source must fail instead.
    if !output.root.starts_with("s3://") && !Path::new(&output.root).is_dir() {
        anyhow::bail!("the store folder {} does not exist", output.root);
    }
    let store = Store::open(&output)?;
    // Created even when the range holds nothing, so a scheduled import finds its folder.
    std::fs::create_dir_all(&args.to).with_context(|| format!("creating {}", args.to.display()))?;
    let started = Instant::now();

    let objects = select(&store, args.since, until).await?;
    tracing::info!(
        from = store.root(),
        to = %args.to.display(),
        since = %args.since,
        until = %until,
        objects = objects.len(),
        "export started"
    );
    let (summary, first_error) = copy_all(&store, objects, &args.to).await;
    tracing::info!(
        copied = summary.copied,
        replaced = summary.replaced,
        skipped = summary.skipped,
        failed = summary.failed,
        bytes = summary.bytes,
        seconds = started.elapsed().as_secs_f64(),
        "export finished"
    );
    print_summary(&summary, &args.to)?;

    match first_error {
        Some(error) => Err(anyhow::anyhow!(
            "{} of {} objects were not copied; the first: {error}",
            summary.failed,
            summary.failed + summary.copied + summary.skipped
        )),
        None => Ok(()),
    }
}

/// The Zeek objects of `[since, until)`, listing only the day folders the range touches.
async fn select(
    store: &Store,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> anyhow::Result<Vec<(ZeekObject, ObjectEntry)>> {
    let mut objects = Vec::new();
    for day in range::days(since, until) {
        let folder = range::day_folder(day);
        for entry in store.list_entries(&folder).await? {
            match ZeekObject::parse(&entry.path) {
                Some(object) if object.overlaps(since, until) => objects.push((object, entry)),
                Some(_) => {}
                None => tracing::debug!(path = %entry.path, "not a Zeek object name; left out"),
            }
        }
    }
    Ok(objects)
}

/// Copies every object, a few at a time; failures are counted and the first is returned,
/// so one bad object does not hold back the rest.
async fn copy_all(
    store: &Store,
    objects: Vec<(ZeekObject, ObjectEntry)>,
    to: &Path,
) -> (Summary, Option<copy::CopyError>) {
    let mut summary = Summary::default();
    let mut first_error = None;
    let mut copies = futures::stream::iter(objects)
        .map(|(object, entry)| async move {
            let destination = to.join(&object.day).join(&object.file);
            let outcome = copy::copy_object(store, &entry, &destination).await;
            (entry, outcome)
        })
        .buffer_unordered(PARALLEL_COPIES);
    while let Some((entry, outcome)) = copies.next().await {
        match outcome {
            Ok(Copied::Present) => summary.skipped += 1,
            Ok(written) => {
                summary.copied += 1;
                summary.replaced += u64::from(written == Copied::Replaced);
                summary.bytes += entry.size;
                tracing::debug!(path = %entry.path, size = entry.size, "object copied");
            }
            Err(error) => {
                summary.failed += 1;
                tracing::error!(path = %entry.path, error = %error, "object not copied");
                first_error.get_or_insert(error);
            }
        }
    }
    (summary, first_error)
}

fn print_summary(summary: &Summary, to: &Path) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let result: io::Result<()> = (|| {
        writeln!(
            out,
            "objects copied:  {} ({} replaced a file of another size) into {}",
            summary.copied,
            summary.replaced,
            to.display()
        )?;
        writeln!(
            out,
            "objects skipped: {} (already present)",
            summary.skipped
        )?;
        writeln!(out, "bytes copied:    {}", summary.bytes)?;
        if summary.failed > 0 {
            writeln!(out, "objects failed:  {}", summary.failed)?;
        }
        Ok(())
    })();
    // A closed pipe (`espy export ... | head`) is a normal end, not an error.
    match result {
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
