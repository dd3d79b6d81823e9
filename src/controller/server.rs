//! The controller's HTTP endpoints on one port: `/metrics` (Prometheus text), `/healthz` (the
//! process runs) and `/readyz` (every watch has listed its kind once).

use std::{net::SocketAddr, sync::Arc};

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};

use super::observe::Observer;
use crate::metrics::ControllerMetrics;

/// Why the endpoints could not be served.
#[derive(Debug, thiserror::Error)]
pub enum Serve {
    /// The address could not be bound.
    #[error("binding {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

#[derive(Clone)]
struct Endpoints {
    metrics: ControllerMetrics,
    observer: Arc<Observer>,
}

async fn metrics(State(endpoints): State<Endpoints>) -> impl IntoResponse {
    match endpoints.metrics.encode() {
        Ok(text) => (StatusCode::OK, text),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok")
}

async fn readyz(State(endpoints): State<Endpoints>) -> impl IntoResponse {
    if endpoints.observer.synced() {
        (StatusCode::OK, "ok")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "watches have not listed everything yet",
        )
    }
}

/// The router for the endpoints.
pub fn router(metrics: ControllerMetrics, observer: Arc<Observer>) -> Router {
    Router::new()
        .route("/metrics", get(self::metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Endpoints { metrics, observer })
}

/// Serves the endpoints on `address` until the task is aborted; returns the bound address.
pub async fn serve(
    address: SocketAddr,
    metrics: ControllerMetrics,
    observer: Arc<Observer>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), Serve> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| Serve::Bind { address, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| Serve::Bind { address, source })?;
    let app = router(metrics, observer);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::warn!(error = %error, "The metrics and health endpoints stopped.");
        }
    });
    Ok((bound, task))
}
