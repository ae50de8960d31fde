//! The HTTP endpoint: Prometheus metrics, `/healthz` and `/readyz`.
