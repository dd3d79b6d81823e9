//! The opt-outs the ecosystem already uses: a pod annotated `kubespread.io/do-not-move`,
//! `karpenter.sh/do-not-disrupt` or `cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`
//! stays where it is under every policy, still counts there, and says why; a namespace labelled
//! `kubespread.io/exclude` is left out of every ClusterSpreadPolicy.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test crate: its helpers fail the test by panicking"
)]

mod support;

use jiff::SignedDuration;
use k8s_openapi::api::core::v1 as core;
use kube_spread::{
    api::{EXCLUDE_LABEL, HOSTNAME_LABEL, NAMESPACE_NAME_LABEL},
    planner::{
        self,
        model::{OptOut, OptOuts, SpreadConstraint, WhenUnsatisfiable::ScheduleAnyway, Workload},
        protection::Protection,
        report::{GroupPlan, Outcome},
        selector::{LabelSelector, Requirement},
    },
    snapshot::convert::{self, Interner},
};
use serde_json::json;
use support::model::*;

fn only_group(plan: &planner::Plan) -> &GroupPlan {
    assert_eq!(plan.groups.len(), 1, "{:#?}", plan.groups);
    &plan.groups[0]
}

fn hostname() -> Vec<SpreadConstraint> {
    vec![spread(HOSTNAME_LABEL, 1, ScheduleAnyway)]
}

fn every_namespace() -> LabelSelector {
    LabelSelector::from_requirements(Vec::new())
}

fn minutes_ago(minutes: i64) -> jiff::Timestamp {
    now()
        .checked_sub(SignedDuration::from_secs(minutes * 60))
        .unwrap()
}

/// Four pods of `web` piled on n1 of three nodes, each with `opt_outs`: a hostname maxSkew of 1
/// wants two of them elsewhere.
fn piled_on_n1(web: &Workload, started: jiff::Timestamp, opt_outs: OptOuts) -> ClusterBuilder {
    let mut builder = ClusterBuilder::new()
        .nodes([node("n1"), node("n2"), node("n3")])
        .workload(web.clone());
    for name in ["web-a", "web-b", "web-c", "web-d"] {
        builder = builder.pod(
            pod(name)
                .of(web)
                .on("n1")
                .started(started)
                .opt_outs(|o| *o = opt_outs),
        );
    }
    builder
}

fn reasons(group: &GroupPlan) -> Vec<&str> {
    group.skipped.iter().map(|s| s.reason.reason()).collect()
}

fn pods_on(group: &GroupPlan, node: &str) -> u32 {
    group
        .constraints
        .iter()
        .flat_map(|constraint| constraint.domains.iter())
        .find(|domain| domain.name == node)
        .map_or(0, |domain| domain.pods)
}

/// Each opt-out a pod can carry, and the reason `plan` and the status give for it.
fn every_pod_opt_out() -> [(OptOuts, &'static str); 6] {
    [
        (
            OptOuts {
                do_not_move: Some(OptOut::Always),
                ..OptOuts::default()
            },
            "DoNotMove",
        ),
        (
            OptOuts {
                do_not_move: Some(OptOut::ForSeconds(30 * 60)),
                ..OptOuts::default()
            },
            "DoNotMove",
        ),
        (
            OptOuts {
                do_not_move: Some(OptOut::Invalid),
                ..OptOuts::default()
            },
            "DoNotMoveInvalid",
        ),
        (
            OptOuts {
                do_not_disrupt: Some(OptOut::Always),
                ..OptOuts::default()
            },
            "DoNotDisrupt",
        ),
        (
            OptOuts {
                do_not_disrupt: Some(OptOut::ForSeconds(30 * 60)),
                ..OptOuts::default()
            },
            "DoNotDisrupt",
        ),
        (
            OptOuts {
                not_safe_to_evict: true,
                ..OptOuts::default()
            },
            "NotSafeToEvict",
        ),
    ]
}

#[test]
fn every_pod_opt_out_keeps_its_pods_in_place_under_a_spread_policy_with_its_own_reason() {
    for (opt_outs, reason) in every_pod_opt_out() {
        let web = deployment("web");
        let cluster = piled_on_n1(&web, minutes_ago(10), opt_outs)
            .policy(policy("apps", hostname()))
            .build();
        let plan = plan(&cluster);
        let group = only_group(&plan);
        assert!(group.moves.is_empty(), "{reason}: {:#?}", group.moves);
        assert_eq!(reasons(group), [reason; 4], "{reason}");
        // Left alone, yet counted where they run: the skew is still seen.
        assert_eq!(pods_on(group, "n1"), 4, "{reason}");
        assert_ne!(group.outcome, Outcome::Rebalanced, "{reason}");
    }
}

#[test]
fn every_pod_opt_out_keeps_its_pods_in_place_under_a_cluster_spread_policy_with_its_own_reason() {
    for (opt_outs, reason) in every_pod_opt_out() {
        let web = deployment("web");
        let cluster = piled_on_n1(&web, minutes_ago(10), opt_outs)
            .cluster_policy(cluster_policy("nodes", every_namespace(), hostname()))
            .build();
        let plan = plan(&cluster);
        let group = only_group(&plan);
        assert!(group.moves.is_empty(), "{reason}: {:#?}", group.moves);
        assert_eq!(reasons(group), [reason; 4], "{reason}");
        assert_eq!(pods_on(group, "n1"), 4, "{reason}");
    }
}

#[test]
fn opted_out_pods_count_where_they_run_while_their_siblings_move() {
    let web = deployment("web");
    let keep = |o: &mut OptOuts| o.do_not_move = Some(OptOut::Always);
    let cluster = ClusterBuilder::new()
        .nodes([node("n1"), node("n2"), node("n3")])
        .workload(web.clone())
        .pod(pod("web-a").of(&web).on("n1").opt_outs(keep))
        .pod(pod("web-b").of(&web).on("n1").opt_outs(keep))
        .pod(pod("web-c").of(&web).on("n1"))
        .pod(pod("web-d").of(&web).on("n1"))
        .policy(policy("apps", hostname()))
        .build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    // 4/0/0 becomes 2/1/1 only if the two that stay are counted on n1.
    let moved: Vec<String> = group.moves.iter().map(|m| m.pod.to_string()).collect();
    assert_eq!(moved, ["media/web-c", "media/web-d"]);
    assert_eq!(reasons(group), ["DoNotMove", "DoNotMove"]);
}

#[test]
fn a_do_not_move_duration_protects_a_pod_until_that_long_after_it_started() {
    let thirty_minutes = OptOuts {
        do_not_move: Some(OptOut::ForSeconds(30 * 60)),
        ..OptOuts::default()
    };
    let web = deployment("web");
    let just_before = now()
        .checked_sub(SignedDuration::from_secs(30 * 60 - 1))
        .unwrap();
    let cluster = piled_on_n1(&web, just_before, thirty_minutes)
        .policy(policy("apps", hostname()))
        .build();
    let plan_before = plan(&cluster);
    let group = only_group(&plan_before);
    assert!(group.moves.is_empty(), "{:#?}", group.moves);
    assert_eq!(reasons(group), ["DoNotMove"; 4]);

    // At start + 30m the protection has run out: the pile is spread.
    let cluster = piled_on_n1(&web, minutes_ago(30), thirty_minutes)
        .policy(policy("apps", hostname()))
        .build();
    let plan_after = plan(&cluster);
    let group = only_group(&plan_after);
    assert_eq!(group.moves.len(), 2, "{:#?}", group.moves);
    assert_eq!(group.outcome, Outcome::Rebalanced);
}

#[test]
fn a_karpenter_do_not_disrupt_duration_runs_out_like_ours() {
    let ten_minutes = OptOuts {
        do_not_disrupt: Some(OptOut::ForSeconds(10 * 60)),
        ..OptOuts::default()
    };
    let web = deployment("web");
    let cluster = piled_on_n1(&web, minutes_ago(9), ten_minutes)
        .policy(policy("apps", hostname()))
        .build();
    let plan_before = plan(&cluster);
    assert_eq!(reasons(only_group(&plan_before)), ["DoNotDisrupt"; 4]);

    let cluster = piled_on_n1(&web, minutes_ago(10), ten_minutes)
        .policy(policy("apps", hostname()))
        .build();
    let plan_after = plan(&cluster);
    assert_eq!(only_group(&plan_after).moves.len(), 2);
}

#[test]
fn a_namespace_labelled_exclude_is_neither_counted_nor_moved_by_any_cluster_policy() {
    let mut builder = ClusterBuilder::new().nodes([node("n1"), node("n2"), node("n3")]);
    for app in ["sonarr", "radarr", "infra"] {
        let workload = deployment(app).namespace(app);
        builder = builder.workload_on(&workload, &[("n1", 2)]);
    }
    let excluded = namespace("infra", &[(EXCLUDE_LABEL, "true")]);
    let cluster = builder
        .namespace(namespace("sonarr", &[]))
        .namespace(namespace("radarr", &[]))
        .namespace(excluded)
        .cluster_policy(cluster_policy("nodes", every_namespace(), hostname()))
        .build();
    let plan_all = plan(&cluster);
    let group = only_group(&plan_all);
    assert_eq!(pods_on(group, "n1"), 4, "infra's two pods are not counted");
    assert!(!group.moves.is_empty());
    assert!(
        group.moves.iter().all(|m| &*m.pod.namespace != "infra"),
        "{:#?}",
        group.moves
    );
    assert!(group.skipped.iter().all(|s| &*s.pod.namespace != "infra"));

    // Even a policy that names the namespace leaves it out.
    let mut naming = cluster.clone();
    naming.cluster_policies = vec![cluster_policy(
        "infra",
        LabelSelector::from_requirements(vec![Requirement::equals(NAMESPACE_NAME_LABEL, "infra")]),
        hostname(),
    )];
    let plan_named = plan(&naming);
    for group in &plan_named.groups {
        assert!(group.moves.is_empty(), "{:#?}", group.moves);
        assert_eq!(pods_on(group, "n1"), 0, "{group:#?}");
    }

    // Only "true" excludes: with "false" infra counts again.
    let mut included = cluster.clone();
    for namespace in &mut included.namespaces {
        namespace
            .labels
            .insert(EXCLUDE_LABEL.to_owned(), "false".to_owned());
    }
    let plan_included = plan(&included);
    assert_eq!(pods_on(only_group(&plan_included), "n1"), 6);
}

/// A running pod of a ReplicaSet with these annotations, as the API server returns it.
fn annotated_pod(annotations: serde_json::Value) -> core::Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "web-7d9f-abcde", "namespace": "media", "uid": "uid-web",
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "annotations": annotations,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": "web-7d9f", "uid": "rs-uid", "controller": true}],
        },
        "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "web"}]},
        "status": {"phase": "Running", "startTime": "2024-01-01T00:00:10Z",
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }))
    .unwrap()
}

#[test]
fn each_opt_out_annotation_converts_to_its_opt_out_and_no_value_fails_the_pod() {
    let do_not_move = |opt_out| OptOuts {
        do_not_move: opt_out,
        ..OptOuts::default()
    };
    let do_not_disrupt = |opt_out| OptOuts {
        do_not_disrupt: opt_out,
        ..OptOuts::default()
    };
    let cases = [
        (json!({}), OptOuts::default()),
        (
            json!({"kubespread.io/do-not-move": "true"}),
            do_not_move(Some(OptOut::Always)),
        ),
        (
            json!({"kubespread.io/do-not-move": "30m"}),
            do_not_move(Some(OptOut::ForSeconds(1800))),
        ),
        (
            json!({"kubespread.io/do-not-move": "1h0.5s"}),
            do_not_move(Some(OptOut::ForSeconds(3601))),
        ),
        (
            json!({"kubespread.io/do-not-move": "false"}),
            OptOuts::default(),
        ),
        // Values it cannot read still keep the pod, under a reason that names the mistake.
        (
            json!({"kubespread.io/do-not-move": "soon"}),
            do_not_move(Some(OptOut::Invalid)),
        ),
        (
            json!({"kubespread.io/do-not-move": "-5m"}),
            do_not_move(Some(OptOut::Invalid)),
        ),
        (
            json!({"kubespread.io/do-not-move": ""}),
            do_not_move(Some(OptOut::Invalid)),
        ),
        (
            json!({"kubespread.io/do-not-move": "9999999999999999999h"}),
            do_not_move(Some(OptOut::Invalid)),
        ),
        (
            json!({"kubespread.io/do-not-move": "True"}),
            do_not_move(Some(OptOut::Invalid)),
        ),
        // Longer than a u32 of seconds (about 136 years): for good, in effect.
        (
            json!({"kubespread.io/do-not-move": "2000000h"}),
            do_not_move(Some(OptOut::ForSeconds(u32::MAX))),
        ),
        (
            json!({"karpenter.sh/do-not-disrupt": "true"}),
            do_not_disrupt(Some(OptOut::Always)),
        ),
        (
            json!({"karpenter.sh/do-not-disrupt": "5m"}),
            do_not_disrupt(Some(OptOut::ForSeconds(300))),
        ),
        // Karpenter's annotation means what Karpenter says: anything else opts out of nothing.
        (
            json!({"karpenter.sh/do-not-disrupt": "yes"}),
            OptOuts::default(),
        ),
        (
            json!({"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}),
            OptOuts {
                not_safe_to_evict: true,
                ..OptOuts::default()
            },
        ),
        (
            json!({"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"}),
            OptOuts::default(),
        ),
    ];
    for (annotations, expected) in cases {
        let mut interner = Interner::new();
        let converted = convert::pod(&annotated_pod(annotations.clone()), &mut interner)
            .unwrap_or_else(|error| panic!("{annotations}: {error}"));
        assert_eq!(converted.opt_outs, expected, "{annotations}");
    }
}

#[test]
fn a_pod_carrying_every_opt_out_reports_ours_first() {
    let mut interner = Interner::new();
    let converted = convert::pod(
        &annotated_pod(json!({
            "kubespread.io/do-not-move": "true",
            "karpenter.sh/do-not-disrupt": "true",
            "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
        })),
        &mut interner,
    )
    .unwrap();
    assert_eq!(
        converted.opt_outs,
        OptOuts {
            do_not_move: Some(OptOut::Always),
            do_not_disrupt: Some(OptOut::Always),
            not_safe_to_evict: true,
        }
    );
    let web = deployment("web");
    let cluster = piled_on_n1(&web, minutes_ago(10), converted.opt_outs)
        .policy(policy("apps", hostname()))
        .build();
    let plan = plan(&cluster);
    assert_eq!(reasons(only_group(&plan)), ["DoNotMove"; 4]);
}

#[test]
fn the_operations_guide_lists_every_protection_reason_and_every_opt_out() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md");
    let guide = std::fs::read_to_string(path).unwrap();
    let opting_out = guide
        .split("## Opting out")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/operations.md has an Opting out section");
    for protection in Protection::ALL {
        let row = format!("| `{}` |", protection.reason());
        assert!(
            opting_out.contains(&row),
            "Opting out has no row for the reason {protection}"
        );
    }
    for key in [
        convert::DO_NOT_MOVE_ANNOTATION,
        convert::DO_NOT_DISRUPT_ANNOTATION,
        convert::SAFE_TO_EVICT_ANNOTATION,
        EXCLUDE_LABEL,
    ] {
        assert!(
            opting_out.contains(&format!("| `{key}:")),
            "Opting out has no row for {key}"
        );
    }
}
