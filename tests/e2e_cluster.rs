//! The seed's incident with every app in its own namespace (`homelab-namespaces`), end to end:
//! the README's ClusterSpreadPolicy and the real controller acting through the simulated API as
//! its ServiceAccount, under the chart's RBAC.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::Node,
};
use kube::api::{Api, ListParams};
use kube_spread::sim::{
    SimApi,
    report::{Report, groups::GroupReport},
    scenario::{HOMELAB_NAMESPACES, Manifest, Scenario, Simulation},
};
use serde_json::json;
use support::controller::{CONTROLLER_USER, grant, replica};

/// The ClusterSpreadPolicy the README gives for the homelab case, read from the README itself.
fn readme_policy() -> serde_json::Value {
    support::readme::yaml_under("A ClusterSpreadPolicy for the homelab case")
}

/// `homelab-namespaces`, its ClusterSpreadPolicy replaced by the README's.
fn homelab_namespaces() -> Scenario {
    homelab_namespaces_with("")
}

/// [`homelab_namespaces`] with more events (YAML list items).
fn homelab_namespaces_with(events: &str) -> Scenario {
    let text = HOMELAB_NAMESPACES.replacen("events:\n", &format!("events:\n{events}"), 1);
    let mut scenario =
        Scenario::parse("homelab-namespaces", &text).expect("the built-in scenario loads");
    let policy = scenario
        .objects
        .iter_mut()
        .find(|m| m.kind == "ClusterSpreadPolicy")
        .expect("the scenario has a ClusterSpreadPolicy");
    policy.object = readme_policy();
    policy.name = "nodes".to_owned();
    scenario
}

/// Runs a scenario with the controller under the chart's RBAC.
async fn run(scenario: Scenario) -> (Report, SimApi) {
    let mut simulation = Simulation::new(scenario).unwrap();
    let api = simulation.api().clone();
    grant(&api, None).await;
    simulation.spawn(replica(
        &api,
        CONTROLLER_USER,
        "kube-spread-0",
        true,
        std::future::pending(),
    ));
    (simulation.run().await.unwrap(), api)
}

fn cluster_group(report: &Report) -> &GroupReport {
    report
        .policy_groups
        .iter()
        .find(|g| g.namespace.is_empty() && g.policy.as_deref() == Some("nodes"))
        .unwrap_or_else(|| panic!("no cluster group in {:#?}", report.policy_groups))
}

/// The fewest moves that bring `start` (pods per node) within `max_skew`, with `held[i]` of
/// node i's pods unable to move: every final distribution is tried, so this oracle shares
/// nothing with the planner. A distribution is reached by moving each node's surplus away.
fn fewest_moves(start: &[u32], held: &[u32], max_skew: u32) -> u32 {
    let total: u32 = start.iter().sum();
    let mut best = u32::MAX;
    let mut end = vec![0u32; start.len()];
    fn each(node: usize, left: u32, end: &mut Vec<u32>, visit: &mut dyn FnMut(&[u32])) {
        if node + 1 == end.len() {
            end[node] = left;
            visit(end);
            return;
        }
        for here in 0..=left {
            end[node] = here;
            each(node + 1, left - here, end, visit);
        }
    }
    each(0, total, &mut end, &mut |end| {
        let feasible = end.iter().zip(held).all(|(count, held)| count >= held);
        let max = end.iter().max().copied().unwrap_or(0);
        let min = end.iter().min().copied().unwrap_or(0);
        if feasible && max - min <= max_skew {
            let moves = start
                .iter()
                .zip(end)
                .map(|(from, to)| from.saturating_sub(*to))
                .sum();
            best = best.min(moves);
        }
    });
    best
}

async fn draining_taints(api: &SimApi) -> Vec<String> {
    let nodes: Api<Node> = Api::all(api.client());
    nodes
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|node| {
            node.spec
                .as_ref()
                .and_then(|spec| spec.taints.as_ref())
                .is_some_and(|taints| taints.iter().any(|t| t.key == "kubespread.io/draining"))
        })
        .filter_map(|node| node.metadata.name)
        .collect()
}

#[test]
fn the_fewest_moves_oracle_agrees_with_hand_counted_cases() {
    // 0/16/17 with 2 pinned on each full node, within 2: 10/11/12 in 10 moves.
    assert_eq!(fewest_moves(&[0, 16, 17], &[0, 2, 2], 2), 10);
    // Already within maxSkew: nothing to move.
    assert_eq!(fewest_moves(&[3, 4, 5], &[0, 0, 0], 2), 0);
    // Everything pinned where it is: the pile stays (no distribution is feasible).
    assert_eq!(fewest_moves(&[0, 4], &[0, 4], 1), u32::MAX);
}

#[tokio::test(start_paused = true)]
async fn homelab_namespaces_with_the_readme_cluster_policy_balances_pods_per_node_in_the_fewest_moves()
 {
    let (report, api) = run(homelab_namespaces()).await;
    let group = cluster_group(&report);
    let constraint = &group.constraints[0];
    assert_eq!(constraint.topology_key, "kubernetes.io/hostname");
    let max_skew = u32::try_from(constraint.max_skew).unwrap();
    let start = constraint.at_start.as_ref().expect("rebalancing started");
    let counts: Vec<u32> = start.domains.values().copied().collect();
    // homeassistant and z2m are pinned to homelab-03, the databases to homelab-04.
    let held: BTreeMap<&str, u32> =
        [("homelab-02", 0), ("homelab-03", 2), ("homelab-04", 2)].into();
    let held: Vec<u32> = start
        .domains
        .keys()
        .map(|node| held[node.as_str()])
        .collect();
    assert!(
        counts[0] + 10 < counts[1].max(counts[2]),
        "rebalancing started from the pile-up: {start:?}"
    );
    assert_eq!(
        group.moves,
        fewest_moves(&counts, &held, max_skew),
        "the fewest moves possible: {group:#?}"
    );
    let end = constraint.at_end.as_ref().expect("counts at the end");
    assert!(end.actionable_skew <= max_skew, "{end:?}");
    assert_eq!(report.pdb_violations, 0, "{:#?}", report.move_log);
    assert_eq!(report.pinned_moved, 0, "{:#?}", report.move_log);
    assert!(group.max_in_flight <= 1, "{group:#?}");
    // Pods per worker (DaemonSets included) end within maxSkew too: what the seed's alert reads.
    let last = report.timeline.last().expect("samples");
    let spread = last.pods.values().max().unwrap() - last.pods.values().min().unwrap();
    assert!(spread <= max_skew, "{:?}", last.pods);
    assert!(
        draining_taints(&api).await.is_empty(),
        "no steering taint is left once the rebalance is over"
    );
}

#[tokio::test(start_paused = true)]
async fn without_the_controller_homelab_namespaces_stays_piled_up_and_the_seeds_alert_fires() {
    let scenario = Scenario::load("homelab-namespaces").unwrap();
    let report = Simulation::new(scenario).unwrap().run().await.unwrap();
    let last = report.timeline.last().expect("samples");
    let spread = last.pods.values().max().unwrap() - last.pods.values().min().unwrap();
    assert!(spread > 10, "max minus min pods per node: {:?}", last.pods);
    assert_eq!(report.moves, 0);
}

#[tokio::test(start_paused = true)]
async fn deleting_the_cluster_policy_mid_rebalance_stops_the_moves_and_removes_its_taints() {
    let scenario = homelab_namespaces_with(
        "  - {at: 1h16m, delete: {kind: ClusterSpreadPolicy, name: nodes}}\n",
    );
    let (report, api) = run(scenario).await;
    let late_moves = report
        .move_log
        .iter()
        .filter(|moved| moved.t > 76 * 60 && moved.how == "eviction")
        .count();
    assert_eq!(late_moves, 0, "{:#?}", report.move_log);
    assert!(report.moves > 0, "it moved before the deletion");
    assert!(
        draining_taints(&api).await.is_empty(),
        "the sweep removes the taints of a deleted policy"
    );
}

#[tokio::test(start_paused = true)]
async fn a_namespaced_group_stays_within_its_max_skew_and_is_rolled_once_while_the_cluster_group_rebalances()
 {
    let mut scenario = homelab_namespaces();
    let traefik = json!({
        "apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
        "metadata": {"name": "traefik", "namespace": "traefik"},
        "spec": {"constraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                  "whenUnsatisfiable": "DoNotSchedule"}]}
    });
    scenario.objects.push(Manifest {
        api_version: "kubespread.io/v1alpha1".to_owned(),
        kind: "SpreadPolicy".to_owned(),
        namespace: "traefik".to_owned(),
        name: "traefik".to_owned(),
        object: traefik,
    });
    let (report, api) = run(scenario).await;
    let group = cluster_group(&report);
    let end = group.constraints[0].at_end.as_ref().unwrap();
    assert!(end.actionable_skew <= 2, "{end:?}");
    // traefik's template changed once, when its SpreadPolicy injected; the cluster policy,
    // which injects nothing, never re-rolled it.
    let deployments: Api<Deployment> = Api::namespaced(api.client(), "traefik");
    let traefik_deployment = deployments.get("traefik").await.unwrap();
    assert_eq!(traefik_deployment.metadata.generation, Some(2));
    let replica_sets: Api<ReplicaSet> = Api::namespaced(api.client(), "traefik");
    assert_eq!(
        replica_sets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2,
        "one ReplicaSet before the injection, one after"
    );
    let traefik = report
        .policy_groups
        .iter()
        .find(|g| g.namespace == "traefik")
        .unwrap_or_else(|| panic!("traefik's group: {:#?}", report.policy_groups));
    for constraint in &traefik.constraints {
        let end = constraint.at_end.as_ref().unwrap();
        assert!(end.actionable_skew <= 1, "{end:?}");
    }
    assert_eq!(report.pdb_violations, 0);
}
