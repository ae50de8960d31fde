//! The `espy` binary: parses arguments, dispatches to one function per subcommand, and maps
//! the outcome to an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::IsTerminal;

use anyhow::Context;
use clap::{Parser, Subcommand};
use espy::cli::{convert, export, replay};
use espy::config::Config;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Sysmon network events from Kafka to Zeek logs for threat hunting"
)]
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
    init_logging();
    let outcome = match cli.command {
        Command::Run { config } => load_config(config.as_deref())
            .and_then(|config| espy::stream::run(config).map_err(anyhow::Error::from)),
        Command::Convert(args) => convert::convert(args),
        Command::CheckConfig { config } => load_config(config.as_deref()).and_then(print_config),
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

/// Logs go to stderr: JSON for collectors when stderr is not a terminal, text otherwise.
/// `RUST_LOG` sets the filter (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.json().flatten_event(true).init();
    }
}

fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    Config::load(path).with_context(|| match path {
        Some(path) => format!("loading {}", path.display()),
        None => "loading configuration from defaults and ESPY_* variables".to_string(),
    })
}

/// Prints the effective configuration as TOML, with secrets replaced. Pass-through options
/// are printed under librdkafka's own names, since that is how they take effect.
fn print_config(mut config: Config) -> anyhow::Result<()> {
    config.kafka.options = config
        .kafka
        .librdkafka_options()
        .map(|(name, value)| {
            let shown = if is_secret_option(&name) {
                "<hidden>"
            } else {
                value
            };
            (name, shown.to_string())
        })
        .collect();
    if config.output.s3.secret_access_key.is_some() {
        config.output.s3.secret_access_key = Some("<hidden>".into());
    }
    print!("{}", toml::to_string_pretty(&config)?);
    Ok(())
}

/// librdkafka options that hold secrets: passwords, client secrets, private keys, and the
/// OAUTHBEARER configuration string, which can embed a token.
fn is_secret_option(name: &str) -> bool {
    ["password", "secret", "key.pem", "oauthbearer.config"]
        .iter()
        .any(|part| name.contains(part))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
