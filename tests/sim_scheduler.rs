//! The simulated kube-scheduler filters and scores as kube-scheduler's default profile does,
//! on its own code: upstream's documented behaviour case by case, its Events in a running
//! control plane, and a differential test against the planner's own predictions, where every
//! difference is a bug in one of them.
// Fixtures panic on setup failures, as tests do.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::{collections::BTreeMap, time::Duration};

use jiff::Timestamp;
use k8s_openapi::api::{
    apps::v1::ReplicaSet,
    core::v1::{Node, Pod},
};
use kube_spread::{
    clock::Clock,
    sim::{
        SimApi, StoreConfig, WriteOptions,
        control::{
            ControlPlane, Settings,
            scheduler::{Evaluation, Inputs, NodeScore, View, WEIGHTS, evaluate},
        },
        prng::Prng,
    },
};
use serde_json::{Value, json};

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

/// A Ready node with a hostname label, 4 cpus, 8Gi and 110 pods.
fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
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

fn requesting(mut pod: Value, cpu: &str, memory: &str) -> Value {
    pod["spec"]["containers"][0]["resources"] = json!({"requests": {"cpu": cpu, "memory": memory}});
    pod
}

/// Evaluates `incoming` against nodes and bound pods.
fn judge(nodes: &[Value], pods: &[Value], replica_sets: &[Value], incoming: Value) -> Evaluation {
    let nodes: Vec<Node> = nodes.iter().cloned().map(typed).collect();
    let pods: Vec<Pod> = pods.iter().cloned().map(typed).collect();
    let replica_sets: Vec<ReplicaSet> = replica_sets.iter().cloned().map(typed).collect();
    let incoming: Pod = typed(incoming);
    let inputs = Inputs {
        nodes: nodes.iter().collect(),
        pods: pods.iter().collect(),
        replica_sets: replica_sets.iter().collect(),
        ..Inputs::default()
    };
    evaluate(&View::new(&inputs), &incoming)
}

fn scored<'e>(evaluation: &'e Evaluation, node: &str) -> &'e NodeScore {
    evaluation.nodes.iter().find(|n| n.node == node).unwrap()
}

fn plugin(evaluation: &Evaluation, node: &str, plugin: &str) -> Option<i64> {
    scored(evaluation, node).scores.get(plugin).copied()
}

#[test]
fn a_prefer_no_schedule_taint_steers_a_pod_away_when_other_scores_tie() {
    let mut tainted = node("c");
    tainted["spec"] =
        json!({"taints": [{"key": "kubespread.io/draining", "effect": "PreferNoSchedule"}]});
    let evaluation = judge(
        &[node("a"), node("b"), tainted],
        &[],
        &[],
        pod("new", "web"),
    );
    assert_eq!(
        evaluation.feasible().count(),
        3,
        "PreferNoSchedule filters nothing"
    );
    assert_eq!(plugin(&evaluation, "a", "TaintToleration"), Some(100));
    assert_eq!(plugin(&evaluation, "c", "TaintToleration"), Some(0));
    let mut random = Prng::new(5);
    for _ in 0..32 {
        assert_ne!(evaluation.select(&mut random), Some("c"));
    }
    let mut tolerant = pod("tolerant", "web");
    tolerant["spec"]["tolerations"] =
        json!([{"key": "kubespread.io/draining", "operator": "Exists"}]);
    let evaluation = judge(&[node("a"), node("b"), node("c")], &[], &[], tolerant);
    assert_eq!(plugin(&evaluation, "c", "TaintToleration"), Some(100));
}

#[test]
fn best_effort_pods_spread_by_least_allocated_through_the_non_zero_requests() {
    let busy: Vec<Value> = (0..4)
        .map(|i| on(pod(&format!("old-{i}"), "old"), "a"))
        .collect();
    let evaluation = judge(&[node("a"), node("b")], &busy, &[], pod("new", "web"));
    // 4 × 100m + 100m of 4 cpus, 4 × 200Mi + 200Mi of 8Gi, against 100m and 200Mi alone.
    assert_eq!(
        plugin(&evaluation, "a", "NodeResourcesFit"),
        Some((87 + 87) / 2)
    );
    assert_eq!(
        plugin(&evaluation, "b", "NodeResourcesFit"),
        Some((97 + 97) / 2)
    );
    assert_eq!(
        plugin(&evaluation, "a", "NodeResourcesBalancedAllocation"),
        None,
        "v1.33 skips BalancedAllocation for a pod that requests nothing"
    );
    assert_eq!(evaluation.select(&mut Prng::new(1)), Some("b"));
}

#[test]
fn requests_fill_the_node_as_the_scheduler_sums_them() {
    let mut sidecar = requesting(pod("old", "old"), "1", "1Gi");
    sidecar["spec"]["initContainers"] = json!([
        {"name": "init", "image": "i", "resources": {"requests": {"cpu": "3500m"}}},
        {"name": "proxy", "image": "p", "restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}}
    ]);
    let old = on(sidecar, "a");
    // Effective request: max(1 + 0.5, 3.5) = 3.5 cpus, so 500m is left on a.
    let fits = judge(
        &[node("a")],
        std::slice::from_ref(&old),
        &[],
        requesting(pod("new", "web"), "500m", "1Mi"),
    );
    assert_eq!(fits.feasible().count(), 1);
    let big = judge(
        &[node("a")],
        &[old],
        &[],
        requesting(pod("new", "web"), "501m", "1Mi"),
    );
    assert_eq!(
        big.message.as_deref(),
        Some(
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
        )
    );
}

#[test]
fn pods_of_a_replica_set_spread_by_the_system_default_constraints() {
    let replica_set = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-1", "namespace": "default", "uid": "rs-uid"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "app"}]}}}});
    let owned = |name: &str| {
        let mut p = pod(name, "web");
        p["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "name": "web-1", "uid": "rs-uid", "controller": true}]);
        p
    };
    let existing = [on(owned("web-a"), "a"), on(owned("web-b"), "a")];
    let evaluation = judge(
        &[node("a"), node("b")],
        &existing,
        std::slice::from_ref(&replica_set),
        owned("web-new"),
    );
    // Hostname maxSkew 3: a scores 2 × ln(4) + 2 = 5 and b 0 × ln(4) + 2 = 2 (zones are
    // absent, so only the hostname constraint counts): normalized 100 × (5 + 2 - s) / 5.
    assert_eq!(plugin(&evaluation, "a", "PodTopologySpread"), Some(40));
    assert_eq!(plugin(&evaluation, "b", "PodTopologySpread"), Some(100));
    let orphan = judge(
        &[node("a"), node("b")],
        &existing,
        &[replica_set],
        pod("x", "web"),
    );
    assert_eq!(
        plugin(&orphan, "a", "PodTopologySpread"),
        None,
        "no owner, no default selector, no score"
    );
}

#[test]
fn required_anti_affinity_keeps_a_pod_off_nodes_running_its_kind_both_ways() {
    let anti = |mut p: Value| {
        p["spec"]["affinity"] = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}});
        p
    };
    let nodes = [node("a"), node("b")];
    let evaluation = judge(
        &nodes,
        &[on(pod("db-0", "db"), "a")],
        &[],
        anti(pod("db-1", "db")),
    );
    let names: Vec<&str> = evaluation.feasible().map(|n| n.node.as_str()).collect();
    assert_eq!(names, ["b"]);
    assert_eq!(
        scored(&evaluation, "a").rejection.as_ref().unwrap().reasons,
        ["node(s) didn't match pod anti-affinity rules"]
    );
    // The existing pod's anti-affinity keeps the newcomer away too.
    let evaluation = judge(
        &nodes,
        &[anti(on(pod("db-0", "db"), "a"))],
        &[],
        pod("db-1", "db"),
    );
    assert_eq!(
        scored(&evaluation, "a").rejection.as_ref().unwrap().reasons,
        ["node(s) didn't satisfy existing pods anti-affinity rules"]
    );
    assert!(scored(&evaluation, "b").is_feasible());
}

#[test]
fn the_total_weighs_each_plugin_as_the_default_profile_does() {
    let mut soft = node("b");
    soft["spec"] = json!({"taints": [{"key": "soft", "effect": "PreferNoSchedule"}]});
    soft["metadata"]["labels"]["disk"] = json!("ssd");
    let mut incoming = requesting(pod("new", "web"), "1", "1Gi");
    incoming["spec"]["affinity"] = json!({"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}});
    let evaluation = judge(
        &[node("a"), soft],
        &[on(pod("other", "x"), "a")],
        &[],
        incoming,
    );
    let weights: BTreeMap<&str, i64> = WEIGHTS.into_iter().collect();
    for node in evaluation.feasible() {
        let total: i64 = node.scores.iter().map(|(p, s)| weights[p] * s).sum();
        assert_eq!(node.total, total, "{node:?}");
    }
    assert_eq!(plugin(&evaluation, "b", "NodeAffinity"), Some(100));
    assert_eq!(plugin(&evaluation, "a", "NodeAffinity"), Some(0));
    assert_eq!(plugin(&evaluation, "b", "TaintToleration"), Some(0));
    assert_eq!(weights["TaintToleration"], 3);
    assert_eq!(weights["NodeAffinity"], 2);
    // b wins NodeAffinity (2 × 100) but loses TaintToleration (3 × 100): a is chosen.
    assert_eq!(evaluation.select(&mut Prng::new(1)), Some("a"));
}

#[test]
fn node_names_in_match_fields_narrow_the_nodes_before_any_filter_runs() {
    let mut pinned = pod("pinned", "web");
    pinned["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}});
    let mut full = node("b");
    full["status"]["allocatable"]["pods"] = json!("0");
    let evaluation = judge(&[node("a"), full, node("c")], &[], &[], pinned);
    assert_eq!(
        evaluation.message.as_deref(),
        Some(
            "0/3 nodes are available: 1 Too many pods, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
        )
    );
}

#[test]
fn a_bound_volume_holds_its_pod_to_the_volumes_node_and_a_missing_claim_to_none() {
    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
    let nodes: Vec<Node> = [node("a"), node("b")].into_iter().map(typed).collect();
    let claim: PersistentVolumeClaim =
        typed(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "default"}, "spec": {"volumeName": "pv-1"}}));
    let volume: PersistentVolume = typed(json!({"apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": "pv-1"}, "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["b"]}]}]}}}}));
    let with_claim = |claim: &str| {
        let mut p = pod("db", "db");
        p["spec"]["volumes"] =
            json!([{"name": "v", "persistentVolumeClaim": {"claimName": claim}}]);
        typed::<Pod>(p)
    };
    let inputs = Inputs {
        nodes: nodes.iter().collect(),
        claims: vec![&claim],
        volumes: vec![&volume],
        ..Inputs::default()
    };
    let view = View::new(&inputs);
    let evaluation = evaluate(&view, &with_claim("data"));
    let names: Vec<&str> = evaluation.feasible().map(|n| n.node.as_str()).collect();
    assert_eq!(names, ["b"]);
    assert_eq!(
        scored(&evaluation, "a").rejection.as_ref().unwrap().reasons,
        ["node(s) had volume node affinity conflict"]
    );
    assert_eq!(
        evaluate(&view, &with_claim("gone")).message.as_deref(),
        Some(
            "0/2 nodes are available: persistentvolumeclaim \"gone\" not found. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
        )
    );
}

// ---------------------------------------------------------------------------------------
// Events, in a running control plane.

fn create(api: &SimApi, object: Value) {
    let store = api.store();
    let api_version = object["apiVersion"].as_str().unwrap().to_owned();
    let kind = object["kind"].as_str().unwrap().to_owned();
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let (id, _) = store
        .catalog()
        .types()
        .find(|(_, t)| t.group == group && t.version == version && t.kind == kind)
        .unwrap();
    let namespace = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    store
        .create(id, &namespace, object, &WriteOptions::manager("test"))
        .unwrap();
}

fn events(api: &SimApi) -> Vec<Value> {
    let store = api.store();
    let id = store.catalog().find("", "v1", "events").unwrap();
    store
        .all(id)
        .iter()
        .map(|o| o.value().unwrap())
        .map(|v| kube_spread::sim::apiserver::conversion::Conversion::EventsV1.from_storage(v))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn binds_and_failures_are_told_in_events_without_flooding() {
    let start: Timestamp = "2025-10-20T08:00:00Z".parse().unwrap();
    let api = SimApi::with_config(Clock::starting_at(start), StoreConfig::default());
    let mut control = ControlPlane::new(api.store().clone(), Settings::default()).unwrap();
    create(&api, node("a"));
    create(&api, pod("fits", "web"));
    create(&api, requesting(pod("huge", "web"), "64", "1Gi"));
    for round in 0..5 {
        control.settle();
        // Unrelated changes make the scheduler retry the pod that does not fit.
        create(
            &api,
            json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": format!("noise-{round}")}}),
        );
        tokio::time::advance(Duration::from_secs(10)).await;
    }
    control.settle();
    let events = events(&api);
    let scheduled: Vec<&Value> = events
        .iter()
        .filter(|e| e["reason"] == "Scheduled")
        .collect();
    assert_eq!(scheduled.len(), 1, "{events:#?}");
    assert_eq!(
        scheduled[0]["note"],
        "Successfully assigned default/fits to a"
    );
    assert_eq!(scheduled[0]["type"], "Normal");
    assert_eq!(scheduled[0]["reportingController"], "default-scheduler");
    assert_eq!(scheduled[0]["regarding"]["name"], "fits");
    let failed: Vec<&Value> = events
        .iter()
        .filter(|e| e["reason"] == "FailedScheduling")
        .collect();
    assert_eq!(failed.len(), 1, "repeats fold into one Event: {events:#?}");
    assert_eq!(failed[0]["type"], "Warning");
    assert_eq!(
        failed[0]["series"]["count"], 2,
        "the second sighting is written, later ones wait for the 30-minute heartbeat"
    );
    assert!(
        failed[0]["note"]
            .as_str()
            .unwrap()
            .starts_with("0/1 nodes are available: 1 Insufficient cpu."),
        "{}",
        failed[0]["note"]
    );
}

// ---------------------------------------------------------------------------------------
// The differential test: the simulated scheduler against the planner's own predictions.

mod differential {
    use kube_spread::{
        api::{HOSTNAME_LABEL, ZONE_LABEL},
        planner::{
            eligibility::Placement,
            explain::placements,
            index::Index,
            model::{Cluster, Labels, NodeInclusionPolicy, WhenUnsatisfiable},
            selector::LabelSelector,
            topology::{Constraint, DomainCache, spread_scores},
        },
        snapshot::convert,
    };
    use proptest::prelude::*;

    use super::*;

    /// A random small cluster and a pod to place, from a seed.
    struct Case {
        nodes: Vec<Value>,
        pods: Vec<Value>,
        replica_sets: Vec<Value>,
        incoming: Value,
    }

    fn pick<T: Copy>(random: &mut Prng, values: &[T]) -> T {
        values[(random.next_u64() % values.len() as u64) as usize]
    }

    fn chance(random: &mut Prng, percent: u64) -> bool {
        random.next_u64() % 100 < percent
    }

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

    fn case(seed: u64) -> Case {
        let random = &mut Prng::new(seed);
        let node_count = 1 + random.next_u64() % 5;
        let nodes: Vec<Value> = (0..node_count)
            .map(|i| {
                let name = format!("n{i}");
                let mut n = node(&name);
                if chance(random, 80) {
                    n["metadata"]["labels"][ZONE_LABEL] = json!(pick(random, &["z0", "z1", "z2"]));
                }
                n["metadata"]["labels"]["disk"] = json!(pick(random, &["ssd", "hdd"]));
                n["status"]["allocatable"] = json!({
                    "cpu": pick(random, &["1", "2", "4"]),
                    "memory": pick(random, &["2Gi", "4Gi", "8Gi"]),
                    "pods": pick(random, &["2", "4", "110"]),
                });
                let mut taints = Vec::new();
                if chance(random, 20) {
                    taints
                        .push(json!({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}));
                }
                if chance(random, 20) {
                    taints.push(json!({"key": "soft", "effect": "PreferNoSchedule"}));
                }
                n["spec"] = json!({"taints": taints, "unschedulable": chance(random, 10)});
                n
            })
            .collect();
        let pods: Vec<Value> = (0..random.next_u64() % 9)
            .map(|i| {
                let mut p = pod(&format!("old-{i}"), pick(random, &["a", "b", "c"]));
                if chance(random, 20) {
                    p["metadata"]["namespace"] = json!("other");
                }
                p["spec"]["containers"][0]["resources"] = resources(random);
                if chance(random, 10) {
                    p["spec"]["containers"][0]["ports"] =
                        json!([{"containerPort": 80, "hostPort": 80}]);
                }
                on(p, &format!("n{}", random.next_u64() % node_count))
            })
            .collect();
        let app = pick(random, &["a", "b"]);
        let mut incoming = pod("new", app);
        incoming["spec"]["containers"][0]["resources"] = resources(random);
        if chance(random, 30) {
            incoming["spec"]["tolerations"] = json!([{"key": "dedicated", "operator": "Exists"}]);
        }
        if chance(random, 20) {
            incoming["spec"]["nodeSelector"] = json!({"disk": "ssd"});
        }
        if chance(random, 20) {
            incoming["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": ZONE_LABEL, "operator": "In", "values": ["z0", "z1"]}]}]}}});
        }
        if chance(random, 10) {
            incoming["spec"]["containers"][0]["ports"] =
                json!([{"containerPort": 80, "hostPort": 80}]);
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
                    c["matchLabelKeys"] = json!(["app"]);
                }
                c
            })
            .collect();
        if !constraints.is_empty() {
            incoming["spec"]["topologySpreadConstraints"] = json!(constraints);
        }
        let mut replica_sets = Vec::new();
        if chance(random, 40) {
            incoming["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1",
                "kind": "ReplicaSet", "name": "rs", "uid": "rs-uid", "controller": true}]);
            replica_sets.push(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": "rs", "namespace": "default", "uid": "rs-uid"},
                "spec": {"selector": {"matchLabels": {"app": app}},
                         "template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "c", "image": "app"}]}}}}));
        }
        Case {
            nodes,
            pods,
            replica_sets,
            incoming,
        }
    }

    /// The constraints PodTopologySpread scores with, as the planner's topology model takes
    /// them: the pod's ScheduleAnyway ones, or the system defaults over its ReplicaSet's
    /// selector.
    fn scoring_constraints(
        case: &Case,
        pod: &kube_spread::planner::model::Pod,
    ) -> (Vec<Constraint>, bool) {
        if !pod.spec.spread_constraints.is_empty() {
            let own = pod
                .spec
                .spread_constraints
                .iter()
                .filter(|c| c.when_unsatisfiable == WhenUnsatisfiable::ScheduleAnyway)
                .map(|c| Constraint::of_pod(c, &pod.labels))
                .collect();
            return (own, true);
        }
        let Some(replica_set) = case.replica_sets.first() else {
            return (Vec::new(), false);
        };
        let selector: Labels =
            serde_json::from_value(replica_set["spec"]["selector"]["matchLabels"].clone()).unwrap();
        let defaults = [(HOSTNAME_LABEL, 3), (ZONE_LABEL, 5)]
            .into_iter()
            .map(|(key, max_skew)| Constraint {
                max_skew,
                topology_key: key.to_owned(),
                when_unsatisfiable: WhenUnsatisfiable::ScheduleAnyway,
                min_domains: 1,
                node_affinity_policy: NodeInclusionPolicy::Honor,
                node_taints_policy: NodeInclusionPolicy::Ignore,
                selector: LabelSelector::from_labels(&selector),
            })
            .collect();
        (defaults, false)
    }

    fn compare(seed: u64) -> Result<(), TestCaseError> {
        let case = case(seed);
        let evaluation = judge(
            &case.nodes,
            &case.pods,
            &case.replica_sets,
            case.incoming.clone(),
        );
        let sim_feasible: Vec<String> = evaluation.feasible().map(|n| n.node.clone()).collect();

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
                .map(|p| {
                    std::sync::Arc::new(convert::pod(&typed(p.clone()), &mut interner).unwrap())
                })
                .collect(),
            ..Cluster::default()
        };
        let incoming = convert::pod(&typed(case.incoming.clone()), &mut interner).unwrap();
        let index = Index::new(&cluster);
        let verdicts = placements(
            &index,
            &mut DomainCache::default(),
            &incoming,
            &incoming.labels,
            &incoming.spec,
            None,
        );
        let planner_feasible: Vec<String> = verdicts
            .iter()
            .filter(|v| v.feasible)
            .map(|v| v.name.clone())
            .collect();
        prop_assert_eq!(
            &sim_feasible,
            &planner_feasible,
            "feasible nodes, seed {}: {:#?}",
            seed,
            evaluation
        );

        let feasible_ids: Vec<usize> = verdicts
            .iter()
            .enumerate()
            .filter(|(_, v)| v.feasible)
            .map(|(id, _)| id)
            .collect();
        let (constraints, require_all) = scoring_constraints(&case, &incoming);
        let planner_spread = spread_scores(
            &index,
            &incoming.namespace,
            &Placement::of(&incoming.spec),
            &constraints,
            require_all,
            &feasible_ids,
        );
        let sim_spread: Option<Vec<i64>> = evaluation
            .feasible()
            .map(|n| n.scores.get("PodTopologySpread").copied())
            .collect();
        let sim_spread = sim_spread.filter(|s| !s.is_empty());
        prop_assert_eq!(
            sim_spread,
            planner_spread,
            "PodTopologySpread scores, seed {}",
            seed
        );
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn the_planner_predicts_the_feasible_nodes_and_spread_scores_of_the_simulated_scheduler(seed in any::<u64>()) {
            compare(seed)?;
        }
    }
}
