//! An s3s-fs S3-compatible server on a free loopback port, storing objects as
//! files under a temp root (`ROOT/<bucket>/<key>`), with a fixed test key.
//! It honours `If-None-Match: *` for one client, not atomically under
//! concurrency.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use tempfile::TempDir;

use super::process::{Service, accepts_tcp, free_port, locate_binary, repo_path, wait_until};

/// The access key s3s-fs accepts in tests.
pub const ACCESS_KEY: &str = "espy-test-access";
/// The secret key s3s-fs accepts in tests.
pub const SECRET_KEY: &str = "espy-test-secret";
/// Region the clients sign with; s3s-fs accepts any.
pub const REGION: &str = "us-east-1";
/// The bucket created at start.
pub const BUCKET: &str = "espy-test";

/// A running s3s-fs server, killed on drop; its root is removed with it.
pub struct S3Server {
    service: Service,
    /// Holds `root/` and the server's log.
    dir: TempDir,
    root: PathBuf,
    port: u16,
}

impl S3Server {
    /// Starts s3s-fs with the bucket [`BUCKET`] and waits until it listens.
    pub fn start() -> S3Server {
        let dir = tempfile::Builder::new()
            .prefix("espy-s3-")
            .tempdir()
            .expect("create S3 temp dir");
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join(BUCKET)).expect("create bucket folder");

        // A free port can be taken by another test before s3s-fs binds it;
        // s3s-fs then exits and we try another.
        for _ in 0..5 {
            let port = free_port();
            let mut service = spawn(dir.path(), &root, port);
            let ready = wait_until(Duration::from_secs(15), || {
                service.exited().is_some() || accepts_tcp(port)
            });
            if service.exited().is_some() {
                eprintln!(
                    "s3s-fs on port {port} exited at start:\n{}",
                    service.log_tail()
                );
                continue;
            }
            assert!(
                ready,
                "s3s-fs did not listen on {port}:\n{}",
                service.log_tail()
            );
            return S3Server {
                service,
                dir,
                root,
                port,
            };
        }
        panic!("s3s-fs failed to start five times; see the logs above");
    }

    /// Kills the server, to test a storage outage. Objects stay on disk.
    pub fn stop(&mut self) {
        self.service.stop();
    }

    /// Starts the server again on the same port and root after [`stop`].
    ///
    /// [`stop`]: S3Server::stop
    pub fn restart(&mut self) {
        self.service.stop();
        self.service = spawn(self.dir.path(), &self.root, self.port);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let port = self.port;
        let service = &mut self.service;
        let ready = wait_until(Duration::from_secs(15), || {
            service.exited().is_some() || accepts_tcp(port)
        });
        self.service.assert_running();
        assert!(ready, "s3s-fs did not listen on {port}");
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bucket created at start.
    pub fn bucket(&self) -> &'static str {
        BUCKET
    }

    /// The server's root folder; bucket `b` is the folder `root()/b`.
    pub fn root(&self) -> &Path {
        self.root.as_path()
    }

    /// Where object `key` of [`BUCKET`] lives on disk.
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.root.join(BUCKET).join(key)
    }

    /// Creates another bucket (a folder under the root).
    pub fn create_bucket(&self, name: &str) {
        std::fs::create_dir_all(self.root.join(name)).expect("create bucket folder");
    }

    pub fn access_key(&self) -> &'static str {
        ACCESS_KEY
    }

    pub fn secret_key(&self) -> &'static str {
        SECRET_KEY
    }

    pub fn region(&self) -> &'static str {
        REGION
    }

    /// An object_store builder for [`BUCKET`] on this server: plain HTTP,
    /// path-style requests, the test credentials.
    pub fn builder(&self) -> AmazonS3Builder {
        AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_region(REGION)
            .with_bucket_name(BUCKET)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
    }

    /// An object_store client for [`BUCKET`] on this server.
    pub fn store(&self) -> AmazonS3 {
        self.builder().build().expect("build S3 client")
    }
}

fn spawn(dir: &Path, root: &Path, port: u16) -> Service {
    let mut cmd = Command::new(s3s_fs_bin());
    cmd.args(["--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(root);
    // The log sits beside the root, not in it, so it is never an object.
    let log = dir.join("s3s-fs.log");
    Service::spawn("s3s-fs", &mut cmd, &log)
}

/// The s3s-fs binary: `$S3S_FS_BIN`, else `.tools/bin/s3s-fs`.
pub fn s3s_fs_bin() -> PathBuf {
    locate_binary("S3S_FS_BIN", &[repo_path(".tools/bin/s3s-fs")])
}
