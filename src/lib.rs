//! espy turns Sysmon network events (event 3 and 22) shipped by Winlogbeat or NXLog into
//! Zeek `conn.log` and `dns.log` objects that RITA and other hunting tools read.
//!
//! The data flows through the modules in this order: [`input`] decodes a document into an
//! [`event::SysmonEvent`], [`zeek`] formats it into rows and gzip objects, [`store`] writes
//! objects to a folder or S3, and [`stream`] runs the Kafka consumer that cuts partitions
//! into segments and commits offsets once their objects are durable.

pub mod buckets;
pub mod cli;
pub mod config;
pub mod event;
pub mod health;
pub mod input;
pub mod metrics;
pub mod store;
pub mod stream;
pub mod zeek;
