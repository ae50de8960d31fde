//! A socat TLS terminator in front of a plain-Kafka broker, with a throwaway
//! CA made by the `openssl` CLI. tansu's own TLS flags do not work, so TLS
//! tests put this in front and have the broker advertise the TLS port.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use super::kafka::Broker;
use super::process::{Service, accepts_tcp, free_port, on_path, wait_until};

/// A running socat TLS listener forwarding to a plain TCP port, killed on drop.
pub struct TlsTerminator {
    service: Service,
    dir: TempDir,
    port: u16,
    ca: PathBuf,
}

impl TlsTerminator {
    /// Terminates TLS on a fresh port in front of `broker`'s plain listener.
    /// The broker still advertises its own address, so a Kafka client that
    /// follows metadata leaves TLS; for end-to-end TLS use
    /// [`Broker::start_behind_tls`].
    pub fn start(broker: &Broker) -> TlsTerminator {
        Self::start_on(free_port(), broker.listen_port())
    }

    /// Terminates TLS on `tls_port` and forwards to 127.0.0.1:`upstream_port`.
    pub fn start_on(tls_port: u16, upstream_port: u16) -> TlsTerminator {
        let dir = tempfile::Builder::new()
            .prefix("espy-tls-")
            .tempdir()
            .expect("create TLS temp dir");
        make_ca(dir.path(), "ca", "espy test CA");
        make_ca(dir.path(), "wrong-ca", "unrelated test CA");
        make_server_cert(dir.path(), "ca");

        let cert = dir.path().join("server.pem");
        let key = dir.path().join("server.key");
        let mut cmd = Command::new(on_path("socat"));
        cmd.arg(format!(
            "OPENSSL-LISTEN:{tls_port},bind=127.0.0.1,reuseaddr,fork,cert={},key={},verify=0",
            cert.display(),
            key.display()
        ))
        .arg(format!("TCP:127.0.0.1:{upstream_port}"));
        let log = dir.path().join("socat.log");
        let mut service = Service::spawn("socat", &mut cmd, &log);

        let ready = wait_until(Duration::from_secs(10), || {
            service.exited().is_some() || accepts_tcp(tls_port)
        });
        service.assert_running();
        assert!(ready, "socat did not listen on {tls_port}");
        TlsTerminator {
            service,
            ca: dir.path().join("ca.pem"),
            dir,
            port: tls_port,
        }
    }

    /// The TLS port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT` of the TLS listener.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// PEM of the CA that signed the server certificate (for `ssl.ca.location`).
    pub fn ca_path(&self) -> &Path {
        self.ca.as_path()
    }

    /// PEM of an unrelated CA, for tests that a wrong CA is refused.
    pub fn wrong_ca_path(&self) -> PathBuf {
        self.dir.path().join("wrong-ca.pem")
    }

    /// Kills socat, to test a TLS endpoint going away.
    pub fn stop(&mut self) {
        self.service.stop();
    }
}

/// Runs the openssl CLI in `dir`, panicking with its output on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new(on_path("openssl"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A self-signed CA: `NAME.pem` and `NAME.key` (P-256, fast to make).
fn make_ca(dir: &Path, name: &str, cn: &str) {
    let key = format!("{name}.key");
    let pem = format!("{name}.pem");
    let subj = format!("/CN={cn}");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            &subj,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// `server.pem`/`server.key` for 127.0.0.1 and localhost, signed by `ca`.
fn make_server_cert(dir: &Path, ca: &str) {
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("write server.ext");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    let ca_pem = format!("{ca}.pem");
    let ca_key = format!("{ca}.key");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}
