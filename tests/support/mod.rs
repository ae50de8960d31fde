//! Real test services on loopback for integration tests: a tansu Kafka broker
//! (optionally behind a socat TLS terminator) and an s3s-fs S3 server. Never
//! mocks. Include it with `mod support;` from a file in `tests/`.
//!
//! Binaries come from `tests/services/install.sh`; each helper finds its binary
//! through an environment variable (`TANSU_BIN`, `S3S_FS_BIN`, ...) or a known
//! path in the repo, and panics naming install.sh when it is missing: a test
//! that needs a service never skips silently. Every service runs in its own
//! temp dir, logs there, and is killed on drop; a panicking test prints the
//! tail of each service's log.
//!
//! Beside the services: `convert` runs `espy convert` into a temp tree, `zeek_logs` reads
//! trees back, and `rita_rules` checks a tree against RITA v5's import rules.

// Each test binary uses only some helpers.
#![allow(dead_code, unused_imports)]

pub mod convert;
pub mod espy;
pub mod kafka;
pub mod process;
pub mod rita_rules;
pub mod run;
pub mod s3;
pub mod tls;
pub mod zeek_logs;

pub use kafka::Broker;
pub use process::{locate_binary, repo_path, wait_until};
pub use s3::S3Server;
pub use tls::TlsTerminator;
