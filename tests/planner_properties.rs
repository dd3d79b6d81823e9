//! Properties of every plan: with every pod movable, a single constraint is balanced in exactly
//! `E*` moves; and whatever the cluster, no plan raises a constraint's skew.

mod support;

use kube_spread::{
    api::{HOSTNAME_LABEL, ZONE_LABEL},
    planner::{bound::minimum_moves, model::WhenUnsatisfiable::ScheduleAnyway},
};
use proptest::prelude::*;
use support::model::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn with_every_pod_movable_one_hostname_constraint_takes_exactly_the_minimum_moves(
        counts in prop::collection::vec(0usize..12, 1..7),
        max_skew in 1i32..4,
    ) {
        let web = deployment("web");
        let names: Vec<String> = (0..counts.len()).map(|i| format!("n{i}")).collect();
        let placement: Vec<(&str, usize)> = names.iter().map(String::as_str).zip(counts.iter().copied()).collect();
        let cluster = ClusterBuilder::new()
            .nodes(names.iter().map(|name| node(name)))
            .workload_on(&web, &placement)
            .policy(policy("apps", vec![spread(HOSTNAME_LABEL, max_skew, ScheduleAnyway)]))
            .build();
        let plan = plan(&cluster);
        let group = &plan.groups[0];
        let expected = minimum_moves(
            &counts.iter().map(|c| u32::try_from(*c).unwrap()).collect::<Vec<_>>(),
            u32::try_from(max_skew).unwrap(),
        );
        prop_assert_eq!(Some(u32::try_from(group.moves.len()).unwrap()), expected);
        prop_assert!(i64::from(group.constraints[0].actionable_skew_after) <= i64::from(max_skew));
    }

    #[test]
    fn with_every_pod_movable_one_zone_constraint_takes_exactly_the_minimum_moves(
        nodes in prop::collection::vec((0usize..4, 0usize..8), 1..9),
        max_skew in 1i32..3,
    ) {
        let web = deployment("web");
        let names: Vec<String> = (0..nodes.len()).map(|i| format!("n{i}")).collect();
        let placement: Vec<(&str, usize)> =
            names.iter().map(String::as_str).zip(nodes.iter().map(|(_, pods)| *pods)).collect();
        let cluster = ClusterBuilder::new()
            .nodes(names.iter().zip(&nodes).map(|(name, (zone, _))| node(name).zone(&format!("z{zone}"))))
            .workload_on(&web, &placement)
            .policy(policy("apps", vec![spread(ZONE_LABEL, max_skew, ScheduleAnyway)]))
            .build();
        let mut per_zone = [0u32; 4];
        let mut zones = [false; 4];
        for (zone, pods) in &nodes {
            per_zone[*zone] += u32::try_from(*pods).unwrap();
            zones[*zone] = true;
        }
        let counts: Vec<u32> = (0..4).filter(|z| zones[*z]).map(|z| per_zone[z]).collect();
        let plan = plan(&cluster);
        let group = &plan.groups[0];
        prop_assert_eq!(
            Some(u32::try_from(group.moves.len()).unwrap()),
            minimum_moves(&counts, u32::try_from(max_skew).unwrap())
        );
        for m in &group.moves {
            prop_assert_ne!(&m.from_domain, &m.to_domain);
        }
    }

    #[test]
    fn no_plan_ever_raises_a_constraints_skew(
        nodes in prop::collection::vec((0usize..3, 0usize..6, 0u8..8), 2..8),
        protected in prop::collection::vec(any::<bool>(), 48),
        zone_skew in 1i32..3,
        host_skew in 1i32..3,
    ) {
        let web = deployment("web");
        let mut builder = ClusterBuilder::new();
        let mut ordinal = 0;
        for (i, (zone, pods, state)) in nodes.iter().enumerate() {
            let name = format!("n{i}");
            let mut n = node(&name).zone(&format!("z{zone}"));
            // Some nodes are down, cordoned or nearly full.
            match state {
                0 => n = n.not_ready(),
                1 => n = n.cordoned(),
                2 => n = n.pod_slots(i64::try_from(*pods).unwrap() + 1),
                _ => {}
            }
            builder = builder.node(n);
            for _ in 0..*pods {
                let mut p = pod(&format!("web-{ordinal}")).of(&web).on(&name);
                if protected[ordinal % protected.len()] {
                    p = p.started(now());
                }
                builder = builder.pod(p);
                ordinal += 1;
            }
        }
        let cluster = builder
            .workload(web.clone())
            .policy(policy(
                "apps",
                vec![spread(ZONE_LABEL, zone_skew, ScheduleAnyway), spread(HOSTNAME_LABEL, host_skew, ScheduleAnyway)],
            ))
            .build();
        let plan = plan(&cluster);
        let group = &plan.groups[0];
        for constraint in &group.constraints {
            prop_assert!(
                constraint.actionable_skew_after <= constraint.actionable_skew,
                "{} went from {} to {}", constraint.topology_key, constraint.actionable_skew, constraint.actionable_skew_after
            );
        }
        for m in &group.moves {
            prop_assert_ne!(&m.from_node, &m.to_node);
            prop_assert!(!m.pod.name.is_empty());
        }
        // No plan that reaches balance can beat the bound.
        if group.outcome == kube_spread::planner::report::Outcome::Rebalanced {
            prop_assert!(u32::try_from(group.moves.len()).unwrap() >= group.lower_bound_moves);
        }
    }
}
