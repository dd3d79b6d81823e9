//! The planner at the Kubernetes scalability envelope: 5,000 nodes in 3 zones, 150,000 pods,
//! 1,000 namespaces each with a SpreadPolicy carrying a hostname and a zone constraint. The
//! full plan is measured side by side with a bare pass that only counts pods per node, and the
//! model's memory per pod is read from the process's resident set.
//!
//! `cargo bench --bench planner` (add `-- --quick` for a shorter run).
#![allow(clippy::print_stdout, clippy::expect_used, clippy::unwrap_used)]

use std::{collections::HashMap, hint::black_box, sync::Arc, time::Duration};

use criterion::Criterion;

// The binary ships with mimalloc (see src/main.rs); measure the planner the same way.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use jiff::Timestamp;
use kube_spread::{
    api::{HOSTNAME_LABEL, SpreadPolicySpec, ZONE_LABEL},
    planner::{
        self, PlanOptions, Previous, Source,
        model::{
            Cluster, Labels, Node, Owner, Pod, PodPhase, Policy, ReplicaSet, Resources,
            SchedulingSpec, UpdateStrategy, Workload, WorkloadKind, WorkloadStatus,
        },
        selector::LabelSelector,
    },
    snapshot::convert,
};

const NODES: usize = 5_000;
const NAMESPACES: usize = 1_000;
const DEPLOYMENTS_PER_NAMESPACE: usize = 10;
const REPLICAS: usize = 15;

fn at(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

/// The synthetic cluster. Pods are spread round-robin, except that one in fifty Deployments
/// piled half its pods onto a few nodes (as after a zone outage), so some groups need moves.
fn cluster() -> Cluster {
    let started = at("2025-10-20T08:00:00Z");
    let nodes: Vec<Node> = (0..NODES)
        .map(|i| {
            let name = format!("node-{i:05}");
            Node {
                labels: Labels::from([
                    (HOSTNAME_LABEL.to_owned(), name.clone()),
                    (ZONE_LABEL.to_owned(), format!("zone-{}", i % 3)),
                ]),
                name,
                taints: Vec::new(),
                unschedulable: false,
                ready: true,
                ready_since: Some(started),
                created: Some(started),
                allocatable: Resources {
                    cpu_millis: 64_000,
                    memory_bytes: 256 << 30,
                    pods: 110,
                },
                images: Vec::new(),
            }
        })
        .collect();
    let node_names: Vec<Arc<str>> = nodes.iter().map(|n| Arc::from(n.name.as_str())).collect();
    let spec = Arc::new(SchedulingSpec {
        requests: Resources {
            cpu_millis: 100,
            memory_bytes: 128 << 20,
            pods: 0,
        },
        ..SchedulingSpec::default()
    });
    let policy_spec: SpreadPolicySpec = serde_json::from_value(serde_json::json!({
        "constraints": [
            {"maxSkew": 1, "topologyKey": ZONE_LABEL, "whenUnsatisfiable": "ScheduleAnyway"},
            {"maxSkew": 1, "topologyKey": HOSTNAME_LABEL, "whenUnsatisfiable": "ScheduleAnyway"},
        ],
    }))
    .expect("policy spec");
    let policy_spec = convert::policy_spec(&policy_spec);

    let mut cluster = Cluster {
        nodes: nodes.into(),
        ..Cluster::default()
    };
    let mut next_node = 0usize;
    for n in 0..NAMESPACES {
        let namespace: Arc<str> = Arc::from(format!("team-{n:04}").as_str());
        for d in 0..DEPLOYMENTS_PER_NAMESPACE {
            let name = format!("app-{d}");
            let app = Labels::from([("app".to_owned(), name.clone())]);
            let hash = format!("h{n}x{d}");
            let mut pod_labels = app.clone();
            pod_labels.insert("pod-template-hash".to_owned(), hash.clone());
            let pod_labels = Arc::new(pod_labels);
            let uid = format!("{namespace}-{name}");
            let rs_name = format!("{name}-{hash}");
            cluster.workloads.push(Arc::new(Workload {
                kind: WorkloadKind::Deployment,
                namespace: Arc::clone(&namespace),
                name: name.clone(),
                uid: uid.clone(),
                generation: 1,
                labels: app.clone(),
                ignored: false,
                selector: LabelSelector::from_labels(&app),
                replicas: i32::try_from(REPLICAS).unwrap(),
                template_labels: app.clone(),
                template: Arc::clone(&spec),
                strategy: UpdateStrategy::RollingUpdate {
                    max_surge: "25%".to_owned(),
                    max_unavailable: "25%".to_owned(),
                },
                claim_templates: Vec::new(),
                status: WorkloadStatus::default(),
            }));
            cluster.replica_sets.push(ReplicaSet {
                namespace: Arc::clone(&namespace),
                name: rs_name.clone(),
                uid: format!("{uid}-rs"),
                owner: Some(Owner {
                    kind: "Deployment".into(),
                    name: name.as_str().into(),
                    uid: uid.as_str().into(),
                }),
                template_hash: Some(hash),
                replicas: i32::try_from(REPLICAS).unwrap(),
                revision: 1,
            });
            let rs_owner = Owner {
                kind: "ReplicaSet".into(),
                name: rs_name.as_str().into(),
                uid: format!("{uid}-rs").into(),
            };
            let piled = (n * DEPLOYMENTS_PER_NAMESPACE + d).is_multiple_of(50);
            for r in 0..REPLICAS {
                let node = if piled && r % 2 == 0 {
                    next_node % 7
                } else {
                    next_node = (next_node + 1) % NODES;
                    next_node
                };
                cluster.pods.push(Arc::new(Pod {
                    namespace: Arc::clone(&namespace),
                    name: format!("{rs_name}-{r:05}"),
                    uid: format!("{uid}-{r}").into(),
                    labels: Arc::clone(&pod_labels),
                    node_name: Some(Arc::clone(&node_names[node])),
                    // One owner's strings for all its pods, as the controller's stores share them.
                    owner: Some(rs_owner.clone()),
                    phase: PodPhase::Running,
                    ready: true,
                    terminating: false,
                    created: Some(started),
                    started: Some(started),
                    mirror: false,
                    static_pod: false,
                    opt_outs: Default::default(),
                    deletion_cost: None,
                    spec: Arc::clone(&spec),
                }));
            }
        }
        cluster.policies.push(Policy {
            namespace: Arc::clone(&namespace),
            name: "spread".to_owned(),
            generation: 1,
            created: Some(started),
            spec: policy_spec.clone(),
        });
    }
    cluster
}

/// The baseline: one pass over the pods, counting them per node.
fn bare_pass(cluster: &Cluster) -> usize {
    let mut per_node: HashMap<&str, u32> = HashMap::with_capacity(cluster.nodes.len());
    for pod in &cluster.pods {
        if let Some(node) = &pod.node_name {
            *per_node.entry(node).or_insert(0) += 1;
        }
    }
    per_node.len()
}

fn options() -> PlanOptions {
    PlanOptions {
        now: at("2025-10-20T12:00:00Z"),
        namespace: None,
        policy: None,
        source: Source::Policies,
    }
}

fn full_plan(cluster: &Cluster) -> usize {
    planner::plan(cluster, &options()).summary.moves
}

/// The cluster with one pod gone, as the controller's next observation would see it after a
/// deletion: every other pod shared with `cluster`.
fn one_pod_deleted(cluster: &Cluster) -> Cluster {
    let mut changed = cluster.clone();
    changed
        .pods
        .remove(REPLICAS * DEPLOYMENTS_PER_NAMESPACE * NAMESPACES / 2);
    changed
}

/// Resident memory in bytes, from /proc/self/statm (0 where unavailable).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn main() {
    let before = resident_bytes();
    let cluster = cluster();
    let after = resident_bytes();
    let pods = cluster.pods.len();
    println!(
        "model: {} nodes, {} pods, {} workloads, {} policies; {:.0} bytes of resident memory per pod",
        cluster.nodes.len(),
        pods,
        cluster.workloads.len(),
        cluster.policies.len(),
        (after.saturating_sub(before)) as f64 / pods as f64
    );
    println!("planned moves: {}", full_plan(&cluster));

    let mut criterion = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .configure_from_args();
    let mut group = criterion.benchmark_group("planner");
    group.bench_function("bare_pass_counting_pods_per_node", |b| {
        b.iter(|| black_box(bare_pass(black_box(&cluster))))
    });
    group.bench_function("full_plan", |b| {
        b.iter(|| black_box(full_plan(black_box(&cluster))))
    });
    // What the controller does after a burst that changed one namespace: plan again from the
    // plan before, which keeps the groups of every namespace that did not change.
    let options = options();
    let previous = planner::plan(&cluster, &options);
    let changed = one_pod_deleted(&cluster);
    let from_previous = |changed: &Cluster| {
        let previous = Previous {
            cluster: &cluster,
            plan: &previous,
        };
        planner::plan_after(changed, &options, Some(previous))
    };
    let json = |plan: &planner::Plan| serde_json::to_string(plan).expect("a plan serializes");
    assert_eq!(
        json(&from_previous(&changed)),
        json(&planner::plan(&changed, &options)),
        "the plan made from the one before differs from a plan from scratch"
    );
    group.bench_function("plan_after_one_pod_deleted", |b| {
        b.iter(|| black_box(from_previous(black_box(&changed)).summary.moves))
    });
    group.finish();
    criterion.final_summary();
}
