//! Runs the real `espy` binary for integration tests: `espy run` with a config written to a
//! temp dir, its metrics endpoint on a free loopback port, and its log kept for failures.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::process::{free_port, wait_until};

/// A running `espy run`.
pub struct Espy {
    child: Child,
    dir: tempfile::TempDir,
    metrics_port: u16,
}

impl Espy {
    /// Starts `espy run` with `config` (TOML without a `[metrics]` section, which is added).
    pub fn start(config: &str) -> Espy {
        let dir = tempfile::tempdir().expect("temp dir for espy");
        let metrics_port = free_port();
        let config_path = dir.path().join("espy.toml");
        let config = format!("{config}\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n");
        std::fs::write(&config_path, config).expect("write espy config");
        let log = std::fs::File::create(dir.path().join("espy.log")).expect("espy log");
        let child = Command::new(env!("CARGO_BIN_EXE_espy"))
            .arg("run")
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", "info,librdkafka=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start espy run");
        Espy {
            child,
            dir,
            metrics_port,
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("espy.log")
    }

    /// Everything espy logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The Prometheus text from `/metrics`, or an empty string while it is not up.
    pub fn metrics(&self) -> String {
        self.get("/metrics")
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    /// Status and body of a GET on the metrics port.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .new_agent();
        let mut response = agent
            .get(format!("http://127.0.0.1:{}{path}", self.metrics_port))
            .call()
            .ok()?;
        let status = response.status().as_u16();
        Some((
            status,
            response.body_mut().read_to_string().unwrap_or_default(),
        ))
    }

    /// The value of a metric line starting with `series` (name and labels), summed over
    /// every line that starts so.
    pub fn metric(&self, series: &str) -> f64 {
        self.metrics()
            .lines()
            .filter(|line| line.starts_with(series))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Waits until espy reports partitions assigned to it.
    pub fn wait_assigned(&mut self, limit: Duration) {
        let assigned = wait_until(limit, || {
            self.assert_running();
            self.metric("espy_assigned_partitions") > 0.0
        });
        assert!(
            assigned,
            "espy got no partitions within {limit:?}:\n{}",
            self.log()
        );
    }

    /// Panics with espy's log if it has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("espy exited with {status}:\n{}", self.log());
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        self.wait()
    }

    /// Stops espy with SIGSTOP for `pause`, then lets it go on with SIGCONT: every thread
    /// stands still meanwhile, librdkafka's heartbeats included, as in a long GC-like stall
    /// or a frozen node.
    pub fn freeze(&mut self, pause: Duration) {
        let signal = |name: &str| {
            let status = Command::new("kill")
                .args([name, &self.child.id().to_string()])
                .status()
                .expect("run kill");
            assert!(status.success(), "kill {name} failed");
        };
        signal("-STOP");
        std::thread::sleep(pause);
        signal("-CONT");
    }

    /// Kills espy with SIGKILL, as an OOM kill or a node loss would.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL espy");
        self.child.wait().expect("reap espy");
    }

    /// Waits (bounded) for espy to exit by itself.
    pub fn wait(&mut self) -> ExitStatus {
        let mut status = None;
        let exited = wait_until(Duration::from_secs(60), || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        assert!(exited, "espy did not exit:\n{}", self.log());
        status.expect("exit status")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Espy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- espy log ---\n{}", self.log());
        }
    }
}
