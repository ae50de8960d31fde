//! The `espy` binary: parses arguments, dispatches to one function per subcommand, and maps
//! the outcome to an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use espy::cli::{convert, export, replay};

#[derive(Debug, Parser)]
#[command(version, about = "Sysmon network events from Kafka to Zeek logs for threat hunting")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the stream processor: consume Kafka, write hour objects, commit.
    Run {
        /// Configuration file; `ESPY_*` environment variables override it.
        #[arg(long, env = "ESPY_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Convert NDJSON files or stdin to a Zeek tree, without Kafka.
    Convert(convert::ConvertArgs),
    /// Publish NDJSON documents to a Kafka topic, keyed like Winlogbeat.
    Replay(replay::ReplayArgs),
    /// Copy Zeek objects for a time range from the store to a local folder.
    Export(export::ExportArgs),
    /// Load and validate a configuration, then print it with secrets hidden.
    CheckConfig {
        #[arg(long, env = "ESPY_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Convert(args) => convert::convert(args),
        Command::Run { .. } | Command::CheckConfig { .. } => Err(anyhow::anyhow!("not built yet")),
        Command::Replay(args) => runtime().and_then(|rt| rt.block_on(replay::replay(args))),
        Command::Export(args) => runtime().and_then(|rt| rt.block_on(export::export(args))),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("espy: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}
