//! The subcommands other than `run`, one file each; `main.rs` only dispatches to them.

pub mod convert;
pub mod export;
pub mod replay;
