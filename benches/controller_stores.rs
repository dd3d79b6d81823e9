//! The controller's stores at the Kubernetes scalability envelope: the simulated API filled with
//! 5,000 nodes in 3 zones and 150,000 running pods of 10,000 Deployments (each with its
//! ReplicaSet and a PodDisruptionBudget) in 1,000 namespaces, then `Stores::watch_all` run
//! against it until synced. Reports the heap the stores hold, counted by the global allocator.
//!
//! Run: `cargo bench --bench controller_stores` (CONTROLLER_STORES_PODS / CONTROLLER_STORES_NODES
//! scale it; Deployments have 15 replicas and namespaces 10 Deployments at any size).
#![allow(clippy::print_stdout)] // A benchmark reports on stdout.

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/envelope.rs"]
mod envelope;
#[path = "support/resident.rs"]
mod resident;

use std::{
    collections::HashSet,
    error::Error,
    mem::size_of,
    sync::Arc,
    time::{Duration, Instant},
};

use cap::Cap;
use cluster::{count, node};
use envelope::{DEPLOYMENTS_PER_NAMESPACE, Kinds, REPLICAS, deployment};
use kube_spread::{
    clock::Clock,
    controller::stores::Stores,
    metrics::ControllerMetrics,
    planner::{self, model},
    sim::{SimApi, StoreConfig, WriteOptions},
};
use resident::{mib, resident_bytes};
use serde_json::json;

// The binary ships with mimalloc (see src/main.rs). `Cap` counts the bytes of every live
// allocation as requested (its own `unsafe impl GlobalAlloc`; this crate forbids unsafe code).
#[global_allocator]
static ALLOCATOR: Cap<mimalloc::MiMalloc> = Cap::new(mimalloc::MiMalloc, usize::MAX);

const SYNC_TIMEOUT: Duration = Duration::from_secs(600);
/// How long the synced watches idle before the heap is counted.
const IDLE: Duration = Duration::from_secs(2);

/// Where the pod store's bytes go, from the sizes of what it holds. Strings are counted at
/// their length (what was asked of the allocator when they were copied out of the object).
#[derive(Debug, Default)]
struct PodBreakdown {
    /// `Arc<Pod>`: the struct and the two reference counts.
    structs: usize,
    /// The pod's own strings: its name (the uid, a UUID, is 16 bytes in the struct; the owner's
    /// strings are shared with the owner's other pods).
    strings: usize,
    /// The B-tree map's entries (the key, which shares the pod's namespace and name through a
    /// second `Arc` of it, and the `Arc`), at its usual fill.
    slots: usize,
    /// Distinct label sets and scheduling specs the pods share.
    shared_labels: usize,
    shared_specs: usize,
}

fn breakdown(pods: &[Arc<model::Pod>]) -> PodBreakdown {
    let mut breakdown = PodBreakdown::default();
    let (mut labels, mut specs) = (HashSet::new(), HashSet::new());
    for pod in pods {
        breakdown.structs += size_of::<model::Pod>() + 2 * size_of::<usize>();
        breakdown.strings += pod.name.len();
        labels.insert(Arc::as_ptr(&pod.labels));
        specs.insert(Arc::as_ptr(&pod.spec));
    }
    // B-tree leaves hold up to 11 entries and are about two thirds full after random inserts.
    breakdown.slots = pods.len() * (2 * size_of::<usize>() + size_of::<Arc<model::Pod>>()) * 3 / 2;
    breakdown.shared_labels = labels.len();
    breakdown.shared_specs = specs.len();
    breakdown
}

fn main() -> Result<(), Box<dyn Error>> {
    let nodes = count("CONTROLLER_STORES_NODES", 5_000);
    let pods = count("CONTROLLER_STORES_PODS", 150_000);
    let deployments = pods.div_ceil(REPLICAS);
    let namespaces = deployments.div_ceil(DEPLOYMENTS_PER_NAMESPACE);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let _guard = runtime.enter();
    let sim = SimApi::with_config(
        Clock::starting_at("2025-10-20T08:00:00Z".parse()?),
        StoreConfig::default(),
    );
    let store = sim.store();
    let kinds = Kinds::of(store)?;

    let started = Instant::now();
    let controller = WriteOptions::manager("kube-controller-manager");
    let kubelet = WriteOptions::manager("kubelet");
    for n in 0..namespaces {
        store.create(
            kinds.namespace,
            "",
            json!({"metadata": {"name": format!("team-{n:04}")}}),
            &controller,
        )?;
    }
    for i in 0..nodes {
        store.create(kinds.node, "", node(i), &kubelet)?;
    }
    for d in 0..deployments {
        deployment(store, &kinds, d, pods, nodes, None)?;
    }
    let filled = started.elapsed();

    let metrics = ControllerMetrics::new()?;
    let stores = Arc::new(Stores::new());
    let before = ALLOCATOR.allocated();
    let resident_before = resident_bytes()?;
    let started = Instant::now();
    let watches = runtime.spawn(Arc::clone(&stores).watch_all(sim.client(), metrics.clone()));
    runtime.block_on(async {
        while !(stores.synced() && stores.pod_count() >= pods) {
            if started.elapsed() > SYNC_TIMEOUT {
                return Err(format!(
                    "the stores hold {} pods of {pods} after {SYNC_TIMEOUT:?}",
                    stores.pod_count()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    })?;
    let synced = started.elapsed();
    runtime.block_on(tokio::time::sleep(IDLE));
    let watching = ALLOCATOR.allocated();
    let resident_watching = resident_bytes()?;

    watches.abort();
    if let Err(error) = runtime.block_on(watches)
        && !error.is_cancelled()
    {
        return Err(error.into());
    }
    runtime.block_on(tokio::time::sleep(Duration::from_millis(100)));
    let invalid: u64 = [
        "Pod",
        "Node",
        "Deployment",
        "ReplicaSet",
        "PodDisruptionBudget",
    ]
    .iter()
    .map(|kind| metrics.invalid_objects.with_label_values(&[kind]).get())
    .sum();
    if invalid > 0 {
        return Err(format!("the watches could not read {invalid} objects").into());
    }
    // A picture of the stores, and a plan of it (no policy: the plan's memo of the pods and its
    // summary of the nodes), as an observation holds them. The first picture also builds the
    // model lists the stores keep for every later one, which count with the stores.
    drop(stores.cluster());
    let cluster = stores.cluster();
    let picture_held = ALLOCATOR.allocated();
    let now = "2025-10-20T09:00:00Z".parse()?;
    let plan = planner::plan(
        &cluster,
        &planner::PlanOptions {
            now,
            namespace: None,
            policy: None,
            source: planner::Source::Policies,
        },
    );
    let plan_held = ALLOCATOR.allocated();
    let counts = (
        cluster.nodes.len(),
        cluster.workloads.len(),
        cluster.replica_sets.len(),
        cluster.pdbs.len(),
    );
    let pod_store = breakdown(&cluster.pods);
    drop(plan);
    drop(cluster);
    let held = ALLOCATOR.allocated();
    let (picture, plan) = (
        picture_held.saturating_sub(held),
        plan_held.saturating_sub(picture_held),
    );
    if Arc::strong_count(&stores) != 1 {
        return Err("the stopped watches still hold the stores".into());
    }
    drop(stores);
    let released = ALLOCATOR.allocated();
    let resident_released = resident_bytes()?;

    let total = held.saturating_sub(released);
    let per_pod = |bytes: usize| bytes as f64 / pods.max(1) as f64;
    println!(
        "controller stores: {nodes} nodes, {pods} pods, {deployments} Deployments with a ReplicaSet and a PDB each, {namespaces} namespaces"
    );
    println!(
        "  fill the simulated API: {:.1} s; watches listed and synced in {:.1} s",
        filled.as_secs_f64(),
        synced.as_secs_f64()
    );
    println!(
        "  read into the stores: {} nodes, {} workloads, {} ReplicaSets, {} PDBs",
        counts.0, counts.1, counts.2, counts.3
    );
    println!(
        "  heap held by the stores (stores alive - stores dropped): {total} bytes = {:.1} MiB, {:.0} bytes per pod (target under 1024)",
        mib(total as u64),
        per_pod(total)
    );
    println!(
        "  an observation's own heap: the picture {:.0} bytes per pod, a plan of it without policies (the index memo, the node summary) {:.0} bytes per pod",
        per_pod(picture),
        per_pod(plan)
    );
    println!(
        "  live heap: before the watches {:.1} MiB, synced and watching {:.1} MiB, watches stopped {:.1} MiB, stores dropped {:.1} MiB",
        mib(before as u64),
        mib(watching as u64),
        mib(held as u64),
        mib(released as u64)
    );
    println!(
        "  the running watches' own heap (watching - stopped): {:.1} MiB",
        mib(watching.saturating_sub(held) as u64)
    );
    println!(
        "  pod store by size, bytes per pod: Arc<Pod> {:.0} (struct {}), own strings {:.0}, map slots (key sharing the pod's names) {:.0}; {} shared label sets, {} shared specs",
        per_pod(pod_store.structs),
        size_of::<model::Pod>(),
        per_pod(pod_store.strings),
        per_pod(pod_store.slots),
        pod_store.shared_labels,
        pod_store.shared_specs
    );
    println!(
        "  RSS before the watches {:.0} MiB, synced {:.0} MiB, stores dropped {:.0} MiB (allocator pages kept)",
        mib(resident_before),
        mib(resident_watching),
        mib(resident_released)
    );
    Ok(())
}
