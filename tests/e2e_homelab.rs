//! The seed's incident, end to end: `homelab-recovery` with the README's SpreadPolicy and the
//! real controller acting through the simulated API as its ServiceAccount, under the chart's
//! RBAC, with and without API faults.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::{collections::BTreeMap, time::Duration};

use kube_spread::sim::{
    Fault, FaultRule, SimApi,
    report::{Report, groups::GroupReport},
    scenario::{Manifest, Scenario, Simulation},
};
use serde_json::json;
use support::controller::{CONTROLLER_USER, chart_permissions, grant, replica};

/// The SpreadPolicy the README gives for the homelab case, read from the README itself.
fn readme_policy() -> serde_json::Value {
    support::readme::yaml_under("A SpreadPolicy for the homelab case")
}

/// `homelab-recovery`, its policy replaced by the README's.
fn homelab() -> Scenario {
    let mut scenario = Scenario::homelab_recovery().expect("the built-in scenario loads");
    let policy = scenario
        .objects
        .iter_mut()
        .find(|m| m.kind == "SpreadPolicy")
        .expect("the scenario has a SpreadPolicy");
    policy.object = readme_policy();
    scenario
}

/// A controller replica acting as the chart's ServiceAccount, electing a leader when `elect`,
/// until the simulation ends.
fn controller_task(sim: &SimApi, elect: bool) -> impl Future<Output = ()> + Send + 'static {
    replica(
        sim,
        CONTROLLER_USER,
        "kube-spread-0",
        elect,
        std::future::pending(),
    )
}

/// Runs the scenario with the controller under the chart's RBAC (less one permission when
/// `without` names it); `faults` are set once the controller starts.
async fn run(
    scenario: Scenario,
    without: Option<usize>,
    faults: Vec<FaultRule>,
) -> (Report, SimApi) {
    let mut simulation = Simulation::new(scenario).unwrap();
    let api = simulation.api().clone();
    grant(&api, without).await;
    api.faults().set(faults);
    simulation.spawn(controller_task(&api, true));
    (simulation.run().await.unwrap(), api)
}

fn spread_group(report: &Report) -> &GroupReport {
    report
        .policy_groups
        .iter()
        .find(|g| g.namespace == "homelab" && g.policy.as_deref() == Some("spread"))
        .unwrap_or_else(|| panic!("no group of homelab/spread in {:#?}", report.policy_groups))
}

/// A scenario object from its manifest.
fn manifest(object: serde_json::Value) -> Manifest {
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Manifest {
        api_version: text("/apiVersion"),
        kind: text("/kind"),
        namespace: text("/metadata/namespace"),
        name: text("/metadata/name"),
        object,
    }
}

fn refusals(api: &SimApi) -> Vec<String> {
    api.audit()
        .of(CONTROLLER_USER)
        .into_iter()
        .filter(|r| r.code == 403)
        .map(|r| format!("{} {}/{} {}", r.verb, r.group, r.resource, r.namespace))
        .collect()
}

/// Asserts what a user relies on after the incident and returns the number of moves.
fn assert_converged(report: &Report) -> u32 {
    let group = spread_group(report);
    let lower_bound = group
        .lower_bound_moves
        .unwrap_or_else(|| panic!("rebalancing never started: {group:#?}"));
    assert!(lower_bound > 0, "the recovery left work to do: {group:#?}");
    assert_eq!(
        group.moves, lower_bound,
        "the fewest moves possible: {group:#?}"
    );
    for constraint in &group.constraints {
        let end = constraint.at_end.as_ref().expect("counts at the end");
        assert!(
            i64::from(end.actionable_skew) <= i64::from(constraint.max_skew),
            "{} ends within maxSkew: {end:?}",
            constraint.topology_key
        );
    }
    assert_eq!(report.pdb_violations, 0, "{:#?}", report.move_log);
    assert_eq!(report.pinned_moved, 0, "{:#?}", report.move_log);
    let all_rebalances: u32 = group.moves
        + group
            .earlier_rebalances
            .iter()
            .map(|r| r.moves)
            .sum::<u32>();
    assert_eq!(
        report.moves, all_rebalances,
        "nothing else moved: {:#?}",
        report.move_log
    );
    assert_eq!(group.max_in_flight, 1, "maxConcurrentMoves defaults to 1");
    for earlier in &group.earlier_rebalances {
        assert_eq!(earlier.moves, earlier.lower_bound_moves, "{earlier:?}");
        assert!(earlier.max_in_flight <= 1, "{earlier:?}");
    }
    group.moves
}

#[tokio::test(start_paused = true)]
async fn homelab_recovery_with_the_readme_policy_ends_balanced_with_the_fewest_moves_and_no_budget_broken()
 {
    let (report, api) = run(homelab(), None, Vec::new()).await;
    assert_converged(&report);
    let group = spread_group(&report);
    let start = group.constraints[0].at_start.as_ref().unwrap();
    assert!(
        start.domains["homelab-02"] + 2 < start.domains["homelab-03"],
        "rebalancing started from the seed's pile-up: {start:?}"
    );
    assert!(
        refusals(&api).is_empty(),
        "the chart's RBAC lets the controller do all it does: {:?}",
        refusals(&api)
    );
}

/// The writes the controller makes while it moves pods, apart from Events (one per move, for
/// people) and its Lease's renewals: each move is one eviction, one deletion-cost annotation on
/// the replacement (so that a scale-down keeps the spread), and two writes of the policy's
/// status: when the move is made, and when its replacement is Ready. The counts the move shifts
/// on the way wait for the second; nothing else is written.
#[tokio::test(start_paused = true)]
async fn each_move_of_the_homelab_recovery_costs_one_eviction_one_annotation_and_at_most_two_status_writes()
 {
    let (report, api) = run(homelab(), None, Vec::new()).await;
    let moves = usize::try_from(assert_converged(&report)).unwrap();
    let calls = api.audit().of(CONTROLLER_USER);
    let evictions: Vec<usize> = calls
        .iter()
        .enumerate()
        .filter(|(_, call)| call.resource == "pods/eviction" && call.writes() && call.code < 300)
        .map(|(at, _)| at)
        .collect();
    assert_eq!(evictions.len(), moves, "one eviction per move");
    let (first, last) = (evictions[0], evictions[evictions.len() - 1]);
    let mut writes: BTreeMap<&str, usize> = BTreeMap::new();
    for call in &calls[first..=last] {
        if call.writes() && call.resource != "events" && call.resource != "leases" {
            *writes.entry(call.resource.as_str()).or_default() += 1;
        }
    }
    let statuses = writes.remove("spreadpolicies/status").unwrap_or_default();
    let annotations = writes.remove("pods").unwrap_or_default();
    writes.remove("pods/eviction");
    assert!(
        statuses <= 2 * moves,
        "{statuses} status writes for {moves} moves"
    );
    assert!(
        annotations <= moves,
        "{annotations} pod patches for {moves} moves"
    );
    assert!(
        writes.is_empty(),
        "no other writes while moving: {writes:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn with_a_tenth_of_api_calls_failing_and_watches_cut_every_minute_homelab_recovery_converges_the_same()
 {
    let (calm, _) = run(homelab(), None, Vec::new()).await;
    let faults = vec![
        FaultRule::error(500, 0.034),
        FaultRule::error(429, 0.034),
        FaultRule::error(503, 0.034),
        FaultRule::new(Fault::CutWatchAfter(Duration::from_secs(60))).on_verb("watch"),
    ];
    let (stormy, api) = run(homelab(), None, faults).await;
    let failed = api
        .audit()
        .of(CONTROLLER_USER)
        .into_iter()
        .filter(|r| matches!(r.code, 500 | 429 | 503))
        .count();
    assert!(failed > 10, "the faults were felt: {failed} failed calls");
    assert_eq!(assert_converged(&stormy), assert_converged(&calm));
}

#[tokio::test(start_paused = true)]
async fn the_charts_rbac_is_enough_and_each_of_its_permissions_is_needed() {
    let permissions = chart_permissions();
    assert!(permissions.len() > 5, "{permissions:?}");
    // The homelab's StatefulSets are pinned and left alone; one that is not is injected.
    let mut scenario = homelab();
    let cache = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "cache", "namespace": "homelab"},
        "spec": {"replicas": 2, "serviceName": "cache", "selector": {"matchLabels": {"app": "cache"}},
                 "template": {"metadata": {"labels": {"app": "cache"}},
                              "spec": {"containers": [{"name": "cache", "image": "valkey:8",
                                                       "resources": {"requests": {"cpu": "50m"}}}]}}}
    });
    scenario.objects.push(Manifest {
        api_version: "apps/v1".to_owned(),
        kind: "StatefulSet".to_owned(),
        namespace: "homelab".to_owned(),
        name: "cache".to_owned(),
        object: cache,
    });
    // Apps of their own namespaces and a ClusterSpreadPolicy over them: its status and the
    // taints that steer its replacements need their own permissions.
    scenario.objects.push(manifest(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "extra"}}),
    ));
    for app in ["notes", "wiki", "paste", "feeds", "links", "music"] {
        scenario.objects.push(manifest(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": app, "namespace": "extra"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": app}},
                     "template": {"metadata": {"labels": {"app": app}},
                                  "spec": {"containers": [{"name": app, "image": "busybox:1"}]}}}
        })));
    }
    scenario.objects.push(manifest(json!({
        "apiVersion": "kubespread.io/v1alpha1", "kind": "ClusterSpreadPolicy",
        "metadata": {"name": "extra"},
        "spec": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "extra"}},
                 "constraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                  "whenUnsatisfiable": "ScheduleAnyway"}]}
    })));
    for (index, permission) in permissions.iter().enumerate() {
        let mut simulation = Simulation::new(scenario.clone()).unwrap();
        let api = simulation.api().clone();
        grant(&api, Some(index)).await;
        simulation.spawn(controller_task(&api, true));
        let watched = api.clone();
        let refused = async move {
            while refusals(&watched).is_empty() {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        };
        let deadline = tokio::time::sleep(Duration::from_secs(3 * 3600));
        let report = simulation
            .run_until(async move {
                tokio::select! {
                    () = refused => {}
                    () = deadline => {}
                }
            })
            .await
            .unwrap();
        assert!(
            !refusals(&api).is_empty(),
            "without {permission:?} the controller is refused something (it ran {} s)",
            report.cluster_seconds
        );
    }
}
