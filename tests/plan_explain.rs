//! `plan` and `explain` tell one story: for a pod a policy governs, explain shows the domains
//! and counts the plan works from.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use kube_spread::{
    planner::{self, PlanOptions, Source},
    snapshot,
};

#[test]
fn plan_and_explain_show_the_same_domains_and_counts_for_a_moved_pod_of_the_homelab() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/homelab.json"
    ))
    .unwrap();
    let snapshot = snapshot::read(&text).unwrap();
    let cluster = snapshot.cluster;
    let plan = planner::plan(
        &cluster,
        &PlanOptions {
            now: jiff::Timestamp::now(),
            namespace: None,
            policy: None,
            source: Source::Policies,
        },
    );
    let group = plan
        .groups
        .iter()
        .find(|group| !group.moves.is_empty())
        .expect("the homelab plan moves pods");
    let moved = &group.moves[0];
    let (namespace, name) = (&*moved.pod.namespace, moved.pod.name.as_str());
    let explained = planner::explain(&cluster, namespace, name).unwrap();

    let planned = &group.constraints[0];
    let shown = explained
        .constraints
        .iter()
        .find(|c| c.topology_key == planned.topology_key)
        .expect("explain shows the planned constraint");
    let planned_counts: Vec<(String, u32)> =
        planned.domains.iter().map(|d| (d.name, d.pods)).collect();
    // Explain judges the pod as if being placed anew: it does not count itself.
    let mut shown_counts: Vec<(String, u32)> = shown
        .domains
        .iter()
        .map(|d| (d.name.clone(), d.pods))
        .collect();
    for (domain, pods) in &mut shown_counts {
        if *domain == moved.from_domain {
            *pods += 1;
        }
    }
    assert_eq!(shown_counts, planned_counts, "{explained:#?}");
    assert!(
        planned_counts.iter().any(|(_, pods)| *pods > 0),
        "{planned_counts:?}"
    );
}
