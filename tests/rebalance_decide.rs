//! The rebalancer decides without a client: from the observation, the policy, its status and
//! its memory, `decide` says what to do next and why, and each outcome of a move is folded back
//! into the step's end. Every condition reason a rebalance step can end in is produced here,
//! reason by reason, with the outcomes of the chokepoint written out by hand.

#![allow(clippy::expect_used, clippy::panic)]

mod support;

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::{api::core::v1::ObjectReference, apimachinery::pkg::apis::meta::v1::Time};
use kube_spread::{
    api::{
        HOSTNAME_LABEL, MoveRecord, RebalancePhase, RebalanceStatus, SpreadPolicySpec,
        conditions::Reason,
    },
    controller::{
        disruption::{MoveError, Outcome, Refusal},
        rebalance::{Action, Inputs, Memory, Step, decide},
    },
    planner::{
        model::{Cluster, Pdb},
        report::GroupPlan,
    },
    snapshot::convert,
};
use serde_json::{Value, json};
use support::model::*;

/// A policy over every workload by hostname, maxSkew 1, with `rebalance` merged over the defaults
/// a test needs to reach a move: no stabilization, no cooldown.
fn settings(rebalance: Value) -> SpreadPolicySpec {
    let mut spec = json!({
        "constraints": [{"topologyKey": HOSTNAME_LABEL, "maxSkew": 1, "whenUnsatisfiable": "ScheduleAnyway"}],
        "rebalance": {"stabilizationWindow": "0s", "cooldown": "0s"},
    });
    if let (Some(base), Value::Object(extra)) = (spec["rebalance"].as_object_mut(), rebalance) {
        base.extend(extra);
    }
    serde_json::from_value(spec).expect("a valid policy spec")
}

/// Four `web` pods on n1, none on n2 and n3; n3 became Ready a minute ago.
fn piled_up(spec: &SpreadPolicySpec, pdbs: Vec<Pdb>) -> Cluster {
    let web = deployment("web");
    let mut recovered = node("n3");
    recovered.ready_since = Some(minutes_ago(1));
    let mut policy = policy("spread", Vec::new());
    policy.spec = convert::policy_spec(spec);
    let mut builder = ClusterBuilder::new()
        .nodes([node("n1"), node("n2"), recovered])
        .workload_on(&web, &[("n1", 4)])
        .policy(policy);
    for pdb in pdbs {
        builder = builder.pdb(pdb);
    }
    builder.build()
}

fn minutes_ago(minutes: i64) -> Timestamp {
    now()
        .checked_sub(SignedDuration::from_mins(minutes))
        .expect("in range")
}

/// One rebalance step's world: the policy, the cluster, its plan, the status as read.
struct World {
    spec: SpreadPolicySpec,
    cluster: Cluster,
    groups: Vec<Arc<GroupPlan>>,
    status: RebalanceStatus,
    unsettled: BTreeSet<String>,
    reference: ObjectReference,
    uncordoned: HashMap<String, Timestamp>,
}

impl World {
    fn new(rebalance: Value) -> Self {
        Self::with_pdbs(rebalance, Vec::new())
    }

    fn with_pdbs(rebalance: Value, pdbs: Vec<Pdb>) -> Self {
        let spec = settings(rebalance);
        let cluster = piled_up(&spec, pdbs);
        Self::of(spec, cluster)
    }

    fn of(spec: SpreadPolicySpec, cluster: Cluster) -> Self {
        let groups = plan(&cluster).groups;
        Self {
            spec,
            cluster,
            groups,
            status: RebalanceStatus::default(),
            unsettled: BTreeSet::new(),
            reference: ObjectReference::default(),
            uncordoned: HashMap::new(),
        }
    }

    /// Decides a step and answers each move with the outcome `answer` gives; the step's end
    /// and the requests made.
    fn step(
        &self,
        memory: &mut Memory,
        answer: impl FnMut(&str) -> Outcome,
    ) -> (Step, Vec<String>) {
        self.step_at(now(), memory, answer)
    }

    /// [`World::step`] at `at` instead of [`now`].
    fn step_at(
        &self,
        at: Timestamp,
        memory: &mut Memory,
        mut answer: impl FnMut(&str) -> Outcome,
    ) -> (Step, Vec<String>) {
        let groups: Vec<&GroupPlan> = self.groups.iter().map(AsRef::as_ref).collect();
        let inputs = Inputs {
            name: "spread",
            settings: &self.spec,
            reference: &self.reference,
            status: &self.status,
            cluster: &self.cluster,
            groups: &groups,
            uncordoned: &self.uncordoned,
            unsettled: &self.unsettled,
            now: at,
        };
        let mut decision = decide(&inputs, memory);
        let mut asked = Vec::new();
        if let Some(dry_run) = decision.dry_run() {
            while let Some(request) = dry_run.next_evaluation() {
                asked.push(format!("dry-run {}", request.pod));
                dry_run.record(memory, answer(request.pod));
            }
        }
        if let Some(course) = decision.course() {
            while let Some(action) = course.next_action(memory) {
                match action {
                    Action::NoteBlocked { planned, .. } => {
                        asked.push(format!("note {}", planned.pod));
                    }
                    Action::Disrupt(request) => {
                        asked.push(format!("move {}", request.pod));
                        let outcome = answer(request.pod);
                        if matches!(outcome, Outcome::Moved) {
                            course.budget().in_flight += 1;
                            course.budget().last_hour += 1;
                        }
                        course.record(memory, outcome);
                    }
                }
            }
        }
        (decision.conclude(memory), asked)
    }
}

fn moved(_: &str) -> Outcome {
    Outcome::Moved
}

fn never_asked(pod: &str) -> Outcome {
    panic!("no move was expected, but {pod} was asked for")
}

fn in_flight(pod: &str, started: Timestamp) -> MoveRecord {
    MoveRecord {
        pod: format!("media/{pod}").parse().expect("a pod name"),
        uid: Some(format!("uid-{pod}")),
        method: Some("Evict".to_owned()),
        workload: Some("Deployment/web".parse().expect("a workload name")),
        from: "n1".to_owned(),
        to: Some("n3".to_owned()),
        tied_with: Vec::new(),
        landed: None,
        started: Some(Time(started)),
    }
}

#[test]
fn a_policy_whose_rebalance_mode_is_off_moves_nothing_and_says_rebalance_off() {
    let world = World::new(json!({"mode": "Off"}));
    let (step, asked) = world.step(&mut Memory::default(), never_asked);
    assert_eq!(step.reason, Reason::RebalanceOff);
    assert_eq!(step.status.phase, RebalancePhase::Idle);
    assert!(asked.is_empty());
}

#[test]
fn a_group_within_its_skew_threshold_is_idle() {
    let spec = settings(json!({}));
    let web = deployment("web");
    let mut policy = policy("spread", Vec::new());
    policy.spec = convert::policy_spec(&spec);
    let cluster = ClusterBuilder::new()
        .nodes([node("n1"), node("n2"), node("n3")])
        .workload_on(&web, &[("n1", 1), ("n2", 1), ("n3", 1)])
        .policy(policy)
        .build();
    let world = World::of(spec, cluster);
    let (step, _) = world.step(&mut Memory::default(), never_asked);
    assert_eq!(step.reason, Reason::Idle);
    assert_eq!(step.blocked, None);
}

#[test]
fn skew_without_a_recent_recovery_is_not_armed_under_the_node_recovery_trigger() {
    let mut world = World::new(json!({}));
    // Longer ago than the default recoveryWindow of an hour.
    for node in &mut world.cluster.nodes {
        node.ready_since = Some(minutes_ago(120));
        node.created = Some(minutes_ago(120));
    }
    let (step, asked) = world.step(&mut Memory::default(), never_asked);
    assert_eq!(step.reason, Reason::NotArmed);
    assert!(step.message.contains("recoveryWindow"), "{}", step.message);
    assert!(asked.is_empty());
}

#[test]
fn skew_that_has_not_lasted_the_stabilization_window_waits_and_looks_again_when_it_ends() {
    let mut world = World::new(json!({"stabilizationWindow": "2m"}));
    world.status.skewed_since = Some(Time(minutes_ago(1)));
    let (step, asked) = world.step(&mut Memory::default(), never_asked);
    assert_eq!(step.reason, Reason::StabilizationPending);
    assert_eq!(step.status.phase, RebalancePhase::Stabilizing);
    assert_eq!(step.requeue.as_secs(), 60);
    assert!(asked.is_empty());
}

#[test]
fn a_skew_waiting_out_the_stabilization_window_is_said_the_same_at_every_step_so_its_status_is_written_once()
 {
    let mut world = World::new(json!({"stabilizationWindow": "5m"}));
    world.status.skewed_since = Some(Time(minutes_ago(1)));
    let (first, _) = world.step(&mut Memory::default(), never_asked);
    let later = now() + SignedDuration::from_secs(90);
    let (second, _) = world.step_at(later, &mut Memory::default(), never_asked);
    assert_eq!(first.reason, Reason::StabilizationPending);
    assert_eq!(second.reason, Reason::StabilizationPending);
    assert_eq!(first.message, second.message);
    assert!(
        first.message.contains("2025-10-20T12:04:00Z"),
        "says when moves may start: {}",
        first.message
    );
    assert_eq!(first.status, second.status);
}

#[test]
fn the_step_that_makes_a_move_says_what_the_steps_waiting_for_its_replacement_say() {
    let mut world = World::new(json!({"maxConcurrentMoves": 1}));
    let (made, asked) = world.step(&mut Memory::default(), moved);
    assert_eq!(asked.len(), 1, "{asked:?}");
    world.status = made.status.clone();
    let later = now() + SignedDuration::from_secs(20);
    let (waiting, asked) = world.step_at(later, &mut Memory::default(), never_asked);
    assert!(asked.is_empty());
    assert_eq!(made.reason, Reason::WaitingForReplacement);
    assert_eq!(
        (waiting.reason, &waiting.message),
        (made.reason, &made.message)
    );
    assert!(made.message.contains("off n1"), "{}", made.message);
    assert_eq!(waiting.status, made.status);
}

#[test]
fn outside_its_disruption_windows_no_move_starts_and_the_step_says_when_the_next_opens() {
    // Now is 12:00 UTC; the window is 02:00 to 04:00.
    let world = World::new(json!({"windows": [{"schedule": "0 2 * * *", "duration": "2h"}]}));
    let (step, asked) = world.step(&mut Memory::default(), never_asked);
    assert_eq!(step.reason, Reason::OutsideWindow);
    assert!(
        step.message.contains("2025-10-21T02:00:00"),
        "{}",
        step.message
    );
    assert!(asked.is_empty());
    let (step, asked) =
        World::new(json!({"windows": [{"schedule": "0 11 * * *", "duration": "2h"}]}))
            .step(&mut Memory::default(), moved);
    assert_eq!(
        step.reason,
        Reason::WaitingForReplacement,
        "inside 11:00 to 13:00"
    );
    assert_eq!(asked.len(), 1);
}

#[test]
fn after_a_replacement_became_ready_the_next_move_waits_for_the_cooldown() {
    let mut world = World::new(json!({"cooldown": "5m"}));
    world.status.cooldown_until = Some(Time(minutes_ago(-2)));
    let (step, asked) = world.step(&mut Memory::default(), never_asked);
    assert_eq!(step.reason, Reason::CoolingDown);
    assert_eq!(step.status.phase, RebalancePhase::CoolingDown);
    assert_eq!(step.requeue.as_secs(), 120);
    assert!(asked.is_empty());
}

#[test]
fn past_every_gate_one_move_is_made_and_the_step_waits_for_its_replacement() {
    let world = World::new(json!({}));
    let mut memory = Memory::default();
    let (step, asked) = world.step(&mut memory, moved);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].starts_with("move web-"), "{asked:?}");
    assert_eq!(step.reason, Reason::WaitingForReplacement);
    assert_eq!(step.status.phase, RebalancePhase::WaitingForReplacement);
    assert_eq!(step.status.in_flight.len(), 1);
    assert_eq!(step.status.total_moves, 1);
    assert_eq!(step.status.recent_moves.len(), 1);
}

#[test]
fn a_move_in_flight_holds_the_next_one_back_under_max_concurrent_moves_1() {
    let mut world = World::new(json!({"maxConcurrentMoves": 1}));
    world.status.in_flight = vec![in_flight("web-0", now())];
    let (step, asked) = world.step(&mut Memory::default(), never_asked);
    assert_eq!(step.reason, Reason::WaitingForReplacement);
    assert_eq!(step.status.in_flight.len(), 1);
    assert!(asked.is_empty());
}

#[test]
fn a_replacement_not_ready_within_ready_timeout_is_reported_and_its_workload_backs_off() {
    let mut world = World::new(json!({"readyTimeout": "5m"}));
    world.status.in_flight = vec![in_flight("web-gone", minutes_ago(10))];
    let mut memory = Memory::default();
    let (step, asked) = world.step(&mut memory, never_asked);
    assert!(
        step.issues
            .iter()
            .any(|issue| issue.reason == Reason::ReplacementTimeout.as_str()),
        "{:?}",
        step.issues
    );
    assert!(step.status.in_flight.is_empty());
    assert!(asked.is_empty(), "its workload backs off: {asked:?}");
}

#[test]
fn moves_made_in_the_last_hour_up_to_max_moves_per_hour_exhaust_the_budget() {
    let mut world = World::new(json!({"maxMovesPerHour": 2}));
    world.status.recent_moves = vec![Time(minutes_ago(58)), Time(minutes_ago(10))];
    let (step, asked) = world.step(&mut Memory::default(), never_asked);
    assert_eq!(step.reason, Reason::BudgetExhausted);
    assert_eq!(step.blocked, Some(Reason::BudgetExhausted));
    assert_eq!(
        step.requeue.as_secs(),
        120,
        "when the oldest move leaves the hour"
    );
    assert!(asked.is_empty());
}

#[test]
fn a_budget_that_refuses_ends_the_step_and_the_next_step_backs_off_without_asking() {
    let world = World::new(json!({}));
    let mut memory = Memory::default();
    let refuse = |_: &str| Outcome::Refused {
        refusal: Refusal::Budget,
        message: "Cannot evict pod as it would violate the pod's disruption budget.".to_owned(),
    };
    let (step, asked) = world.step(&mut memory, refuse);
    assert_eq!(asked.len(), 1, "one refusal ends the step: {asked:?}");
    assert_eq!(step.reason, Reason::PdbBlocked);
    assert_eq!(step.requeue.as_secs(), 30);
    let (again, asked) = world.step(&mut memory, never_asked);
    assert_eq!(again.reason, Reason::PdbBlocked);
    assert!(asked.is_empty());
}

#[test]
fn a_pod_two_budgets_select_is_reported_as_multiple_pdbs_and_not_asked_for() {
    let web = app("web");
    let world = World::with_pdbs(
        json!({}),
        vec![pdb("a", Some(web.clone()), 1), pdb("b", Some(web), 1)],
    );
    let (step, asked) = world.step(&mut Memory::default(), never_asked);
    assert!(asked.is_empty(), "{asked:?}");
    assert_eq!(step.reason, Reason::MultiplePdbs);
    assert!(
        step.issues
            .iter()
            .any(|issue| issue.reason == Reason::MultiplePdbs.as_str())
    );
}

#[test]
fn a_budget_that_allows_no_disruption_is_noted_and_the_step_says_pdb_blocked() {
    let world = World::with_pdbs(json!({}), vec![pdb("web", Some(app("web")), 0)]);
    let (step, asked) = world.step(&mut Memory::default(), never_asked);
    assert!(asked.iter().all(|a| a.starts_with("note ")), "{asked:?}");
    assert!(!asked.is_empty());
    assert_eq!(step.reason, Reason::PdbBlocked);
    assert_eq!(step.blocked, Some(Reason::PdbBlocked));
}

#[test]
fn a_cluster_wide_cap_holds_the_move_back_and_says_so() {
    let world = World::new(json!({}));
    let (step, asked) = world.step(&mut Memory::default(), |_| {
        Outcome::Capped(Reason::ClusterMovesCapped)
    });
    assert_eq!(
        asked.len(),
        1,
        "the cluster's cap leaves no other move: {asked:?}"
    );
    assert_eq!(step.reason, Reason::ClusterMovesCapped);
    let (step, _) = world.step(&mut Memory::default(), |_| {
        Outcome::Capped(Reason::NodeMovesCapped)
    });
    assert_eq!(step.reason, Reason::NodeMovesCapped);
}

#[test]
fn moves_of_a_workload_whose_rollout_is_pending_wait_for_it() {
    let mut world = World::new(json!({}));
    world.unsettled.insert("Deployment/web".to_owned());
    let (step, asked) = world.step(&mut Memory::default(), never_asked);
    assert_eq!(step.reason, Reason::RolloutPending);
    assert!(asked.is_empty());
}

#[test]
fn a_group_whose_pods_all_must_stay_says_no_movable_pod() {
    let spec = settings(json!({}));
    let web = deployment("web");
    let mut policy = policy("spread", Vec::new());
    policy.spec = convert::policy_spec(&spec);
    let mut recovered = node("n3");
    recovered.ready_since = Some(minutes_ago(1));
    let mut builder = ClusterBuilder::new()
        .nodes([node("n1"), node("n2"), recovered])
        .workload(web.clone())
        .policy(policy);
    for i in 0..4 {
        builder = builder.pod(pod(&format!("web-{i}")).of(&web).on("n1").mirror());
    }
    let world = World::of(spec, builder.build());
    let (step, asked) = world.step(&mut Memory::default(), never_asked);
    assert_eq!(step.reason, Reason::NoMovablePod);
    assert_eq!(step.blocked, Some(Reason::NoMovablePod));
    assert!(asked.is_empty());
}

#[test]
fn a_policy_in_dry_run_evaluates_each_planned_eviction_once_and_reports_what_would_pass() {
    let world = World::new(json!({"mode": "DryRun"}));
    let mut memory = Memory::default();
    let (step, asked) = world.step(&mut memory, |_| Outcome::WouldMove);
    assert!(!asked.is_empty());
    assert!(asked.iter().all(|a| a.starts_with("dry-run ")), "{asked:?}");
    assert_eq!(step.reason, Reason::DryRun);
    let report = step.status.dry_run.expect("a dry-run report");
    assert_eq!(report.would_move as usize, asked.len());
    let (_, again) = world.step(&mut memory, never_asked);
    assert!(again.is_empty(), "evaluated once: {again:?}");
}

#[test]
fn a_replica_that_loses_its_leadership_midway_moves_nothing_and_leaves_the_status_to_the_leader() {
    let world = World::new(json!({}));
    let (step, asked) = world.step(&mut Memory::default(), |_| Outcome::NotLeader);
    assert_eq!(asked.len(), 1, "the chokepoint refused the first move");
    assert!(step.lost_leadership, "nothing of the step is written");
    assert!(step.status.in_flight.is_empty());
    assert_eq!(step.blocked, None);
}

#[test]
fn a_replica_that_moved_before_losing_its_leadership_still_records_the_move() {
    let world = World::new(json!({"maxConcurrentMoves": 2}));
    let mut answers = 0;
    let (step, asked) = world.step(&mut Memory::default(), |_| {
        answers += 1;
        if answers == 1 {
            Outcome::Moved
        } else {
            Outcome::NotLeader
        }
    });
    assert_eq!(asked.len(), 2);
    assert!(
        !step.lost_leadership,
        "the move in flight must reach the status"
    );
    assert_eq!(step.reason, Reason::WaitingForReplacement);
    assert_eq!(step.status.in_flight.len(), 1);
}

#[test]
fn a_move_that_failed_is_not_counted_and_the_next_planned_move_is_tried() {
    let world = World::new(json!({}));
    let mut failures = 0;
    let (step, asked) = world.step(&mut Memory::default(), |_| {
        failures += 1;
        if failures == 1 {
            Outcome::Failed(MoveError::Api {
                code: 503,
                message: "unavailable".to_owned(),
            })
        } else {
            Outcome::Moved
        }
    });
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(step.reason, Reason::WaitingForReplacement);
    assert_eq!(step.status.total_moves, 1);
}

#[test]
fn a_status_write_that_was_lost_never_loses_the_move_it_recorded() {
    let world = World::new(json!({"maxConcurrentMoves": 1}));
    let mut memory = Memory::default();
    let (first, _) = world.step(&mut memory, moved);
    assert_eq!(first.status.total_moves, 1);
    // The status as read still says nothing moved: the write was lost.
    let (second, asked) = world.step(&mut memory, never_asked);
    assert_eq!(second.status.total_moves, 1);
    assert_eq!(second.reason, Reason::WaitingForReplacement);
    assert!(asked.is_empty());
}
