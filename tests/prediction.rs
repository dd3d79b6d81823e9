//! The planner's prediction of kube-scheduler's placement (`planner::score`) against the
//! simulated scheduler's own implementation, on random small clusters: the same feasible nodes,
//! the same normalized score from every default score plugin, the same weighted total. Every
//! difference is a bug in one of them; each one found is pinned by a named test below.
// Fixtures panic on setup failures, as tests do.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use k8s_openapi::api::{
    apps::v1::ReplicaSet,
    core::v1::{Namespace, Node, Pod},
};
use kube_spread::{
    api::{HOSTNAME_LABEL, ZONE_LABEL},
    planner::{
        index::Index,
        model::{Cluster, Labels},
        score::{Departure, Incoming, Plugin, Prediction, Scene, Scores},
    },
    sim::{
        control::scheduler::{Evaluation, Inputs, View, WEIGHTS, evaluate},
        prng::Prng,
    },
    snapshot::convert,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const MB: i64 = 1024 * 1024;

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

/// A cluster in API objects, and a pod to place.
#[derive(Clone, Debug, Default)]
struct Case {
    nodes: Vec<Value>,
    pods: Vec<Value>,
    replica_sets: Vec<Value>,
    deployments: Vec<Value>,
    namespaces: Vec<Value>,
    incoming: Value,
}

/// A Ready node with a hostname label, 4 cpus, 8Gi and 110 pods.
fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {HOSTNAME_LABEL: name}},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}})
}

/// A pod of `app` in `default`, one container requesting nothing.
fn pod(name: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                     "labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": "app"}]}})
}

fn on(mut pod: Value, node: &str) -> Value {
    pod["spec"]["nodeName"] = json!(node);
    pod
}

fn namespace(name: &str, team: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {"team": team}}})
}

/// The simulated scheduler's evaluation of the case.
fn simulated(case: &Case) -> Evaluation {
    let nodes: Vec<Node> = case.nodes.iter().cloned().map(typed).collect();
    let pods: Vec<Pod> = case.pods.iter().cloned().map(typed).collect();
    let replica_sets: Vec<ReplicaSet> = case.replica_sets.iter().cloned().map(typed).collect();
    let namespaces: Vec<Namespace> = case.namespaces.iter().cloned().map(typed).collect();
    let inputs = Inputs {
        nodes: nodes.iter().collect(),
        pods: pods.iter().collect(),
        replica_sets: replica_sets.iter().collect(),
        namespaces: namespaces.iter().collect(),
        ..Inputs::default()
    };
    evaluate(&View::new(&inputs), &typed(case.incoming.clone()))
}

/// The planner's prediction for the case.
fn predicted(case: &Case) -> Prediction {
    predict_with(case, |scene, incoming| scene.predict(incoming, None))
}

/// The planner's prediction for the replacement of the case's pod `replaced`, which is
/// terminating meanwhile or gone.
fn predicted_replacement(case: &Case, replaced: usize, departure: Departure) -> Prediction {
    predict_with(case, |scene, _| {
        scene.predict_replacement(replaced, departure)
    })
}

/// Converts the case, as the planner sees it, and asks `ask`.
fn predict_with(
    case: &Case,
    ask: impl Fn(&mut Scene<'_, '_>, &Incoming<'_>) -> Prediction,
) -> Prediction {
    let mut interner = convert::Interner::new();
    let cluster = Cluster {
        nodes: case
            .nodes
            .iter()
            .map(|n| convert::node(&typed(n.clone())).unwrap())
            .collect(),
        pods: case
            .pods
            .iter()
            .map(|p| Arc::new(convert::pod(&typed(p.clone()), &mut interner).unwrap()))
            .collect(),
        workloads: case
            .deployments
            .iter()
            .map(|d| Arc::new(convert::deployment(&typed(d.clone())).unwrap()))
            .collect(),
        replica_sets: case
            .replica_sets
            .iter()
            .map(|r| convert::replica_set(&typed(r.clone())).unwrap())
            .collect(),
        ..Cluster::default()
    };
    let incoming = convert::pod(&typed(case.incoming.clone()), &mut interner).unwrap();
    let index = Index::new(&cluster);
    let mut scene = Scene::new(&index);
    for namespace in &case.namespaces {
        let labels: Labels = typed(namespace["metadata"]["labels"].clone());
        scene.set_namespace_labels(namespace["metadata"]["name"].as_str().unwrap(), labels);
    }
    ask(
        &mut scene,
        &Incoming {
            namespace: &incoming.namespace,
            labels: &incoming.labels,
            spec: &incoming.spec,
            owner: incoming.owner.as_ref(),
        },
    )
}

fn plugin_named(name: &str) -> Plugin {
    Plugin::ALL
        .into_iter()
        .find(|plugin| plugin.name() == name)
        .unwrap()
}

/// Every difference between the two, one line each.
fn differences(case: &Case) -> Vec<String> {
    compare(&simulated(case), &predicted(case))
}

fn compare(evaluation: &Evaluation, prediction: &Prediction) -> Vec<String> {
    let mut found = Vec::new();
    assert_eq!(evaluation.nodes.len(), prediction.verdicts.len());
    for (sim, planner) in evaluation.nodes.iter().zip(&prediction.verdicts) {
        let node = &sim.node;
        match (&sim.rejection, planner) {
            (Some(_), Err(_)) => {}
            (None, Err(refusal)) => found.push(format!("{node}: planner refuses ({refusal})")),
            (Some(rejection), Ok(_)) => {
                found.push(format!(
                    "{node}: simulated scheduler refuses ({rejection:?})"
                ));
            }
            (None, Ok(scores)) => {
                for (name, _) in WEIGHTS {
                    let ours = scores.get(plugin_named(name));
                    let theirs = sim.scores.get(name).copied();
                    if ours != theirs {
                        found.push(format!("{node}: {name} {ours:?} != simulated {theirs:?}"));
                    }
                }
                if scores.total() != sim.total {
                    found.push(format!("{node}: total {} != {}", scores.total(), sim.total));
                }
            }
        }
    }
    found
}

fn agree(case: &Case) {
    let found = differences(case);
    assert!(found.is_empty(), "{found:#?}\n{case:#?}");
}

// ---------------------------------------------------------------------------------------
// Random cases.

fn pick<T: Copy>(random: &mut Prng, values: &[T]) -> T {
    values[(random.next_u64() % values.len() as u64) as usize]
}

fn chance(random: &mut Prng, percent: u64) -> bool {
    random.next_u64() % 100 < percent
}

const IMAGES: [(&str, i64); 4] = [
    ("app:1.0", 300 * MB),
    ("db:2", 800 * MB),
    ("sidecar", 60 * MB),
    ("huge:1", 1500 * MB),
];

fn resources(random: &mut Prng) -> Value {
    let mut requests = serde_json::Map::new();
    if chance(random, 60) {
        requests.insert(
            "cpu".into(),
            json!(pick(random, &["100m", "500m", "1", "1500m"])),
        );
    }
    if chance(random, 60) {
        requests.insert(
            "memory".into(),
            json!(pick(random, &["128Mi", "1Gi", "3Gi"])),
        );
    }
    json!({"requests": requests})
}

fn containers(random: &mut Prng, pod: &mut Value) {
    pod["spec"]["containers"][0]["resources"] = resources(random);
    pod["spec"]["containers"][0]["image"] = json!(pick(random, &IMAGES).0);
    if chance(random, 30) {
        let side =
            json!({"name": "side", "image": "sidecar:latest", "resources": resources(random)});
        pod["spec"]["containers"].as_array_mut().unwrap().push(side);
    }
    if chance(random, 15) {
        pod["spec"]["initContainers"] = json!([{"name": "init", "image": pick(random, &IMAGES).0,
            "resources": resources(random)}]);
    }
}

fn affinity_term(random: &mut Prng) -> Value {
    let mut term = json!({
        "labelSelector": {"matchLabels": {"app": pick(random, &["a", "b", "c"])}},
        "topologyKey": pick(random, &[HOSTNAME_LABEL, ZONE_LABEL, "disk"]),
    });
    match random.next_u64() % 5 {
        0 => term["namespaces"] = json!(["other"]),
        1 => term["namespaceSelector"] = json!({}),
        2 => term["namespaceSelector"] = json!({"matchLabels": {"team": "x"}}),
        _ => {}
    }
    term
}

fn weighted(random: &mut Prng) -> Value {
    json!({"weight": 1 + random.next_u64() % 100, "podAffinityTerm": affinity_term(random)})
}

/// Pod (anti-)affinity, each kind of term now and then.
fn pod_affinity(random: &mut Prng, required: bool) -> Value {
    let mut affinity = json!({"podAffinity": {}, "podAntiAffinity": {}});
    if required && chance(random, 25) {
        affinity["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] =
            json!([affinity_term(random)]);
    }
    if required && chance(random, 30) {
        affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] =
            json!([affinity_term(random)]);
    }
    if chance(random, 50) {
        affinity["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] =
            json!([weighted(random)]);
    }
    if chance(random, 50) {
        affinity["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] =
            json!([weighted(random), weighted(random)]);
    }
    affinity
}

fn random_node(random: &mut Prng, i: u64) -> Value {
    let name = format!("n{i}");
    let mut n = node(&name);
    if chance(random, 80) {
        n["metadata"]["labels"][ZONE_LABEL] = json!(pick(random, &["z0", "z1", "z2"]));
    }
    n["metadata"]["labels"]["disk"] = json!(pick(random, &["ssd", "hdd"]));
    n["status"]["allocatable"] = json!({
        "cpu": pick(random, &["2", "4", "8"]),
        "memory": pick(random, &["4Gi", "8Gi", "16Gi"]),
        "pods": pick(random, &["4", "110"]),
    });
    let mut taints = Vec::new();
    if chance(random, 15) {
        taints.push(json!({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}));
    }
    if chance(random, 25) {
        taints.push(json!({"key": "soft", "effect": "PreferNoSchedule"}));
    }
    if chance(random, 10) {
        taints.push(json!({"key": "draining", "value": "yes", "effect": "PreferNoSchedule"}));
    }
    n["spec"] = json!({"taints": taints, "unschedulable": chance(random, 5)});
    let images: Vec<Value> = IMAGES
        .iter()
        .filter(|_| chance(random, 40))
        .map(|(name, size)| {
            let tagged = if name.contains(':') {
                (*name).to_owned()
            } else {
                format!("{name}:latest")
            };
            json!({"names": [tagged, format!("registry.example/{name}@sha256:0")], "sizeBytes": size})
        })
        .collect();
    n["status"]["images"] = json!(images);
    n
}

fn random_case(seed: u64) -> Case {
    let random = &mut Prng::new(seed);
    let node_count = 1 + random.next_u64() % 5;
    let nodes: Vec<Value> = (0..node_count).map(|i| random_node(random, i)).collect();
    let pods: Vec<Value> = (0..random.next_u64() % 10)
        .map(|i| {
            let mut p = pod(&format!("old-{i}"), pick(random, &["a", "b", "c"]));
            if chance(random, 25) {
                p["metadata"]["namespace"] = json!("other");
            }
            containers(random, &mut p);
            if chance(random, 10) {
                p["spec"]["containers"][0]["ports"] =
                    json!([{"containerPort": 80, "hostPort": 80}]);
            }
            if chance(random, 10) {
                p["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
            }
            if chance(random, 30) {
                p["spec"]["affinity"] = pod_affinity(random, true);
            }
            on(p, &format!("n{}", random.next_u64() % node_count))
        })
        .collect();
    let app = pick(random, &["a", "b"]);
    let mut incoming = pod("new", app);
    containers(random, &mut incoming);
    let mut tolerations = Vec::new();
    if chance(random, 30) {
        tolerations.push(json!({"key": "dedicated", "operator": "Exists"}));
    }
    if chance(random, 20) {
        tolerations
            .push(json!({"key": "soft", "operator": "Exists", "effect": "PreferNoSchedule"}));
    }
    if chance(random, 10) {
        tolerations.push(json!({"key": "draining", "value": "yes"}));
    }
    if chance(random, 10) {
        tolerations.push(json!({"key": "soft", "operator": "Exists", "effect": "NoSchedule"}));
    }
    incoming["spec"]["tolerations"] = json!(tolerations);
    if chance(random, 15) {
        incoming["spec"]["nodeSelector"] = json!({"disk": "ssd"});
    }
    let mut affinity = if chance(random, 40) {
        {
            let required = chance(random, 50);
            pod_affinity(random, required)
        }
    } else {
        json!({})
    };
    if chance(random, 15) {
        affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = json!({
            "nodeSelectorTerms": [{"matchExpressions": [{"key": ZONE_LABEL, "operator": "In", "values": ["z0", "z1"]}]}]});
    }
    if chance(random, 40) {
        affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] = json!([
            {"weight": 1 + random.next_u64() % 100,
             "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
            {"weight": 1 + random.next_u64() % 100,
             "preference": {"matchExpressions": [{"key": ZONE_LABEL, "operator": pick(random, &["In", "NotIn"]), "values": ["z1"]}]}},
        ]);
    }
    incoming["spec"]["affinity"] = affinity;
    if chance(random, 10) {
        incoming["spec"]["containers"][0]["ports"] = json!([{"containerPort": 80, "hostPort": 80}]);
    }
    let constraints: Vec<Value> = (0..random.next_u64() % 3)
        .map(|_| {
            let when = pick(random, &["DoNotSchedule", "ScheduleAnyway"]);
            let mut c = json!({
                "maxSkew": 1 + random.next_u64() % 3,
                "topologyKey": pick(random, &[HOSTNAME_LABEL, ZONE_LABEL]),
                "whenUnsatisfiable": when,
                "labelSelector": {"matchLabels": {"app": pick(random, &["a", "b"])}},
            });
            if when == "DoNotSchedule" && chance(random, 25) {
                c["minDomains"] = json!(2 + random.next_u64() % 3);
            }
            if chance(random, 25) {
                c["nodeAffinityPolicy"] = json!("Ignore");
            }
            if chance(random, 25) {
                c["nodeTaintsPolicy"] = json!("Honor");
            }
            if chance(random, 20) {
                c["matchLabelKeys"] = json!(["pod-template-hash"]);
            }
            c
        })
        .collect();
    if !constraints.is_empty() {
        incoming["spec"]["topologySpreadConstraints"] = json!(constraints);
    }
    let mut case = Case {
        nodes,
        pods,
        namespaces: vec![
            namespace("default", "x"),
            namespace("other", pick(random, &["x", "y"])),
        ],
        ..Case::default()
    };
    if chance(random, 50) {
        owned_by_deployment(&mut case, &mut incoming, app);
    }
    case.incoming = incoming;
    case
}

/// Makes `incoming` a pod of the Deployment `web` through its ReplicaSet, as the system
/// default spreading reads it, with some existing pods of the same ReplicaSet.
fn owned_by_deployment(case: &mut Case, incoming: &mut Value, app: &str) {
    const HASH: &str = "5d8f";
    case.deployments
        .push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "web-uid"},
        "spec": {"selector": {"matchLabels": {"app": app}},
                 "template": {"metadata": {"labels": {"app": app}},
                              "spec": {"containers": [{"name": "c", "image": "app"}]}}}}));
    case.replica_sets
        .push(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": format!("web-{HASH}"), "namespace": "default", "uid": "rs-uid",
                     "labels": {"app": app, "pod-template-hash": HASH},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                          "name": "web", "uid": "web-uid", "controller": true}]},
        "spec": {"selector": {"matchLabels": {"app": app, "pod-template-hash": HASH}},
                 "template": {"metadata": {"labels": {"app": app, "pod-template-hash": HASH}},
                              "spec": {"containers": [{"name": "c", "image": "app"}]}}}}));
    let owner = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("web-{HASH}"),
                        "uid": "rs-uid", "controller": true}]);
    incoming["metadata"]["labels"]["pod-template-hash"] = json!(HASH);
    incoming["metadata"]["ownerReferences"] = owner.clone();
    for existing in &mut case.pods {
        if existing["metadata"]["labels"]["app"] == app
            && existing["metadata"]["namespace"] == "default"
        {
            existing["metadata"]["labels"]["pod-template-hash"] = json!(HASH);
            existing["metadata"]["ownerReferences"] = owner.clone();
        }
    }
}

/// The case with one existing pod evicted: terminating where it is, its replacement (the
/// same pod, unbound) to place. None without pods.
fn eviction(case: &Case, seed: u64) -> Option<(Case, usize)> {
    if case.pods.is_empty() {
        return None;
    }
    let replaced = (seed % case.pods.len() as u64) as usize;
    let mut evicted = case.clone();
    let mut replacement = case.pods[replaced].clone();
    replacement["metadata"]["name"] = json!("replacement");
    replacement["metadata"]["uid"] = json!("uid-replacement");
    if let Some(spec) = replacement["spec"].as_object_mut() {
        spec.remove("nodeName");
    }
    if let Some(metadata) = replacement["metadata"].as_object_mut() {
        metadata.remove("deletionTimestamp");
    }
    evicted.pods[replaced]["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    evicted.incoming = replacement;
    Some((evicted, replaced))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_planner_scores_every_feasible_node_as_the_simulated_scheduler_does(seed in any::<u64>()) {
        let case = random_case(seed);
        let found = differences(&case);
        prop_assert!(found.is_empty(), "seed {}: {:#?}\n{:#?}", seed, found, case);
    }

    #[test]
    fn the_planner_predicts_an_evicted_pods_replacement_while_the_pod_terminates(seed in any::<u64>()) {
        let case = random_case(seed);
        if let Some((evicted, replaced)) = eviction(&case, seed) {
            // The planner sees the cluster before the eviction; the scheduler sees it after.
            let planned = predicted_replacement(&case, replaced, Departure::Terminating);
            let found = compare(&simulated(&evicted), &planned);
            prop_assert!(found.is_empty(), "seed {}: {:#?}\n{:#?}", seed, found, evicted);
        }
    }

    #[test]
    fn a_drain_taint_the_plan_adds_scores_as_the_same_taint_on_the_node_would(seed in any::<u64>()) {
        let case = random_case(seed);
        let drained = (seed % case.nodes.len() as u64) as usize;
        let mut tainted = case.clone();
        let taints = &mut tainted.nodes[drained]["spec"]["taints"];
        let taint = json!({"key": "kubespread.io/draining", "value": "x", "effect": "PreferNoSchedule"});
        taints.as_array_mut().unwrap().push(taint);
        let planned = predict_with(&case, |scene, incoming| {
            scene.prefer_no_schedule(drained, "kubespread.io/draining", "x");
            scene.predict(incoming, None)
        });
        let found = compare(&simulated(&tainted), &planned);
        prop_assert!(found.is_empty(), "seed {}: {:#?}\n{:#?}", seed, found, tainted);
    }

    #[test]
    fn the_planner_predicts_an_evicted_pods_replacement_once_the_pod_is_gone(seed in any::<u64>()) {
        let case = random_case(seed);
        if let Some((mut gone, replaced)) = eviction(&case, seed) {
            gone.pods.remove(replaced);
            let planned = predicted_replacement(&case, replaced, Departure::Gone);
            let found = compare(&simulated(&gone), &planned);
            prop_assert!(found.is_empty(), "seed {}: {:#?}\n{:#?}", seed, found, gone);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Hand-computed cases from upstream's documented examples and tests.

fn scores_on(prediction: &Prediction, node: usize) -> Scores {
    prediction.verdicts[node].clone().unwrap()
}

#[test]
fn least_allocated_and_balanced_allocation_give_upstreams_numbers_for_two_node_sizes() {
    // noderesources' tests: 3000m and 5000 bytes requested on 4000m / 10000 and 6000m / 10000
    // nodes score LeastAllocated 37 and 50, BalancedAllocation 87 and 100.
    let mut small = node("small");
    small["status"]["allocatable"] = json!({"cpu": "4", "memory": "10000", "pods": "110"});
    let mut large = node("large");
    large["status"]["allocatable"] = json!({"cpu": "6", "memory": "10000", "pods": "110"});
    let mut incoming = pod("new", "web");
    incoming["spec"]["containers"][0]["resources"] =
        json!({"requests": {"cpu": "3", "memory": "5000"}});
    let case = Case {
        nodes: vec![large, small],
        incoming,
        ..Case::default()
    };
    agree(&case);
    let prediction = predicted(&case);
    let (large, small) = (scores_on(&prediction, 0), scores_on(&prediction, 1));
    assert_eq!(small.get(Plugin::NodeResourcesFit), Some(37));
    assert_eq!(large.get(Plugin::NodeResourcesFit), Some(50));
    assert_eq!(small.get(Plugin::NodeResourcesBalancedAllocation), Some(87));
    assert_eq!(
        large.get(Plugin::NodeResourcesBalancedAllocation),
        Some(100)
    );
    assert_eq!(prediction.predicted(), Some(0));
}

#[test]
fn image_locality_gives_upstreams_numbers_for_two_images_on_two_nodes() {
    // imagelocality's test: 40 MB held by one node of two scores 0 (below 23 MB once
    // scaled), 250 MB held by the other scores 5.
    let mut a = node("a");
    a["status"]["images"] = json!([{"names": ["gcr.io/40:latest"], "sizeBytes": 40 * MB}]);
    let mut b = node("b");
    b["status"]["images"] = json!([{"names": ["gcr.io/250:latest"], "sizeBytes": 250 * MB}]);
    let mut incoming = pod("new", "web");
    incoming["spec"]["containers"] = json!([{"name": "a", "image": "gcr.io/40"},
                                            {"name": "b", "image": "gcr.io/250:latest"}]);
    let case = Case {
        nodes: vec![a, b],
        incoming,
        ..Case::default()
    };
    agree(&case);
    let prediction = predicted(&case);
    assert_eq!(
        scores_on(&prediction, 0).get(Plugin::ImageLocality),
        Some(0)
    );
    assert_eq!(
        scores_on(&prediction, 1).get(Plugin::ImageLocality),
        Some(5)
    );
}

#[test]
fn the_system_default_spreading_sends_a_deployments_pod_to_the_node_with_fewest_of_its_pods() {
    let mut case = Case {
        nodes: vec![node("a"), node("b")],
        pods: (0..3)
            .map(|i| on(pod(&format!("web-{i}"), "web"), "a"))
            .collect(),
        ..Case::default()
    };
    let mut incoming = pod("new", "web");
    owned_by_deployment(&mut case, &mut incoming, "web");
    case.incoming = incoming;
    agree(&case);
    let prediction = predicted(&case);
    assert_eq!(
        scores_on(&prediction, 1).get(Plugin::PodTopologySpread),
        Some(100)
    );
    assert!(scores_on(&prediction, 0).get(Plugin::PodTopologySpread) < Some(100));
    assert_eq!(prediction.predicted(), Some(1));
}

#[test]
fn scores_serialize_by_plugin_name_with_the_weighted_total() {
    let case = Case {
        nodes: vec![node("a")],
        incoming: pod("new", "web"),
        ..Case::default()
    };
    let prediction = predicted(&case);
    let json = serde_json::to_value(scores_on(&prediction, 0)).unwrap();
    assert_eq!(
        json,
        json!({"TaintToleration": 100, "NodeResourcesFit": 97, "ImageLocality": 0,
               "total": 3 * 100 + 97})
    );
}

#[test]
fn explain_shows_each_feasible_nodes_scores_by_plugin_and_the_predicted_node() {
    let mut interner = convert::Interner::new();
    let mut tainted = node("c");
    tainted["spec"] = json!({"taints": [{"key": "gpu", "effect": "NoSchedule"}]});
    let cluster = Cluster {
        nodes: [node("a"), node("b"), tainted]
            .into_iter()
            .map(|n| convert::node(&typed(n)).unwrap())
            .collect(),
        pods: (0..3)
            .map(|i| on(pod(&format!("old-{i}"), "web"), "a"))
            .map(|p| Arc::new(convert::pod(&typed(p), &mut interner).unwrap()))
            .collect(),
        ..Cluster::default()
    };
    let explanation = kube_spread::planner::explain(&cluster, "default", "old-0").unwrap();
    let json = serde_json::to_value(&explanation).unwrap();
    assert_eq!(json["predictedNode"], "b", "{json:#}");
    assert!(json.get("tiedNodes").is_none());
    let scores = &json["nodes"][1]["scores"];
    assert_eq!(scores["TaintToleration"], 100);
    // One more best-effort pod's 100m and 200Mi of 4 cpus and 8Gi.
    assert_eq!(scores["NodeResourcesFit"], 97);
    assert!(scores.get("NodeResourcesBalancedAllocation").is_none());
    assert_eq!(scores["total"], 3 * 100 + 97);
    // a keeps old-1 and old-2 (old-0 is the pod being replaced): 300m and 600Mi.
    assert_eq!(json["nodes"][0]["scores"]["NodeResourcesFit"], 92);
    assert!(
        json["nodes"][2].get("scores").is_none(),
        "an infeasible node has none"
    );
}

#[test]
fn a_new_pod_of_a_deployment_is_predicted_from_its_template_and_newest_replica_set() {
    let mut case = Case {
        nodes: vec![node("a"), node("b")],
        pods: (0..3)
            .map(|i| on(pod(&format!("web-{i}"), "web"), "a"))
            .collect(),
        ..Case::default()
    };
    let mut incoming = pod("new", "web");
    owned_by_deployment(&mut case, &mut incoming, "web");
    case.incoming = incoming;
    let from_template = predict_with(&case, |scene, _| scene.predict_new_pod(0));
    assert_eq!(
        from_template,
        predicted(&case),
        "the same pod as the ReplicaSet would make"
    );
    assert!(
        scores_on(&from_template, 0)
            .get(Plugin::PodTopologySpread)
            .is_some(),
        "the system default spreading applies through the ReplicaSet's selector"
    );
    assert_eq!(from_template.predicted(), Some(1));
}

#[test]
fn conversion_keeps_what_the_scores_read_and_templates_share_it() {
    let mut interner = convert::Interner::new();
    let mut source = pod("new", "web");
    source["spec"]["initContainers"] = json!([{"name": "init", "image": "busybox"}]);
    source["spec"]["affinity"] = json!({
        "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 7, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 3, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}},
                                              "topologyKey": HOSTNAME_LABEL}}]}});
    let first = convert::pod(&typed(source.clone()), &mut interner).unwrap();
    source["metadata"]["name"] = json!("twin");
    let twin = convert::pod(&typed(source), &mut interner).unwrap();
    assert_eq!(first.spec.images, vec!["busybox:latest", "app:latest"]);
    assert_eq!(first.spec.preferred_affinity[0].weight, 7);
    assert_eq!(first.spec.pod_affinity.preferred_anti[0].weight, 3);
    assert!(
        std::sync::Arc::ptr_eq(&first.spec, &twin.spec),
        "pods of one template share one spec"
    );
    let mut holder = node("a");
    holder["status"]["images"] = json!([{"names": ["app:latest", "app@sha256:1"], "sizeBytes": 5}]);
    let converted = convert::node(&typed(holder)).unwrap();
    assert_eq!(converted.images[0].names.len(), 2);
    assert_eq!(converted.images[0].size_bytes, 5);
}
