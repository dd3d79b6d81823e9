//! Leader election on a `coordination.k8s.io` Lease, as client-go's leaderelection does it:
//! the holder renews the lease well before it expires and steps down when it cannot renew in
//! time; the others take it over once it has expired; shutting down releases it, so a follower
//! takes over at once. Like client-go, a follower judges expiry by its own clock, from when it
//! saw the lease's record last change, never from the holder's `renewTime`: replicas whose
//! clocks disagree still never lead at once. Every time comes from the controller's one
//! [`Clock`], so the election runs the same under the simulation's paused time. Only the
//! holder writes; the others keep their watches warm.
//!
//! Writes carry the Lease's resourceVersion, so two replicas racing for it cannot both win.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
};
use kube::{
    Api, Client,
    api::{Patch, PatchParams, PostParams},
};
use tokio::{
    sync::{oneshot, watch},
    task::JoinHandle,
};

use crate::{api::FIELD_MANAGER, clock::Clock, metrics::ControllerMetrics};

/// How long a lease lasts without renewal.
const LEASE_DURATION: Duration = Duration::from_secs(15);
/// The holder steps down when it could not renew for this long (before others may take over).
const RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// How often the holder renews, and followers look.
const RETRY_PERIOD: Duration = Duration::from_secs(2);

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
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// One replica's view of the lease.
struct Candidate {
    api: Api<Lease>,
    name: String,
    identity: String,
    clock: Clock,
    /// When this replica last renewed the lease it holds.
    renewed: Option<Timestamp>,
    /// The lease's resourceVersion when last read, and when this replica first read it.
    observed: Option<(String, Timestamp)>,
}

impl Election {
    /// Starts competing for the lease `namespace/name` as `identity`.
    pub fn start(
        client: Client,
        clock: Clock,
        namespace: &str,
        name: &str,
        identity: &str,
        metrics: ControllerMetrics,
    ) -> Self {
        let mut candidate = Candidate {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
            clock,
            renewed: None,
            observed: None,
        };
        let (sender, receiver) = watch::channel(false);
        let (stop, mut stopped) = oneshot::channel::<()>();
        metrics.leader.set(0);
        let task = tokio::spawn(async move {
            loop {
                let leading = candidate.try_acquire_or_renew().await;
                sender.send_if_modified(|was| {
                    let changed = *was != leading;
                    if changed {
                        if leading {
                            tracing::info!("Became the leader.");
                        } else {
                            tracing::info!("No longer the leader.");
                        }
                    }
                    *was = leading;
                    changed
                });
                metrics.leader.set(i64::from(leading));
                tokio::select! {
                    _ = &mut stopped => break,
                    () = tokio::time::sleep(RETRY_PERIOD) => {}
                }
            }
            // Step down first, so nothing writes while the lease is being released.
            sender.send_replace(false);
            metrics.leader.set(0);
            candidate.release().await;
        });
        Self {
            leadership: Leadership {
                leader: Some(receiver),
            },
            stop,
            task,
        }
    }

    /// The leadership to hand to the reconcilers.
    pub fn leadership(&self) -> Leadership {
        self.leadership.clone()
    }

    /// Steps down, releases the lease and waits for it (at most ten seconds).
    pub async fn stop(self) {
        let Self { stop, task, .. } = self;
        let _ = stop.send(());
        if tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .is_err()
        {
            tracing::warn!("Gave up waiting for the leader lease to be released.");
        }
    }
}

impl Candidate {
    /// One round: take the lease when it is free or expired, renew it when held. Returns
    /// whether this replica leads now.
    async fn try_acquire_or_renew(&mut self) -> bool {
        let now = self.clock.now();
        let result = self.round(now).await;
        match result {
            Ok(leading) => {
                self.renewed = leading.then_some(now);
                leading
            }
            Err(error) => {
                // A holder keeps leading through brief API trouble, until its renew deadline.
                let leading = self
                    .renewed
                    .is_some_and(|renewed| self.clock.since(renewed) < RENEW_DEADLINE);
                tracing::warn!(lease = %self.name, error = %error, leading, "Cannot read or renew the leader lease.");
                if !leading {
                    self.renewed = None;
                }
                leading
            }
        }
    }

    async fn round(&mut self, now: Timestamp) -> Result<bool, kube::Error> {
        let Some(lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.held_spec(now, now, 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(error) => Err(error),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty());
        let version = lease.metadata.resource_version.clone().unwrap_or_default();
        let unchanged_since = match &self.observed {
            Some((seen, since)) if *seen == version => *since,
            _ => {
                self.observed = Some((version, now));
                now
            }
        };
        let duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(LEASE_DURATION, Duration::from_secs);
        let expired = spec.renew_time.is_none() || self.clock.since(unchanged_since) >= duration;
        let ours = holder == Some(self.identity.as_str());
        if !ours && holder.is_some() && !expired {
            return Ok(false);
        }
        let (acquired, transitions) = if ours {
            (
                spec.acquire_time.map_or(now, |t| t.0),
                spec.lease_transitions.unwrap_or(0),
            )
        } else {
            (now, spec.lease_transitions.unwrap_or(0) + 1)
        };
        let patch = serde_json::json!({
            "metadata": {"resourceVersion": lease.metadata.resource_version},
            "spec": self.held_spec(acquired, now, transitions),
        });
        match self
            .api
            .patch(&self.name, &patch_params(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(true),
            // Another replica wrote first: it won this round.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        }
    }

    fn held_spec(&self, acquired: Timestamp, renewed: Timestamp, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: i32::try_from(LEASE_DURATION.as_secs()).ok(),
            acquire_time: Some(MicroTime(acquired)),
            renew_time: Some(MicroTime(renewed)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Gives the lease up if this replica holds it, so a follower takes over at once.
    async fn release(&self) {
        let Ok(Some(lease)) = self.api.get_opt(&self.name).await else {
            return;
        };
        let held = lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            == Some(self.identity.as_str());
        if !held {
            return;
        }
        let patch = serde_json::json!({
            "metadata": {"resourceVersion": lease.metadata.resource_version},
            "spec": {"holderIdentity": null, "renewTime": null, "acquireTime": null},
        });
        match self
            .api
            .patch(&self.name, &patch_params(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => tracing::info!("Released the leader lease."),
            Err(error) => tracing::warn!(error = %error, "Releasing the leader lease failed."),
        }
    }
}

fn patch_params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Namespace;
    use serde_json::json;

    use super::*;
    use crate::sim::SimApi;

    const NAMESPACE: &str = "kube-spread";

    fn start() -> Timestamp {
        "2025-10-20T08:00:00Z".parse().expect("timestamp")
    }

    /// The renewTime a holder whose clock runs an hour behind writes.
    fn an_hour_behind(clock: &Clock) -> MicroTime {
        MicroTime(clock.now() - jiff::SignedDuration::from_hours(1))
    }

    #[tokio::test(start_paused = true)]
    async fn a_follower_judges_expiry_by_its_own_clock_not_by_the_holders_renew_time() {
        let clock = Clock::starting_at(start());
        let sim = SimApi::new(clock);
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": NAMESPACE}})).expect("namespace");
        Api::<Namespace>::all(sim.client())
            .create(&PostParams::default(), &namespace)
            .await
            .expect("create namespace");
        let leases: Api<Lease> = Api::namespaced(sim.client(), NAMESPACE);
        let lease: Lease = serde_json::from_value(json!({
            "metadata": {"name": "kube-spread"},
            "spec": {"holderIdentity": "other", "leaseDurationSeconds": 15,
                     "renewTime": an_hour_behind(&clock)},
        }))
        .expect("lease");
        leases
            .create(&PostParams::default(), &lease)
            .await
            .expect("create lease");
        let election = Election::start(
            sim.client(),
            clock,
            NAMESPACE,
            "kube-spread",
            "me",
            ControllerMetrics::new().expect("metrics"),
        );
        let leadership = election.leadership();

        // The other replica keeps renewing, with timestamps an hour old by this replica's clock.
        for _ in 0..30 {
            tokio::time::sleep(RETRY_PERIOD).await;
            let renewal = json!({"spec": {"renewTime": an_hour_behind(&clock)}});
            leases
                .patch("kube-spread", &patch_params(), &Patch::Merge(&renewal))
                .await
                .expect("renew");
            assert!(
                !leadership.is_leader(),
                "took a lease its holder kept renewing"
            );
        }

        // It stops renewing: the lease expires one lease duration after its last change.
        tokio::time::sleep(LEASE_DURATION - RETRY_PERIOD * 2).await;
        assert!(!leadership.is_leader(), "took the lease before it expired");
        tokio::time::sleep(RETRY_PERIOD * 4).await;
        assert!(leadership.is_leader(), "never took the expired lease");
        let held = leases.get("kube-spread").await.expect("lease");
        assert_eq!(
            held.spec.and_then(|spec| spec.holder_identity).as_deref(),
            Some("me")
        );
        election.stop().await;
    }
}
