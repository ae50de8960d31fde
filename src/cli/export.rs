//! `espy export`: copies a time range of Zeek objects from the store into a local Zeek
//! tree, since RITA reads only local disk.

use std::path::PathBuf;

/// Arguments of `espy export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Local folder to copy into.
    #[arg(long)]
    pub to: PathBuf,
}

/// Entry point of `espy export`.
pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("export is not built yet")
}
