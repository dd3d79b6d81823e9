//! The controller (`kube-spread run`): a thin kube-rs shell around the planner. Watches feed
//! compact stores; every SpreadPolicy and ClusterSpreadPolicy is reconciled in four steps —
//! observe, plan, act, report — by the leader only; the one chokepoint in [`disruption`] makes
//! every move.
//!
//! - [`stores`]: the watches and the compact model they keep; [`guard`]: decoding their
//!   objects so that one odd object is skipped, never fatal to its watch.
//! - [`observe`]: one observation and one plan for all policies per burst of changes, and
//!   which policies the burst concerns.
//! - [`reconcile`]: the four steps for one policy.
//! - [`inject`]: which workloads get our constraints, paced, and which get them taken back
//!   (a pure `decide`); carried out through the chokepoint.
//! - [`rebalance`]: the per-policy state machine (trigger, stabilization, flights, cooldown):
//!   a pure `decide`, then a loop that carries the decision out through the chokepoint.
//! - [`disruption`]: the one chokepoint for writes that disrupt pods (evictions, restarts, and
//!   the applies that inject or release our constraints): leader gating, budgets, dry-run,
//!   Events, metrics.
//! - [`flights`]: moves in flight under the cluster-wide caps, granted to policies that ask
//!   at once in a fixed order, whatever order their reconciles ran in.
//! - [`window`]: disruption windows (cron, time zones). [`deletion_cost`]: ranking Deployments'
//!   pods for scale-down.
//! - [`report`]: status and metrics. [`events`]: Events. [`leader`]: the Lease.
//! - [`server`]: `/metrics`, `/healthz`, `/readyz`.
//!
//! No finalizer: deleting a SpreadPolicy never waits for the controller. Our fields on
//! workloads that no policy governs any more are removed by a sweep on the leader, which also
//! catches policies deleted while the controller was down.

pub mod deletion_cost;
pub mod disruption;
pub mod events;
pub mod flights;
pub mod guard;
pub mod inject;
pub mod kind;
pub mod leader;
pub mod observe;
pub mod rebalance;
pub mod reconcile;
pub mod report;
pub mod server;
pub mod steer;
pub mod stores;
pub mod window;

use std::{
    collections::HashMap,
    future::Future,
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use futures::StreamExt;
use kube::{
    Api, Client, Resource,
    core::DeserializeGuard,
    runtime::{
        Controller, WatchStreamExt, controller, controller::Action, predicates, reflector,
        utils::PredicateConfig, watcher,
    },
};

use self::{
    disruption::{Caps, Disruptor},
    events::Recorder,
    flights::Flights,
    inject::{Injector, Rollouts},
    kind::PolicyKind,
    leader::{Election, Leadership},
    observe::{Affected, Observation, Observer},
    steer::Steering,
    stores::Stores,
};
use crate::{
    api::{ClusterSpreadPolicy, SpreadPolicy},
    clock::Clock,
    metrics::{ControllerMetrics, Metrics},
};

/// How often the leader sweeps workloads no policy governs any more, and every replica removes
/// the metric series of deleted nodes and policies.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// How long reconciles in progress may take to finish once shutdown is asked.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// Requests for one policy within this window are merged into one reconcile. Bursts are
/// gathered before they ask, so this only merges what comes together from elsewhere (a spec
/// change, a timer); longer, it only delays.
///
/// At 500 ms the seeded simulation of sixteen policies stopped repeating itself (5 runs of 9
/// differed), at 100 ms it repeats (27 of 27), but only because reconciles that run at once
/// are rarer: kube-runtime polls the reconciles in progress by iterating a `HashMap` with a
/// random hasher (`controller::future_hash_map`), so two reconciles due at the same instant
/// start, and write, in an order that changes from run to run (traced: `app-03` and `app-09`
/// swapped at 08:05:37.1 of that simulation). Claims of moves are served in a fixed order
/// whatever the order (see [`flights`]); the other writes are not.
const DEBOUNCE: Duration = Duration::from_millis(100);
/// How long the changes of the watched kinds are gathered into one burst, observed once and
/// announced to the policies it concerns. No shorter than [`DEBOUNCE`], so that each
/// announcement finds the previous one's reconciles run.
const GATHER: Duration = Duration::from_millis(600);
/// The shortest time from one observation of a burst to the next: under steady churn the
/// cluster is observed and planned once a second, not once per [`GATHER`]. A lone change still
/// shows after [`GATHER`].
const OBSERVE_EVERY: Duration = Duration::from_secs(1);
/// Announcements a controller may fall behind by before it takes every policy instead.
const ANNOUNCEMENTS_HELD: usize = 64;

/// Where the lease lives and who competes for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    /// The lease's namespace.
    pub namespace: String,
    /// The lease's name.
    pub name: String,
}

/// How to run the controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Serve `/metrics`, `/healthz` and `/readyz` here (None: do not serve).
    pub metrics_address: Option<SocketAddr>,
    /// Compete for this lease (None: always lead).
    pub lease: Option<LeaseSettings>,
    /// This replica's identity (its pod name).
    pub identity: String,
    /// Moves in flight the cluster allows, whatever the policies say.
    pub caps: Caps,
}

/// Why the controller could not run.
#[derive(Debug, thiserror::Error)]
pub enum Run {
    /// The metrics could not be set up.
    #[error(transparent)]
    Metrics(#[from] Metrics),
    /// The endpoints could not be served.
    #[error(transparent)]
    Serve(#[from] server::Serve),
}

/// What every reconcile shares.
pub struct Context {
    /// The client every write goes through.
    pub client: Client,
    /// The one clock.
    pub clock: Clock,
    /// The metrics.
    pub metrics: ControllerMetrics,
    /// Observations and the stores behind them.
    pub observer: Arc<Observer>,
    /// Whether this replica may write.
    pub leadership: Leadership,
    /// Events.
    pub recorder: Recorder,
    /// Rollouts our applies started.
    pub rollouts: Rollouts,
    /// The nodes ClusterSpreadPolicies drain.
    pub steering: Steering,
    /// Every policy's moves in flight, under the cluster-wide caps.
    pub flights: Flights,
    memory: Mutex<HashMap<String, rebalance::Memory>>,
    /// Unreadable policies already reported: the generation, and whether it was written.
    unreadable: Mutex<HashMap<String, (Option<i64>, bool)>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

impl Context {
    fn take_memory(&self, key: &str) -> rebalance::Memory {
        self.memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key)
            .unwrap_or_default()
    }

    /// What of an unreadable policy's report is still to be made: whether this version is new
    /// (log and count it), and whether this replica should write it (the leader, once).
    fn unreported(&self, key: &str, generation: i64, leader: bool) -> (bool, bool) {
        let mut reported = self
            .unreadable
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = reported.entry(key.to_owned()).or_insert((None, false));
        let new_version = entry.0 != Some(generation);
        if new_version {
            *entry = (Some(generation), false);
        }
        let write = leader && !entry.1;
        if write {
            entry.1 = true;
        }
        (new_version, write)
    }

    fn keep_memory(&self, key: String, memory: rebalance::Memory) {
        self.memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, memory);
    }

    /// Publishes pods per node from an observation.
    fn publish_node_pods(&self, observation: &Observation) {
        self.metrics.publish_nodes(
            observation
                .plan
                .summary
                .nodes
                .iter()
                .map(|node| (node.name.as_str(), i64::from(node.pods))),
        );
    }

    /// Removes the series of policies that are gone.
    fn forget_deleted_policies(&self, observation: &Observation) {
        let present: std::collections::BTreeSet<(String, String)> = observation
            .cluster
            .policies
            .iter()
            .map(|policy| (policy.namespace.to_string(), policy.name.clone()))
            .chain(
                observation
                    .cluster
                    .cluster_policies
                    .iter()
                    .map(|policy| (String::new(), policy.name.clone())),
            )
            .chain(observation.invalid.keys().filter_map(|key| {
                key.split_once('/')
                    .map(|(namespace, name)| (namespace.to_owned(), name.to_owned()))
            }))
            .collect();
        self.flights.forget_except(
            &present
                .iter()
                .map(|(namespace, name)| format!("{namespace}/{name}"))
                .collect(),
        );
        self.metrics.forget_policies_except(&present);
    }

    /// Removes the steering taints of deleted policies and any a crash left behind, and puts
    /// back those a node lost.
    async fn steer_sweep(&self, observation: &Observation) {
        let present = observation
            .cluster
            .cluster_policies
            .iter()
            .map(|policy| policy.name.as_str())
            .collect();
        self.steering.forget_except(&present);
        for error in self
            .steering
            .apply(&self.client, self.observer.stores())
            .await
        {
            tracing::warn!(error = %error, "Could not update a steering taint; the next sweep tries again.");
        }
    }

    fn injector<'a>(&'a self, disruptor: &'a Disruptor<'a>) -> Injector<'a> {
        Injector {
            stores: self.observer.stores(),
            rollouts: &self.rollouts,
            disruptor,
        }
    }

    /// The chokepoint for the sweep's writes, made on no policy's behalf. The sweep moves no
    /// pod, so it books no flight and steers nothing.
    fn sweeper(&self) -> Disruptor<'_> {
        Disruptor {
            client: &self.client,
            leadership: &self.leadership,
            metrics: &self.metrics,
            recorder: &self.recorder,
            clock: &self.clock,
            steer: None,
            flights: &self.flights,
            policy: "",
        }
    }
}

fn error_policy<K: PolicyKind>(
    policy: Arc<DeserializeGuard<K>>,
    error: &reconcile::Reconcile,
    ctx: Arc<Context>,
) -> Action {
    ctx.metrics
        .reconcile_errors
        .with_label_values(&[error.metric_label()])
        .inc();
    let meta = policy.meta();
    tracing::warn!(
        kind = K::KIND,
        policy = ?meta.name,
        namespace = ?meta.namespace,
        error = %error,
        "Reconcile failed; will retry."
    );
    Action::requeue(Duration::from_secs(15))
}

/// A time as the API server keeps it in a status (whole seconds), so that a status written and
/// read back compares equal and is not written again.
pub fn whole_seconds(at: jiff::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_second(at.as_second()).unwrap_or(at)
}

/// Yields once for each burst of changes of the stores, [`GATHER`] after the burst's first
/// change and no sooner than [`OBSERVE_EVERY`] after the last burst was observed (taking in
/// every change until then, however many follow): the burst observed once, and which policies
/// it concerns.
///
/// kube-runtime's debounce alone would not do: a request that comes while an earlier one waits
/// pushes both back by the whole debounce, so under steady churn (a 100-node cluster's
/// heartbeats alone come ten times a second) no policy would be reconciled until the cluster
/// went quiet. Gathering first means the controller's scheduler sees at most one request per
/// policy every [`GATHER`], no sooner than its debounce lets the last one run.
fn bursts(ctx: Arc<Context>) -> impl futures::Stream<Item = Affected> + Send + 'static {
    let changes = ctx.observer.stores().changes();
    futures::stream::unfold(
        (ctx, changes, None::<Arc<Observation>>, None),
        |(ctx, mut changes, previous, observed)| async move {
            changes.changed().await.ok()?;
            let gathered = tokio::time::Instant::now() + GATHER;
            let due = observed.map_or(gathered, |at| gathered.max(at + OBSERVE_EVERY));
            tokio::time::sleep_until(due).await;
            changes.mark_unchanged();
            if !ctx.observer.synced() {
                // Every reconcile waits for the first list anyway.
                return Some((Affected::everything(), (ctx, changes, None, None)));
            }
            let now = tokio::time::Instant::now();
            let (observation, affected) = ctx.observer.refresh(previous.as_deref());
            ctx.publish_node_pods(&observation);
            Some((affected, (ctx, changes, Some(observation), Some(now))))
        },
    )
}

/// Hands every burst, and every change of leadership (which concerns every policy), to each
/// subscriber: the two policy controllers.
fn announce(
    ctx: Arc<Context>,
    leadership: Leadership,
    announcements: &tokio::sync::broadcast::Sender<Arc<Affected>>,
) -> impl Future<Output = ()> + Send + 'static {
    let announcements = announcements.clone();
    let leader_changes = futures::stream::unfold(leadership, |mut leadership| async move {
        leadership.changed().await;
        Some((Affected::everything(), leadership))
    });
    futures::stream::select(bursts(ctx), leader_changes).for_each(move |affected| {
        // No subscriber left means the controllers are stopping.
        let _ = announcements.send(Arc::new(affected));
        async {}
    })
}

/// On each announcement, every policy it concerns, in namespace and name order.
/// `reconcile_all_on` would take them in the order of the store's hash map, which differs from
/// run to run, and so would the order of the moves of policies that act at once: a seeded
/// simulation would not repeat. A subscriber that fell behind takes every policy.
fn concerned_in_order<K: PolicyKind>(
    store: kube::runtime::reflector::Store<DeserializeGuard<K>>,
    announcements: tokio::sync::broadcast::Receiver<Arc<Affected>>,
) -> impl futures::Stream<Item = kube::runtime::reflector::ObjectRef<DeserializeGuard<K>>> + Send + 'static
{
    let heard = futures::stream::unfold(announcements, |mut announcements| async move {
        use tokio::sync::broadcast::error::RecvError;
        match announcements.recv().await {
            Ok(affected) => Some((affected, announcements)),
            Err(RecvError::Lagged(_)) => Some((Arc::new(Affected::everything()), announcements)),
            Err(RecvError::Closed) => None,
        }
    });
    heard.flat_map(move |affected| {
        let mut policies: Vec<_> = store
            .state()
            .iter()
            .filter(|policy| {
                let meta = policy.meta();
                affected.concerns(
                    K::ACROSS_NAMESPACES,
                    meta.namespace.as_deref().unwrap_or_default(),
                    meta.name.as_deref().unwrap_or_default(),
                )
            })
            .map(|policy| kube::runtime::reflector::ObjectRef::from_obj(&**policy))
            .collect();
        policies.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        futures::stream::iter(policies)
    })
}

/// Nothing is drained once the controller stops: the leader takes its steering taints away,
/// within the shutdown grace period (else the next leader's sweep does).
async fn release_steering(ctx: &Context) {
    if !ctx.leadership.is_leader() {
        return;
    }
    ctx.steering.release_all();
    let released = ctx.steering.apply(&ctx.client, ctx.observer.stores());
    if tokio::time::timeout(SHUTDOWN_GRACE, released)
        .await
        .is_err()
    {
        tracing::warn!(
            "Could not remove the steering taints in time; the next leader's sweep will."
        );
    }
}

/// Every SWEEP_EVERY: pods per node published with or without policies, series of what is
/// gone removed (so that no alert fires on a node that no longer exists); on the leader, our
/// fields taken back from workloads no policy governs and steering taints no policy needs.
async fn sweep(ctx: Arc<Context>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        if !ctx.observer.synced() {
            continue;
        }
        let observation = ctx.observer.observe();
        ctx.publish_node_pods(&observation);
        ctx.forget_deleted_policies(&observation);
        // The chokepoint writes nothing on a follower.
        ctx.injector(&ctx.sweeper())
            .release_orphans(&observation)
            .await;
        if ctx.leadership.is_leader() {
            ctx.steer_sweep(&observation).await;
        }
    }
}

/// The controller of one kind of policy. A policy is reconciled when its spec changes (its
/// generation moves, or it is created again under the same name), not when its status does:
/// writing a status would otherwise ask for one more reconcile each time, which the
/// announcements and the policy's own timers make needless.
fn policy_controller<K: PolicyKind>(client: &Client) -> Controller<DeserializeGuard<K>> {
    let (reader, writer) = reflector::store();
    let changed_specs = watcher(
        Api::<DeserializeGuard<K>>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(writer)
    .applied_objects()
    .predicate_filter(predicates::generation, PredicateConfig::default());
    Controller::for_stream(changed_specs, reader)
        .with_config(controller::Config::default().debounce(DEBOUNCE))
}

/// The Lease election, when the settings name a Lease; else this replica always leads.
fn elect(
    client: &Client,
    clock: Clock,
    settings: &Settings,
    metrics: &ControllerMetrics,
) -> Option<Election> {
    match &settings.lease {
        Some(lease) => Some(Election::start(
            client.clone(),
            clock,
            &lease.namespace,
            &lease.name,
            &settings.identity,
            metrics.clone(),
        )),
        None => {
            metrics.leader.set(1);
            None
        }
    }
}

/// Runs the controller until `shutdown` resolves; then stops reconciling, releases the lease
/// and returns.
pub async fn run(
    client: Client,
    clock: Clock,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), Run> {
    let metrics = ControllerMetrics::new()?;
    let stores = Arc::new(Stores::new());
    let watches = tokio::spawn(Arc::clone(&stores).watch_all(client.clone(), metrics.clone()));

    // Each policy is decoded on its own: one the API server stored but we cannot read is
    // reported by its reconcile, never a reason to stop the watch of all the others.
    let controller = policy_controller::<SpreadPolicy>(&client);
    let cluster_controller = policy_controller::<ClusterSpreadPolicy>(&client);
    let observer = Arc::new(Observer::new(
        Arc::clone(&stores),
        controller.store(),
        cluster_controller.store(),
        clock,
        metrics.plans.clone(),
    ));

    let election = elect(&client, clock, &settings, &metrics);
    let leadership = election
        .as_ref()
        .map_or_else(Leadership::always, Election::leadership);

    let server = match settings.metrics_address {
        Some(address) => {
            let (bound, task) =
                server::serve(address, metrics.clone(), Arc::clone(&observer)).await?;
            tracing::info!(address = %bound, "Serving /metrics, /healthz and /readyz.");
            Some(task)
        }
        None => None,
    };

    let ctx = Arc::new(Context {
        client: client.clone(),
        clock,
        metrics: metrics.clone(),
        observer: Arc::clone(&observer),
        leadership: leadership.clone(),
        recorder: Recorder::new(client.clone(), settings.identity.clone(), clock),
        rollouts: Rollouts::default(),
        steering: Steering::default(),
        flights: Flights::new(settings.caps),
        memory: Mutex::new(HashMap::new()),
        unreadable: Mutex::new(HashMap::new()),
    });

    // Bursts of changes of the watched kinds, and changes of leadership, announced to both
    // controllers: each reconciles the policies an announcement concerns.
    let (announcements, _) = tokio::sync::broadcast::channel(ANNOUNCEMENTS_HELD);
    let namespaced_heard = announcements.subscribe();
    let across_heard = announcements.subscribe();
    let announcer = tokio::spawn(announce(
        Arc::clone(&ctx),
        leadership.clone(),
        &announcements,
    ));

    let sweeper = tokio::spawn(sweep(Arc::clone(&ctx)));

    // Shutdown is asked once and heard twice: the controller stops taking work, and if it has
    // not wound down within the grace period it is dropped, whatever its watches are doing.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let signal = tokio::spawn(async move {
        shutdown.await;
        stop.send_replace(true);
    });
    let stopped = |mut stopping: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    tracing::info!(identity = %settings.identity, "Starting the controller.");
    let every_policy = concerned_in_order(controller.store(), namespaced_heard);
    let namespaced = controller
        .reconcile_on(every_policy)
        .graceful_shutdown_on(stopped(stopping.clone()))
        .run(
            reconcile::reconcile::<SpreadPolicy>,
            error_policy::<SpreadPolicy>,
            Arc::clone(&ctx),
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(error = %error, "Controller event.");
            }
        });
    let every_cluster_policy = concerned_in_order(cluster_controller.store(), across_heard);
    let across_namespaces = cluster_controller
        .reconcile_on(every_cluster_policy)
        .graceful_shutdown_on(stopped(stopping.clone()))
        .run(
            reconcile::reconcile::<ClusterSpreadPolicy>,
            error_policy::<ClusterSpreadPolicy>,
            Arc::clone(&ctx),
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(error = %error, "Controller event.");
            }
        });
    let running = async move {
        futures::join!(namespaced, across_namespaces);
    };
    tokio::select! {
        () = running => {}
        () = async {
            stopped(stopping).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("Reconciles did not finish within the shutdown grace period; stopping anyway.");
        }
    }
    signal.abort();

    tracing::info!("Shutting down.");
    announcer.abort();
    sweeper.abort();
    release_steering(&ctx).await;
    watches.abort();
    if let Some(server) = server {
        server.abort();
    }
    drop(ctx);
    drop(leadership);
    if let Some(election) = election {
        election.stop().await;
    }
    Ok(())
}
