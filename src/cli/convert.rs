//! `espy convert`: Winlogbeat/NXLog NDJSON files (plain or gzip) or stdin to a Zeek tree,
//! for backfill and for trying espy without Kafka.

use std::path::PathBuf;

/// Arguments of `espy convert`.
#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// NDJSON input files, plain or gzip; `-` or nothing reads standard input.
    pub inputs: Vec<PathBuf>,
    /// Root folder of the Zeek tree.
    #[arg(long, default_value = "./zeek-logs")]
    pub out: PathBuf,
}

/// Entry point of `espy convert`.
pub fn convert(args: ConvertArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("convert is not built yet")
}
