//! `espy export` from a real s3s-fs server and from a folder: the objects whose hour
//! overlaps the range arrive byte-identical in a local Zeek tree with the same layout;
//! other hours, espy's `_espy/` bookkeeping and foreign files do not; a second run copies
//! nothing, and a file of the wrong size is replaced whole.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use support::S3Server;

/// The range every test exports: 13:00 to midnight of 2024-05-01.
const SINCE: &str = "2024-05-01T13";
const UNTIL: &str = "2024-05-02";

/// Objects inside the range.
const IN_RANGE: [&str; 3] = [
    "2024-05-01/conn.13:00:00-14:00:00-winlogbeat.p0000.o000000000100.log.gz",
    "2024-05-01/dns.13:00:00-14:00:00-winlogbeat.p0001.o000000000000.log.gz",
    "2024-05-01/conn.23:00:00-00:00:00-winlogbeat.p0000.o000000000200.log.gz",
];

/// Objects an export of the range must leave where they are.
const LEFT_OUT: [&str; 5] = [
    "2024-05-01/conn.12:00:00-13:00:00-winlogbeat.p0000.o000000000000.log.gz",
    "2024-05-02/conn.00:00:00-01:00:00-winlogbeat.p0000.o000000000300.log.gz",
    "2024-04-30/dns.23:00:00-00:00:00-winlogbeat.p0001.o000000000000.log.gz",
    "_espy/markers/winlogbeat/p0000/o000000000100.json",
    "2024-05-01/README.txt",
];

/// Distinct gzip bytes per object, so a mix-up between objects shows.
fn content(name: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for row in 0..200 {
        writeln!(encoder, "#path {name}\t{row}").expect("gzip");
    }
    encoder.finish().expect("finish gzip")
}

fn all_objects() -> impl Iterator<Item = &'static str> {
    IN_RANGE.into_iter().chain(LEFT_OUT)
}

/// Every file under `root`, by relative path, with its bytes.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read folder") {
            let path = entry.expect("folder entry").path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let name = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.insert(name, std::fs::read(&path).expect("read file"));
            }
        }
    }
    let mut files = BTreeMap::new();
    if root.exists() {
        walk(root, root, &mut files);
    }
    files
}

fn in_range_tree() -> BTreeMap<String, Vec<u8>> {
    IN_RANGE
        .into_iter()
        .map(|name| (name.to_string(), content(name)))
        .collect()
}

/// Runs `espy export` with `args`, with the test S3 credentials in the standard variables.
fn export(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_espy"))
        .arg("export")
        .args(args)
        .env_remove("ESPY_CONFIG")
        .env("AWS_ACCESS_KEY_ID", support::s3::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", support::s3::SECRET_KEY)
        .env("RUST_LOG", "info")
        .output()
        .expect("run espy export");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// An S3 store holding every object under the prefix `zeek/`, and an espy configuration
/// whose `[output]` points at it.
async fn s3_store(server: &S3Server, dir: &Path) -> std::path::PathBuf {
    let store = server.store();
    for name in all_objects() {
        store
            .put(
                &ObjectPath::from(format!("zeek/{name}")),
                PutPayload::from(Bytes::from(content(name))),
            )
            .await
            .expect("put object");
    }
    let config = dir.join("espy.toml");
    std::fs::write(
        &config,
        format!(
            "[output]\nroot = \"s3://{}/zeek\"\n\n[output.s3]\nendpoint = \"{}\"\n\
             region = \"{}\"\nallow_http = true\n",
            server.bucket(),
            server.endpoint(),
            server.region()
        ),
    )
    .expect("write config");
    config
}

/// A folder store holding every object.
fn folder_store(root: &Path) {
    for name in all_objects() {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).expect("create folder");
        std::fs::write(path, content(name)).expect("write object");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_of_the_range_are_copied_from_s3_byte_identical_and_nothing_else() {
    let server = S3Server::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = s3_store(&server, dir.path()).await;
    let to = dir.path().join("rita");

    let output = export(&[
        "--config",
        config.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
        "--since",
        SINCE,
        "--until",
        UNTIL,
    ]);

    assert!(output.status.success(), "export failed");
    assert_eq!(tree(&to), in_range_tree());
    assert!(
        stdout(&output).contains("objects copied:  3"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn objects_of_the_range_are_copied_from_a_folder_store_byte_identical_and_nothing_else() {
    let dir = tempfile::tempdir().expect("temp dir");
    let from = dir.path().join("store");
    folder_store(&from);
    let to = dir.path().join("rita");

    let output = export(&[
        "--from",
        from.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
        "--since",
        SINCE,
        "--until",
        UNTIL,
    ]);

    assert!(output.status.success(), "export failed");
    assert_eq!(tree(&to), in_range_tree());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_export_copies_nothing_and_leaves_every_file_as_it_was() {
    let server = S3Server::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = s3_store(&server, dir.path()).await;
    let to = dir.path().join("rita");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
        "--since",
        SINCE,
        "--until",
        UNTIL,
    ];
    assert!(export(&args).status.success(), "first export failed");
    let modified = |name: &str| {
        std::fs::metadata(to.join(name))
            .and_then(|meta| meta.modified())
            .expect("file time")
    };
    let before: Vec<_> = IN_RANGE.iter().map(|name| modified(name)).collect();

    let output = export(&args);

    assert!(output.status.success(), "second export failed");
    let summary = stdout(&output);
    assert!(summary.contains("objects copied:  0"), "{summary}");
    assert!(summary.contains("objects skipped: 3"), "{summary}");
    let after: Vec<_> = IN_RANGE.iter().map(|name| modified(name)).collect();
    assert_eq!(before, after, "no file was rewritten");
    assert_eq!(tree(&to), in_range_tree());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_file_of_the_wrong_size_is_replaced_by_the_whole_object() {
    let server = S3Server::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = s3_store(&server, dir.path()).await;
    let to = dir.path().join("rita");
    let partial = to.join(IN_RANGE[0]);
    std::fs::create_dir_all(partial.parent().unwrap()).expect("create folder");
    let whole = content(IN_RANGE[0]);
    std::fs::write(&partial, &whole[..whole.len() / 2]).expect("write partial file");

    let output = export(&[
        "--config",
        config.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
        "--since",
        SINCE,
        "--until",
        UNTIL,
    ]);

    assert!(output.status.success(), "export failed");
    assert!(
        stdout(&output).contains("objects copied:  3 (1 replaced"),
        "{}",
        stdout(&output)
    );
    // No temporary file is left beside the objects either.
    assert_eq!(tree(&to), in_range_tree());
}

#[test]
fn a_time_that_is_not_understood_is_refused_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");

    let output = export(&[
        "--from",
        dir.path().to_str().unwrap(),
        "--to",
        dir.path().join("rita").to_str().unwrap(),
        "--since",
        "yesterday",
    ]);

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid time \"yesterday\""),
        "error: {stderr}"
    );
}
