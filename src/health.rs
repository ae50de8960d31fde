//! The HTTP endpoint: Prometheus metrics on `/metrics`, liveness on `/healthz` and
//! readiness on `/readyz`.
//!
//! Readiness means the replica has joined its consumer group and both the broker and the
//! store answered recently; it does not require partitions, since a group can have more
//! replicas than partitions and the spare ones are healthy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::metrics;

/// What the probes report, updated by the consumer loop and its callbacks.
#[derive(Debug, Default)]
pub struct Health {
    joined: AtomicBool,
    broker_reachable: AtomicBool,
    store_reachable: AtomicBool,
}

impl Health {
    pub fn set_joined(&self, joined: bool) {
        self.joined.store(joined, Ordering::Relaxed);
    }

    pub fn set_broker_reachable(&self, reachable: bool) {
        self.broker_reachable.store(reachable, Ordering::Relaxed);
    }

    pub fn set_store_reachable(&self, reachable: bool) {
        self.store_reachable.store(reachable, Ordering::Relaxed);
    }

    /// Why the replica is not ready, or `None` when it is.
    pub fn not_ready_reason(&self) -> Option<&'static str> {
        if !self.joined.load(Ordering::Relaxed) {
            Some("not yet in the consumer group")
        } else if !self.broker_reachable.load(Ordering::Relaxed) {
            Some("broker unreachable")
        } else if !self.store_reachable.load(Ordering::Relaxed) {
            Some("store unreachable")
        } else {
            None
        }
    }
}

/// A failure to start the HTTP endpoint.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("cannot install the Prometheus recorder: {0}")]
    Recorder(String),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
}

/// Installs the global Prometheus recorder with espy's descriptions and histogram buckets.
pub fn install_recorder() -> Result<PrometheusHandle, HealthError> {
    let handle = PrometheusBuilder::new()
        .set_buckets(metrics::LATENCY_BUCKETS)
        .map_err(|err| HealthError::Recorder(err.to_string()))?
        .install_recorder()
        .map_err(|err| HealthError::Recorder(err.to_string()))?;
    metrics::describe();
    metrics::gauge!(metrics::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
}

/// Binds `address` and serves the endpoint until the process ends.
pub async fn serve(
    address: &str,
    metrics: PrometheusHandle,
    health: Arc<Health>,
) -> Result<SocketAddr, HealthError> {
    let listen_error = |source| HealthError::Listen {
        address: address.to_string(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    let app = Router::new()
        .route("/metrics", get(render_metrics))
        .with_state(metrics)
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready).with_state(health));
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %err, "metrics endpoint stopped");
        }
    });
    Ok(bound)
}

async fn render_metrics(State(handle): State<PrometheusHandle>) -> String {
    handle.render()
}

async fn ready(State(health): State<Arc<Health>>) -> (StatusCode, String) {
    match health.not_ready_reason() {
        None => (StatusCode::OK, "ready\n".into()),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")),
    }
}
