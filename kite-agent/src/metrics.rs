//! `--metrics ADDR`: the node's metrics (see `kite_tokio::metrics`) served
//! for Prometheus at `http://ADDR/metrics` by `metrics-exporter-prometheus`.

use std::net::SocketAddr;

use metrics_exporter_prometheus::{BuildError, PrometheusBuilder};

/// Installs the Prometheus recorder as the global `metrics` recorder and
/// starts its HTTP listener on `addr`, on the current tokio runtime. Call it
/// before the node starts. Fails if `addr` cannot be bound.
pub(crate) fn serve(addr: SocketAddr) -> Result<(), BuildError> {
    PrometheusBuilder::new().with_http_listener(addr).install()
}
