//! Keeping spread when a Deployment scales down, end to end: the real controller, under the
//! chart's RBAC, sets `controller.kubernetes.io/pod-deletion-cost` on the simulated cluster,
//! whose ReplicaSet controller ranks pods for deletion as upstream's does.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::{Api, runtime::watcher};
use kube_spread::sim::{
    SimApi,
    report::Report,
    scenario::{Scenario, Simulation},
};
use serde_json::{Value, json};
use support::controller::{CONTROLLER_USER, grant, replica};

/// The zones and their nodes: unequal, so pods per node differ between zones and the
/// ReplicaSet controller's own ranking (most pods on the same node first) empties the
/// smallest zone first.
const ZONES: [(&str, &[&str]); 3] = [
    ("zone-a", &["a1"]),
    ("zone-b", &["b1", "b2"]),
    ("zone-c", &["c1", "c2", "c3"]),
];

/// The Deployments, each with this many replicas before the scale-down, half after.
const DEPLOYMENTS: [&str; 2] = ["web", "api"];
const REPLICAS: u32 = 12;

/// The zone constraint's maxSkew.
const MAX_SKEW: usize = 1;

fn object(value: Value) -> String {
    format!("  - {value}\n")
}

fn node(name: &str, zone: &str) -> String {
    object(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                              "topology.kubernetes.io/zone": zone}},
        "status": {"allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"}}}))
}

fn deployment(name: &str) -> String {
    object(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "apps", "labels": {"app": name}},
        "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"terminationGracePeriodSeconds": 5,
                                       "containers": [{"name": "main", "image": "x",
                                                       "resources": {"requests": {"cpu": "100m"}}}]}}}}))
}

/// Each Deployment spreads on its own over zones (hard) and nodes (soft); rebalancing is off,
/// so any spread kept comes from the deletion order alone.
fn policy(scale_down: &str) -> String {
    object(
        json!({"apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
        "metadata": {"name": "spread", "namespace": "apps"},
        "spec": {"scope": "Workload",
                 "constraints": [
                     {"maxSkew": MAX_SKEW, "topologyKey": "topology.kubernetes.io/zone",
                      "whenUnsatisfiable": "DoNotSchedule"},
                     {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                      "whenUnsatisfiable": "ScheduleAnyway"}],
                 "rebalance": {"mode": "Off"},
                 "scaleDown": scale_down}}),
    )
}

/// The cluster, the policy, and both Deployments scaled to half at 40m.
fn scenario(scale_down: &str) -> Scenario {
    let mut objects = String::new();
    for (zone, nodes) in ZONES {
        for name in nodes {
            objects.push_str(&node(name, zone));
        }
    }
    for name in DEPLOYMENTS {
        objects.push_str(&deployment(name));
    }
    objects.push_str(&policy(scale_down));
    let events: String = DEPLOYMENTS
        .iter()
        .map(|name| {
            format!(
                "  - {{at: 40m, scale: {{kind: Deployment, namespace: apps, name: {name}, replicas: {}}}}}\n",
                REPLICAS / 2
            )
        })
        .collect();
    let text = format!(
        "name: scale-down\nsettings: {{seed: 7, duration: 1h, podStartup: {{min: 5s, max: 20s}}, sampleEvery: 1m}}\n\
         events:\n{events}objects:\n  - {{apiVersion: v1, kind: Namespace, metadata: {{name: apps}}}}\n{objects}"
    );
    Scenario::parse("scale-down", &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Pods created and deleted in the namespace while the scenario ran, as a watch sees them.
#[derive(Debug, Default)]
struct PodEvents {
    seen: BTreeSet<String>,
    created: usize,
    deleted: usize,
}

/// Watches the namespace's pods and counts their creations and deletions.
fn count_pod_events(
    sim: &SimApi,
    events: Arc<Mutex<PodEvents>>,
) -> impl Future<Output = ()> + Send + 'static {
    let pods: Api<Pod> = Api::namespaced(sim.client(), "apps");
    async move {
        let mut stream = watcher(pods, watcher::Config::default()).boxed();
        while let Some(Ok(event)) = stream.next().await {
            let mut events = events.lock().unwrap();
            match event {
                watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => {
                    if events.seen.insert(pod.metadata.name.unwrap_or_default()) {
                        events.created += 1;
                    }
                }
                watcher::Event::Delete(_) => events.deleted += 1,
                watcher::Event::Init | watcher::Event::InitDone => {}
            }
        }
    }
}

/// What a run left: pods per zone per Deployment at the end, evictions, annotation writes
/// and pod events.
struct Outcome {
    zones: BTreeMap<String, BTreeMap<String, usize>>,
    evictions: usize,
    writes: usize,
    /// Of the writes, those made from just before the scale-down to the end.
    writes_from_scale_down: usize,
    pod_events: usize,
    report: Report,
}

async fn run(scale_down: &str) -> Outcome {
    let mut simulation = Simulation::new(scenario(scale_down)).unwrap();
    let api = simulation.api().clone();
    grant(&api, None).await;
    simulation.spawn(replica(
        &api,
        CONTROLLER_USER,
        "kube-spread-0",
        false,
        std::future::pending(),
    ));
    let events = Arc::new(Mutex::new(PodEvents::default()));
    simulation.spawn(count_pod_events(&api, events.clone()));
    let before_scale_down = Arc::new(Mutex::new(None));
    let (audit, noted) = (api.clone(), before_scale_down.clone());
    simulation.spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(39 * 60)).await;
        *noted.lock().unwrap() = Some(cost_writes(&audit));
    });
    let report = simulation.run().await.unwrap();
    let zone_of: BTreeMap<&str, &str> = ZONES
        .iter()
        .flat_map(|(zone, nodes)| nodes.iter().map(move |node| (*node, *zone)))
        .collect();
    let mut zones: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for name in DEPLOYMENTS {
        let counts = zones.entry(name.to_owned()).or_default();
        for (zone, _) in ZONES {
            counts.insert(zone.to_owned(), 0);
        }
    }
    for pod in report
        .final_pods
        .iter()
        .filter(|pod| pod.namespace == "apps")
    {
        let app = DEPLOYMENTS
            .iter()
            .find(|app| pod.name.starts_with(&format!("{app}-")))
            .unwrap_or_else(|| panic!("{} belongs to no Deployment", pod.name));
        if pod.terminating {
            continue;
        }
        let zone = zone_of[pod.node.as_deref().expect("every pod is bound")];
        *zones.get_mut(*app).unwrap().get_mut(zone).unwrap() += 1;
    }
    let audit = api.audit().of(CONTROLLER_USER);
    let evictions = audit
        .iter()
        .filter(|r| r.resource == "pods/eviction" && r.writes())
        .count();
    let writes = cost_writes(&api);
    let writes_from_scale_down = writes - before_scale_down.lock().unwrap().expect("noted at 39m");
    let pod_events = {
        let events = events.lock().unwrap();
        events.created + events.deleted
    };
    Outcome {
        zones,
        evictions,
        writes,
        writes_from_scale_down,
        pod_events,
        report,
    }
}

/// The controller's successful pod patches so far: its pod-deletion-cost writes.
fn cost_writes(api: &SimApi) -> usize {
    api.audit()
        .of(CONTROLLER_USER)
        .iter()
        .filter(|r| r.resource == "pods" && r.verb == "patch" && r.writes() && r.code < 300)
        .count()
}

fn skew(counts: &BTreeMap<String, usize>) -> usize {
    counts.values().max().unwrap() - counts.values().min().unwrap()
}

#[tokio::test(start_paused = true)]
async fn deployments_scaled_down_by_half_stay_within_the_zone_max_skew_without_an_eviction() {
    let outcome = run("KeepSpread").await;
    for (app, counts) in &outcome.zones {
        assert_eq!(
            counts.values().sum::<usize>(),
            REPLICAS as usize / 2,
            "{app}: {counts:?}"
        );
        assert!(
            skew(counts) <= MAX_SKEW,
            "{app} ends at {counts:?} per zone, above maxSkew {MAX_SKEW}"
        );
    }
    assert_eq!(outcome.evictions, 0);
    assert_eq!(outcome.report.moves, 0, "{:#?}", outcome.report.move_log);
    // Every pod is written about once when it appears (the injection's rollout replaces every
    // pod once); the scale-down removes only pods whose removal shifts no other pod's level.
    let per_event = outcome.writes as f64 / outcome.pod_events as f64;
    println!(
        "KeepSpread: {} pod-deletion-cost writes over {} pod events ({per_event:.2} per event), \
         {} of them from the scale-down on; zones at the end: {:?}",
        outcome.writes, outcome.pod_events, outcome.writes_from_scale_down, outcome.zones
    );
    assert_eq!(outcome.writes_from_scale_down, 0);
    assert!(outcome.writes > 0);
    assert!(
        per_event <= 1.0,
        "{} writes for {} pod events",
        outcome.writes,
        outcome.pod_events
    );
}

#[tokio::test(start_paused = true)]
async fn without_keep_spread_the_same_scale_down_leaves_the_zones_skewed() {
    let outcome = run("Ignore").await;
    for (app, counts) in &outcome.zones {
        assert!(
            skew(counts) > MAX_SKEW,
            "{app} ends at {counts:?} per zone: the ReplicaSet controller alone kept the spread"
        );
    }
    assert_eq!(outcome.writes, 0, "Ignore writes no annotation");
    assert_eq!(outcome.evictions, 0);
    println!(
        "Ignore: {} pod events; zones at the end: {:?}",
        outcome.pod_events, outcome.zones
    );
}
