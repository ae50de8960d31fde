//! `espy replay`: publishes NDJSON documents to Kafka keyed as Winlogbeat keys them, for
//! quick starts and load tests.

use std::path::PathBuf;

/// Arguments of `espy replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// NDJSON input file, plain or gzip.
    pub input: PathBuf,
    /// Topic to publish to.
    #[arg(long)]
    pub topic: String,
}

/// Entry point of `espy replay`.
pub async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("replay is not built yet")
}
