//! Leader election on a Lease (kube-lease-manager): only the holder writes; the others keep
//! their watches warm and write nothing. Shutting down releases the lease so a follower takes
//! over at once.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseCreateMode, LeaseManager, LeaseParams};
use tokio::{sync::watch, task::JoinHandle};

use crate::{api::FIELD_MANAGER, metrics::ControllerMetrics};

/// How long a lease lasts without renewal, in seconds.
const LEASE_SECONDS: u64 = 15;
/// How long before expiry the holder renews it, in seconds.
const RENEW_GRACE_SECONDS: u64 = 5;

/// The first wait before retrying to prepare the lease; it doubles up to the maximum.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Whether this replica may write.
#[derive(Clone, Debug)]
pub struct Leadership {
    leader: Option<watch::Receiver<bool>>,
}

impl Leadership {
    /// Leadership without election: this replica always leads (one replica, or tests).
    pub fn always() -> Self {
        Self { leader: None }
    }

    /// Whether this replica holds the lease now.
    pub fn is_leader(&self) -> bool {
        self.leader.as_ref().is_none_or(|leader| *leader.borrow())
    }

    /// Waits until leadership changes (never, without election).
    pub async fn changed(&mut self) {
        match self.leader.as_mut() {
            Some(leader) => {
                if leader.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    }
}

/// A running election.
#[derive(Debug)]
pub struct Election {
    leadership: Leadership,
    task: JoinHandle<Result<LeaseManager, kube_lease_manager::LeaseManagerError>>,
    gauge: JoinHandle<()>,
}

impl Election {
    /// Starts competing for the lease `namespace/name` as `identity`. Reading or creating the
    /// lease is retried with back-off until it succeeds: an API server that is briefly
    /// unavailable must not stop the controller, and until then this replica does not lead.
    pub async fn start(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        metrics: ControllerMetrics,
    ) -> Self {
        let params = LeaseParams::new(identity, LEASE_SECONDS, RENEW_GRACE_SECONDS)
            .with_field_manager(FIELD_MANAGER);
        let mut wait = RETRY_FIRST;
        let manager = loop {
            match LeaseManager::new(
                client.clone(),
                name,
                namespace,
                params.clone(),
                LeaseCreateMode::AutoCreate,
            )
            .await
            {
                Ok(manager) => break manager,
                Err(error) => {
                    tracing::warn!(
                        lease = %format!("{namespace}/{name}"),
                        error = %error,
                        retry_in = ?wait,
                        "Cannot prepare the leader lease; retrying."
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RETRY_MAX);
                }
            }
        };
        let (receiver, task) = manager.watch().await;
        let mut watching = receiver.clone();
        let gauge = tokio::spawn(async move {
            loop {
                let leading = *watching.borrow_and_update();
                metrics.leader.set(i64::from(leading));
                if leading {
                    tracing::info!("Became the leader.");
                }
                if watching.changed().await.is_err() {
                    metrics.leader.set(0);
                    return;
                }
            }
        });
        Self {
            leadership: Leadership {
                leader: Some(receiver),
            },
            task,
            gauge,
        }
    }

    /// The leadership to hand to the reconcilers.
    pub fn leadership(&self) -> Leadership {
        self.leadership.clone()
    }

    /// Releases the lease (once every clone of the leadership is dropped) and waits for it.
    pub async fn stop(self) {
        let Self {
            leadership,
            task,
            gauge,
        } = self;
        drop(leadership);
        gauge.abort();
        // The lease is released once the gauge's receiver is gone too.
        let _ = gauge.await;
        match tokio::time::timeout(Duration::from_secs(10), task).await {
            Ok(Ok(Ok(_))) => tracing::info!("Released the leader lease."),
            Ok(Ok(Err(error))) => {
                tracing::warn!(error = %error, "Releasing the leader lease failed.")
            }
            Ok(Err(error)) => tracing::warn!(error = %error, "The leader election task failed."),
            Err(_) => tracing::warn!("Gave up waiting for the leader lease to be released."),
        }
    }
}
