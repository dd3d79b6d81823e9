//! The distribution a SpreadPolicy's status shows: per topology key, the policy's pods per
//! eligible domain, fullest first, empty domains after them by name, at most 50, and how many
//! more there are. Checked against counts taken straight from the cluster's pods.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::{collections::BTreeMap, time::Duration};

use kube_spread::{
    api::{
        ConstraintDistribution, HOSTNAME_LABEL, RebalanceStatus, SpreadPolicy, SpreadPolicySpec,
        conditions::Reason,
    },
    controller::{
        inject::Injection,
        rebalance::Step,
        report::{self, Findings},
    },
    planner::model::{Cluster, WhenUnsatisfiable::ScheduleAnyway},
};
use support::model::*;

/// Sixty nodes, `n00` to `n59`: the first thirty in pool `a`, the others in pool `b`.
fn sixty_nodes() -> Vec<kube_spread::planner::model::Node> {
    (0..60)
        .map(|n| {
            let mut node = node(&format!("n{n:02}"));
            let pool = if n < 30 { "a" } else { "b" };
            node.labels.insert("pool".to_owned(), pool.to_owned());
            node
        })
        .collect()
}

/// The hostname distribution of the status of the cluster's one policy.
fn hostname_distribution(cluster: &Cluster) -> ConstraintDistribution {
    let plan = plan(cluster);
    let policy = &cluster.policies[0];
    let groups: Vec<_> = plan.groups_of(&policy.namespace, &policy.name).collect();
    assert!(!groups.is_empty(), "the policy has groups: {plan:#?}");
    let spec: SpreadPolicySpec =
        serde_json::from_value(serde_json::json!({"constraints": []})).unwrap();
    let mut object = SpreadPolicy::new(&policy.name, spec);
    object.metadata.namespace = Some(policy.namespace.to_string());
    let step = Step {
        status: RebalanceStatus::default(),
        reason: Reason::Idle,
        message: String::new(),
        issues: Vec::new(),
        blocked: None,
        requeue: Duration::from_secs(60),
        lost_leadership: false,
    };
    let status = report::status(
        &object,
        &Findings {
            groups: &groups,
            injection: &Injection::default(),
            step: &step,
            invalid: None,
            now: now(),
        },
    );
    let found = (status.distribution.iter())
        .find(|distribution| distribution.topology_key == HOSTNAME_LABEL)
        .cloned();
    found.unwrap_or_else(|| panic!("no hostname distribution in {status:#?}"))
}

/// What the status should list, from the pods themselves: every node with its pod count,
/// fullest first and by name among equals, cut at 50; and how many were cut.
fn expected(cluster: &Cluster) -> (Vec<(String, i32)>, i32) {
    let mut pods: BTreeMap<&str, i32> = (cluster.nodes.iter())
        .map(|node| (node.name.as_str(), 0))
        .collect();
    for pod in &cluster.pods {
        if let Some(count) = pod.node_name.as_deref().and_then(|node| pods.get_mut(node)) {
            *count += 1;
        }
    }
    let mut listed: Vec<(String, i32)> = pods
        .into_iter()
        .map(|(node, count)| (node.to_owned(), count))
        .collect();
    listed.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let more = i32::try_from(listed.len().saturating_sub(50)).unwrap();
    listed.truncate(50);
    (listed, more)
}

/// Checks the status's hostname distribution against [`expected`]; returns how many domains
/// it left out.
fn assert_listed_as_counted(cluster: &Cluster) -> i32 {
    let distribution = hostname_distribution(cluster);
    let (want, more) = expected(cluster);
    assert_eq!(listed(&distribution), want);
    assert_eq!(distribution.more_domains, more);
    more
}

/// The policy every test plans: hostname, `maxSkew: 1`, ScheduleAnyway.
fn spread_by_hostname() -> kube_spread::planner::model::Policy {
    policy("spread", vec![spread(HOSTNAME_LABEL, 1, ScheduleAnyway)])
}

fn listed(distribution: &ConstraintDistribution) -> Vec<(String, i32)> {
    distribution
        .domains
        .iter()
        .map(|domain| (domain.name.clone(), domain.pods))
        .collect()
}

#[test]
fn the_status_lists_the_fullest_domains_then_the_empty_ones_by_name_up_to_fifty_and_counts_the_rest()
 {
    let web = deployment("web");
    let cluster = ClusterBuilder::new()
        .nodes(sixty_nodes())
        .workload_on(
            &web,
            &[("n41", 2), ("n07", 3), ("n03", 2), ("n58", 1), ("n12", 1)],
        )
        .policy(spread_by_hostname())
        .build();
    assert_eq!(
        assert_listed_as_counted(&cluster),
        10,
        "sixty nodes, fifty listed"
    );
}

#[test]
fn when_a_policys_groups_count_different_nodes_the_status_lists_the_domains_of_all_of_them() {
    // Each app runs in one pool, so each group counts thirty nodes, and the policy sixty.
    let in_pool = |name: &str, pool: &str| {
        deployment(name).spec(|spec| spec.node_selector = labels(&[("pool", pool)]))
    };
    let cluster = ClusterBuilder::new()
        .nodes(sixty_nodes())
        .workload_on(&in_pool("web", "b"), &[("n45", 2), ("n50", 1)])
        .workload_on(&in_pool("api", "a"), &[("n02", 3), ("n21", 2)])
        .policy(spread_by_hostname())
        .build();
    let plan = plan(&cluster);
    let sets: Vec<usize> = plan
        .groups
        .iter()
        .map(|group| group.constraints[0].domains.set.len())
        .collect();
    assert_eq!(
        sets,
        [30, 30],
        "one group per workload, one pool each: {plan:#?}"
    );
    assert_eq!(
        assert_listed_as_counted(&cluster),
        10,
        "sixty domains in all, fifty listed"
    );
}

#[test]
fn a_policy_with_fewer_domains_than_the_limit_lists_them_all() {
    let web = deployment("web");
    let cluster = ClusterBuilder::new()
        .nodes([node("c"), node("a"), node("b")])
        .workload_on(&web, &[("b", 1), ("c", 1)])
        .policy(spread_by_hostname())
        .build();
    let distribution = hostname_distribution(&cluster);
    assert_eq!(
        listed(&distribution),
        [
            ("b".to_owned(), 1),
            ("c".to_owned(), 1),
            ("a".to_owned(), 0)
        ]
    );
    assert_eq!(distribution.more_domains, 0);
}
