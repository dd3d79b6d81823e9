//! Injection decides without a client: from the plan, the policy, its rollout settings and what
//! we know of our own doing, `decide` lines up the applies and releases, paced, and each answer
//! of the chokepoint, written out by hand here, is folded back in; `orphans` picks what the sweep
//! releases.

#![allow(clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;

use k8s_openapi::api::core::v1::ObjectReference;
use kube_spread::{
    api::{HOSTNAME_LABEL, Rollout, conditions::Reason},
    controller::{
        disruption::{Roll, RollError, Rolled},
        inject::{Desired, Injection, Inputs, Known, Ours, decide, orphans},
    },
    planner::{
        model::{Cluster, Policy, WhenUnsatisfiable, Workload, WorkloadStatus},
        report::GroupPlan,
    },
};
use support::model::*;

/// A policy over every workload of `media` spreading by hostname, maxSkew 1.
fn spreading() -> Policy {
    policy(
        "spread",
        vec![spread(HOSTNAME_LABEL, 1, WhenUnsatisfiable::ScheduleAnyway)],
    )
}

/// Two nodes, the policy, and one pod of each workload on n1.
fn cluster(policy: Policy, workloads: &[Workload]) -> Cluster {
    let mut builder = ClusterBuilder::new()
        .nodes([node("n1"), node("n2")])
        .policy(policy);
    for workload in workloads {
        builder = builder.workload_on(workload, &[("n1", 1)]);
    }
    builder.build()
}

/// A workload whose template already carries what `policy` wants.
fn carrying(policy: &Policy, workload: Workload) -> Workload {
    let wanted = Desired::of(policy, &workload);
    workload.spec(|spec| spec.spread_constraints = wanted.constraints)
}

/// A workload whose controller has rolled out its current generation.
fn rolled_out(mut workload: Workload) -> Workload {
    workload.status = WorkloadStatus {
        observed_generation: workload.generation,
        replicas: workload.replicas,
        ready_replicas: workload.replicas,
        available_replicas: workload.replicas,
        updated_replicas: workload.replicas,
    };
    workload
}

fn ours(pairs: &[(&Workload, Ours)]) -> HashMap<String, Ours> {
    pairs
        .iter()
        .map(|(workload, ours)| (workload.qualified_key(), *ours))
        .collect()
}

const APPLIED_BY_US: Ours = Ours {
    applied: true,
    rolling: false,
};

/// Decides the policy's injection over `cluster` and answers each roll with what `answer`
/// says of it; the injection and the rolls asked for (`inject Kind/name`, `release Kind/name`).
fn inject(
    cluster: &Cluster,
    max_concurrent: i32,
    ours: &HashMap<String, Ours>,
    mut answer: impl FnMut(&Workload) -> Rolled,
) -> (Injection, Vec<String>) {
    let plan = plan(cluster);
    let groups: Vec<&GroupPlan> = plan.groups.iter().map(AsRef::as_ref).collect();
    let rollout = Rollout { max_concurrent };
    let reference = ObjectReference::default();
    let inputs = Inputs {
        policy: &cluster.policies[0],
        rollout: &rollout,
        reference: &reference,
        groups: &groups,
        workloads: &cluster.workloads,
        ours,
    };
    let mut course = decide(&inputs);
    let mut asked = Vec::new();
    while let Some(intent) = course.next_roll() {
        let workload = intent.request.workload;
        let verb = match intent.request.roll {
            Roll::Inject { .. } => "inject",
            Roll::Release => "release",
        };
        asked.push(format!("{verb} {}", workload.key()));
        let rolled = answer(workload);
        course.record(&intent, &rolled);
    }
    (course.finish(), asked)
}

/// The server applied it; the generation moves on, so the workload re-rolls.
fn re_rolled(workload: &Workload) -> Rolled {
    Rolled::Applied {
        generation: workload.generation + 1,
    }
}

fn conflict(manager: &str) -> Rolled {
    let status = kube::core::Status::failure(
        &format!("Apply failed with 1 conflict: conflict with \"{manager}\" using apps/v1"),
        "Conflict",
    )
    .with_code(409);
    Rolled::Failed(RollError::Conflict {
        manager: manager.to_owned(),
        source: kube::Error::Api(Box::new(status)),
    })
}

#[test]
fn injection_re_rolls_at_most_max_concurrent_workloads_and_the_rest_wait() {
    let workloads = [deployment("api"), deployment("db"), deployment("web")];
    let cluster = cluster(spreading(), &workloads);
    let (injection, asked) = inject(&cluster, 2, &HashMap::new(), re_rolled);
    assert_eq!(asked, ["inject Deployment/api", "inject Deployment/db"]);
    assert_eq!(injection.rolling, 2);
    assert_eq!(injection.pending, 1);
    assert_eq!(injection.counts.matched, 3);
    assert_eq!(injection.counts.injected, 2);
    // Every one of them is about to be replaced: none is moved meanwhile.
    assert_eq!(
        injection.unsettled.into_iter().collect::<Vec<_>>(),
        ["Deployment/api", "Deployment/db", "Deployment/web"]
    );
}

#[test]
fn a_running_rollout_of_ours_holds_back_the_next_injection() {
    let policy = spreading();
    let api = carrying(&policy, deployment("api"));
    let web = deployment("web");
    let cluster = cluster(policy, &[api.clone(), web]);
    let running = Ours {
        applied: true,
        rolling: true,
    };
    let (injection, asked) = inject(&cluster, 1, &ours(&[(&api, running)]), re_rolled);
    assert!(asked.is_empty(), "{asked:?}");
    assert_eq!(injection.rolling, 1);
    assert_eq!(injection.pending, 1);
}

#[test]
fn workloads_already_carrying_the_constraints_are_counted_and_not_applied_again() {
    let policy = spreading();
    let done = rolled_out(carrying(&policy, deployment("done")));
    let rolling = carrying(&policy, deployment("rolling"));
    let cluster = cluster(policy, &[done, rolling]);
    let (injection, asked) = inject(&cluster, 1, &HashMap::new(), re_rolled);
    assert!(asked.is_empty(), "{asked:?}");
    assert_eq!(injection.counts.injected, 2);
    assert_eq!(injection.pending, 0);
    // One whose own rollout is not finished is about to replace its pods all the same.
    assert_eq!(
        injection.unsettled.into_iter().collect::<Vec<_>>(),
        ["Deployment/rolling"]
    );
}

#[test]
fn a_conflict_is_reported_with_the_other_manager_and_frees_its_turn() {
    let workloads = [deployment("api"), deployment("web")];
    let cluster = cluster(spreading(), &workloads);
    let (injection, asked) = inject(&cluster, 1, &HashMap::new(), |workload| {
        if workload.name == "api" {
            conflict("helm")
        } else {
            re_rolled(workload)
        }
    });
    assert_eq!(asked, ["inject Deployment/api", "inject Deployment/web"]);
    assert_eq!(injection.counts.conflicted, 1);
    assert_eq!(injection.counts.injected, 1);
    assert_eq!(injection.issues.len(), 1);
    let issue = &injection.issues[0];
    assert_eq!(issue.workload, "Deployment/api");
    assert_eq!(issue.reason, Reason::Conflict.as_str());
    assert_eq!(
        issue.message,
        "helm owns a field of Deployment/api's topologySpreadConstraints that this policy would set; nothing was forced"
    );
}

#[test]
fn an_apply_that_fails_or_is_not_made_stays_pending() {
    let workloads = [deployment("api"), deployment("web")];
    let cluster = cluster(spreading(), &workloads);
    let (injection, asked) = inject(&cluster, 1, &HashMap::new(), |_| Rolled::NotLeader);
    assert_eq!(asked, ["inject Deployment/api", "inject Deployment/web"]);
    assert_eq!(injection.pending, 2);
    assert_eq!(injection.counts.injected, 0);
}

#[test]
fn ignored_workloads_are_counted_reported_and_released_without_waiting_their_turn() {
    let quiet = deployment("quiet").ignored();
    let web = deployment("web");
    let cluster = cluster(spreading(), &[quiet.clone(), web]);
    let (injection, asked) = inject(&cluster, 1, &ours(&[(&quiet, APPLIED_BY_US)]), re_rolled);
    // The release does not take the one turn: the injection still goes ahead.
    assert_eq!(asked, ["release Deployment/quiet", "inject Deployment/web"]);
    assert_eq!(injection.counts.matched, 2);
    assert_eq!(injection.counts.ignored, 1);
    assert_eq!(injection.issues.len(), 1);
    assert_eq!(injection.issues[0].reason, "Ignored");
    assert_eq!(
        injection.issues[0].message,
        "annotated kubespread.io/ignore: \"true\""
    );
}

#[test]
fn ignored_workloads_we_never_applied_to_are_not_released() {
    let cluster = cluster(spreading(), &[deployment("quiet").ignored()]);
    let (injection, asked) = inject(&cluster, 1, &HashMap::new(), re_rolled);
    assert!(asked.is_empty(), "{asked:?}");
    assert_eq!(injection.counts.ignored, 1);
}

#[test]
fn a_policy_without_constraints_takes_ours_back_at_most_max_concurrent_at_once() {
    let workloads = [deployment("api"), deployment("db"), deployment("web")];
    let cluster = cluster(policy("spread", Vec::new()), &workloads);
    let known = ours(&[
        (&workloads[0], APPLIED_BY_US),
        (&workloads[1], APPLIED_BY_US),
        (&workloads[2], APPLIED_BY_US),
    ]);
    let (injection, asked) = inject(&cluster, 1, &known, re_rolled);
    assert_eq!(asked, ["release Deployment/api"]);
    assert_eq!(injection.rolling, 1);
    assert_eq!(injection.pending, 2);
    assert_eq!(injection.counts.injected, 0);
}

#[test]
fn a_release_that_changes_nothing_frees_its_turn() {
    let workloads = [deployment("api"), deployment("web")];
    let cluster = cluster(policy("spread", Vec::new()), &workloads);
    let known = ours(&[
        (&workloads[0], APPLIED_BY_US),
        (&workloads[1], APPLIED_BY_US),
    ]);
    let unchanged = |workload: &Workload| Rolled::Applied {
        generation: workload.generation,
    };
    let (injection, asked) = inject(&cluster, 1, &known, unchanged);
    assert_eq!(asked, ["release Deployment/api", "release Deployment/web"]);
    assert_eq!(injection.rolling, 0);
    assert_eq!(injection.pending, 0);
}

fn known(workload: Workload, applied: bool, rolling: bool) -> Known {
    Known {
        workload: std::sync::Arc::new(workload),
        ours: Ours { applied, rolling },
    }
}

fn names(workloads: &[&Workload]) -> Vec<String> {
    workloads
        .iter()
        .map(|workload| workload.qualified_key())
        .collect()
}

#[test]
fn orphans_are_released_one_per_namespace_and_sweep() {
    let stored = [
        known(deployment("web").namespace("shop"), true, false),
        known(deployment("api").namespace("shop"), true, false),
        known(deployment("db").namespace("media"), true, false),
        known(deployment("cache").namespace("media"), false, false),
    ];
    let picked = orphans(&stored, &[], &HashMap::new());
    assert_eq!(
        names(&picked),
        ["media/Deployment/db", "shop/Deployment/api"]
    );
}

#[test]
fn orphans_wait_for_a_running_rollout_of_ours_in_their_namespace() {
    let stored = [
        known(deployment("web").namespace("shop"), true, false),
        known(deployment("api").namespace("shop"), false, true),
    ];
    assert!(orphans(&stored, &[], &HashMap::new()).is_empty());
}

#[test]
fn workloads_a_policy_matches_or_whose_namespace_has_an_unreadable_policy_are_not_orphans() {
    let web = deployment("web");
    let cluster = cluster(spreading(), std::slice::from_ref(&web));
    let groups = plan(&cluster).groups;
    let stored = [
        known(web, true, false),
        known(deployment("api").namespace("shop"), true, false),
    ];
    let invalid = HashMap::from([("shop/broken".to_owned(), "unreadable".to_owned())]);
    assert!(orphans(&stored, &groups, &invalid).is_empty());
}
