//! Rebalance: one state machine per policy. Armed by a node recovering, joining or being
//! uncordoned within `recoveryWindow` (or always, for `Continuous`); once the actionable skew has
//! stayed above `skewThreshold` for `stabilizationWindow`, it takes the planner's moves one
//! budgeted step at a time through the disruption chokepoint, waits for each replacement to be
//! Ready, pauses for `cooldown`, and plans again from a fresh observation. Its durable state
//! (moves in flight, the hourly budget, the stabilization start) lives in the policy's status,
//! so a restart neither repeats a move nor resets the budget.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::Duration,
};

use jiff::Timestamp;
use k8s_openapi::{api::core::v1::ObjectReference, apimachinery::pkg::apis::meta::v1::Time};

use super::disruption::{Budget, Disruptor, Method, Outcome, Request};
use crate::{
    api::{
        DryRunReport, MoveRecord, RebalanceMode, RebalancePhase, RebalanceStatus, RebalanceTrigger,
        SpreadPolicySpec, WorkloadIssue, conditions::reason,
    },
    planner::{
        budget::BudgetVerdict,
        model::{Cluster, Pod, Workload, WorkloadKind},
        report::{GroupPlan, Move},
        restart,
    },
};

/// How often moves in flight are checked when nothing else wakes the policy.
const IN_FLIGHT_CHECK: Duration = Duration::from_secs(10);
/// Requeue when nothing is pending.
const IDLE_REQUEUE: Duration = Duration::from_secs(300);
/// First back-off after a PodDisruptionBudget refused a move; it doubles up to the maximum.
const PDB_BACKOFF: Duration = Duration::from_secs(30);
const PDB_BACKOFF_MAX: Duration = Duration::from_secs(600);
/// How long a workload whose pods several budgets select is skipped before trying again.
const MULTIPLE_PDBS_HOLD: Duration = Duration::from_secs(600);
/// Replacements landing no better this many times in a row make the scheduler's disagreement
/// a reported problem.
const DISAGREEMENTS_REPORTED: u32 = 3;
/// The budget's window.
const HOUR: Duration = Duration::from_secs(3600);

/// What a policy's rebalancer remembers between reconciles but not across restarts.
#[derive(Debug, Default)]
pub struct Memory {
    /// Per workload: replacements that landed no better in a row, and no move before when.
    /// Ordered, so the status lists its issues in the same order on every run.
    disagreements: BTreeMap<String, (u32, Timestamp)>,
    /// After a 429: no move before when, and how many 429s in a row.
    pdb_backoff: Option<(Timestamp, u32)>,
    /// Workloads whose pods several budgets select, and since when (ordered, as above).
    multiple_pdbs: BTreeMap<String, Timestamp>,
    /// DryRun: planned moves already evaluated, with whether they would pass.
    dry_run: HashMap<(String, String), bool>,
    /// The state the last step ended in, in case its status write was lost.
    last_status: Option<RebalanceStatus>,
}

/// Where the rebalancer stands after a step, for the status and the conditions.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The durable state to write to the status.
    pub status: RebalanceStatus,
    /// The Rebalancing condition's reason.
    pub reason: &'static str,
    /// The Rebalancing condition's message.
    pub message: String,
    /// Problems a person should look at (they make the policy Degraded).
    pub issues: Vec<WorkloadIssue>,
    /// A reason moves are needed but blocked, for the blocked metric.
    pub blocked: Option<&'static str>,
    /// When to look again.
    pub requeue: Duration,
}

/// One policy's inputs to a step.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// The policy's namespace, empty for a ClusterSpreadPolicy.
    pub namespace: &'a str,
    /// The policy's name.
    pub name: &'a str,
    /// The reconciled policy's spec (defaulted by the API server): how rebalancing may act.
    pub settings: &'a SpreadPolicySpec,
    /// The policy object, for Events.
    pub reference: &'a ObjectReference,
    /// The status as last written.
    pub status: &'a RebalanceStatus,
    /// The observed cluster.
    pub cluster: &'a Cluster,
    /// The plan's groups of this policy.
    pub groups: &'a [&'a GroupPlan],
    /// Nodes seen uncordoned, with when.
    pub uncordoned: &'a HashMap<String, Timestamp>,
    /// Workloads (`Kind/name`) whose injection or rollout is pending: their pods are not moved.
    pub unsettled: &'a std::collections::BTreeSet<String>,
    /// Now, on the one clock.
    pub now: Timestamp,
}

fn since(now: Timestamp, then: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(then)).unwrap_or(Duration::ZERO)
}

fn until(now: Timestamp, then: Timestamp) -> Duration {
    Duration::try_from(then.duration_since(now)).unwrap_or(Duration::ZERO)
}

fn later(now: Timestamp, by: Duration) -> Timestamp {
    let at = jiff::SignedDuration::try_from(by)
        .ok()
        .and_then(|by| now.checked_add(by).ok())
        .unwrap_or(now);
    super::whole_seconds(at)
}

/// Whether the NodeRecovery trigger is armed: a node, Ready and schedulable now, became Ready,
/// joined or was uncordoned within the recovery window.
pub fn recovery_armed(inputs: &Inputs<'_>) -> Option<String> {
    let window = inputs.settings.rebalance.recovery_window.get();
    inputs.cluster.nodes.iter().find_map(|node| {
        if !node.ready || node.unschedulable {
            return None;
        }
        let recent = |at: Option<Timestamp>| at.is_some_and(|at| since(inputs.now, at) <= window);
        if recent(node.ready_since) {
            Some(format!("{} became Ready", node.name))
        } else if recent(node.created) {
            Some(format!("{} joined", node.name))
        } else if recent(inputs.uncordoned.get(&node.name).copied()) {
            Some(format!("{} was uncordoned", node.name))
        } else {
            None
        }
    })
}

/// Whether a rebalance is under way: moves were made since the skew last went above the
/// threshold. A recovery arms it; once it moves, it may finish within its budgets, however
/// long the hourly budget makes it take (a recovery needing 32 moves at 20 an hour).
fn rebalance_under_way(status: &RebalanceStatus) -> Option<String> {
    let since = status.skewed_since.as_ref()?.0;
    let moved = status.last_move_time.as_ref()?.0;
    (moved >= since).then(|| "a rebalance begun after a recovery is not finished".to_owned())
}

/// The pods of a workload, from the cluster (through its ReplicaSets for a Deployment).
fn pods_of<'c>(cluster: &'c Cluster, workload: &Workload) -> Vec<&'c Pod> {
    let replica_sets: HashSet<&str> = cluster
        .replica_sets
        .iter()
        .filter(|rs| {
            rs.namespace == workload.namespace
                && rs
                    .owner
                    .as_ref()
                    .is_some_and(|owner| owner.kind == "Deployment" && owner.name == workload.name)
        })
        .map(|rs| rs.name.as_str())
        .collect();
    cluster
        .pods
        .iter()
        .filter(|pod| pod.namespace == workload.namespace)
        .filter(|pod| {
            pod.owner.as_ref().is_some_and(|owner| match workload.kind {
                WorkloadKind::Deployment => {
                    owner.kind == "ReplicaSet" && replica_sets.contains(owner.name.as_str())
                }
                WorkloadKind::StatefulSet => {
                    owner.kind == "StatefulSet" && owner.name == workload.name
                }
            })
        })
        .collect()
}

/// A workload by `Kind/name` in a namespace, or by `namespace/Kind/name` (how a group across
/// namespaces names its workloads).
fn find_workload<'c>(cluster: &'c Cluster, namespace: &str, key: &str) -> Option<&'c Workload> {
    let (namespace, key) = match key.split_once('/') {
        Some((qualifier, rest)) if rest.contains('/') => (qualifier, rest),
        _ => (namespace, key),
    };
    let (kind, name) = key.split_once('/')?;
    cluster.workloads.iter().find(|workload| {
        &*workload.namespace == namespace && workload.kind.as_str() == kind && workload.name == name
    })
}

/// The namespace of a pod named `namespace/name`, else `default`.
fn pod_namespace<'k>(pod: &'k str, default: &'k str) -> &'k str {
    pod.split_once('/')
        .map_or(default, |(namespace, _)| namespace)
}

/// Whether a Deployment's rollout has settled with every replica available.
fn settled(workload: &Workload) -> bool {
    let status = &workload.status;
    status.observed_generation >= workload.generation
        && status.available_replicas >= workload.replicas
        && status.updated_replicas >= workload.replicas
        && status.replicas <= workload.replicas
}

/// The pods' domain under the group's first constraint, and each domain's pods now.
fn domain_counts(
    group: Option<&GroupPlan>,
    cluster: &Cluster,
    node: &str,
) -> (Option<String>, HashMap<String, u32>) {
    let Some(constraint) = group.and_then(|group| group.constraints.first()) else {
        return (None, HashMap::new());
    };
    let domain = cluster
        .nodes
        .iter()
        .find(|n| n.name == node)
        .and_then(|n| n.labels.get(&constraint.topology_key).cloned());
    let counts = constraint
        .domains
        .iter()
        .map(|d| (d.name, d.pods))
        .collect();
    (domain, counts)
}

/// The outcome of looking at one move in flight.
enum Flight {
    Waiting,
    Done { landed: Option<String> },
    TimedOut,
}

fn check_flight(inputs: &Inputs<'_>, record: &MoveRecord) -> Flight {
    let started = record.started.as_ref().map_or(inputs.now, |time| time.0);
    let timeout = inputs.settings.rebalance.ready_timeout.get();
    let namespace = pod_namespace(&record.pod, inputs.namespace);
    let Some(workload) = find_workload(inputs.cluster, namespace, &record.workload) else {
        // The workload is gone: nothing to wait for.
        return Flight::Done { landed: None };
    };
    let pods = pods_of(inputs.cluster, workload);
    let old_pod_running = pods
        .iter()
        .any(|pod| Some(&pod.uid) == record.uid.as_ref() && !pod.terminating);
    let replacement = pods
        .iter()
        .filter(|pod| Some(&pod.uid) != record.uid.as_ref() && !pod.terminating)
        .filter(|pod| pod.created.is_some_and(|created| created >= started))
        .find(|pod| pod.ready);
    let ready = match workload.kind {
        WorkloadKind::Deployment => settled(workload),
        WorkloadKind::StatefulSet => workload.status.ready_replicas >= workload.replicas,
    };
    match replacement {
        Some(pod) if ready && !old_pod_running => Flight::Done {
            landed: pod.node_name.as_deref().map(str::to_owned),
        },
        _ if since(inputs.now, started) > timeout => Flight::TimedOut,
        _ => Flight::Waiting,
    }
}

/// A step of one policy's rebalancer.
pub async fn step(inputs: &Inputs<'_>, memory: &mut Memory, disruptor: &Disruptor<'_>) -> Step {
    let step = step_from(inputs, memory, disruptor).await;
    memory.last_status = Some(step.status.clone());
    step
}

/// One step from the durable state: the status as read, unless this replica made moves whose
/// status write failed (the API answered an error, or the write is not watched back yet): then
/// the state it last stepped to, so a lost write never loses a move in flight or from the
/// hourly budget.
async fn step_from(inputs: &Inputs<'_>, memory: &mut Memory, disruptor: &Disruptor<'_>) -> Step {
    let spec = &inputs.settings.rebalance;
    let now = inputs.now;
    let mut status = match memory.last_status.take() {
        Some(remembered) if remembered.total_moves > inputs.status.total_moves => remembered,
        _ => inputs.status.clone(),
    };
    let mut issues = Vec::new();
    let mut requeue = IDLE_REQUEUE;

    // The hourly budget, kept in the status so that a restart does not reset it.
    status.recent_moves.retain(|time| since(now, time.0) < HOUR);

    // Moves in flight: done, still waiting, or given up on.
    let mut still_flying = Vec::new();
    for record in std::mem::take(&mut status.in_flight) {
        match check_flight(inputs, &record) {
            Flight::Waiting => {
                requeue = requeue.min(IN_FLIGHT_CHECK);
                still_flying.push(record);
            }
            Flight::TimedOut => {
                tracing::warn!(pod = %record.pod, reason = reason::REPLACEMENT_TIMEOUT, "A replacement did not become Ready in time.");
                back_off(memory, &record.workload, now, spec.cooldown.get());
                issues.push(WorkloadIssue {
                    workload: record.workload.clone(),
                    reason: reason::REPLACEMENT_TIMEOUT.to_owned(),
                    message: format!(
                        "the replacement of {} was not Ready within readyTimeout",
                        record.pod
                    ),
                });
            }
            Flight::Done { landed } => {
                status.cooldown_until = Some(Time(later(now, spec.cooldown.get())));
                judge_landing(inputs, memory, &record, landed.as_deref(), now);
                if let Some(landed) = &landed {
                    if let Some(last) = status
                        .last_move
                        .as_mut()
                        .filter(|last| last.uid == record.uid)
                    {
                        last.landed = Some(landed.clone());
                    }
                    disruptor
                        .note_landed(inputs.reference, &record, landed)
                        .await;
                }
            }
        }
    }
    status.in_flight = still_flying;
    for (workload, (count, _)) in &memory.disagreements {
        if *count >= DISAGREEMENTS_REPORTED {
            issues.push(WorkloadIssue {
                workload: workload.clone(),
                reason: reason::SCHEDULER_DISAGREES.to_owned(),
                message: format!(
                    "{count} replacements in a row landed in the same or a fuller domain; backing off"
                ),
            });
        }
    }
    memory
        .multiple_pdbs
        .retain(|_, since_when| since(now, *since_when) < MULTIPLE_PDBS_HOLD);
    for workload in memory.multiple_pdbs.keys() {
        issues.push(WorkloadIssue {
            workload: workload.clone(),
            reason: reason::MULTIPLE_PDBS.to_owned(),
            message:
                "more than one PodDisruptionBudget selects its pods; the Eviction API refuses them"
                    .to_owned(),
        });
    }

    let groups = inputs.groups;
    let worst = groups
        .iter()
        .flat_map(|group| group.constraints.iter().map(move |c| (group, c)))
        .max_by_key(|(_, constraint)| constraint.actionable_skew);
    let skew = worst.map_or(0, |(_, constraint)| constraint.actionable_skew);
    let threshold = inputs.settings.skew_threshold();
    let skewed = i64::from(skew) > i64::from(threshold);
    if skewed {
        status.skewed_since.get_or_insert(Time(now));
    } else {
        status.skewed_since = None;
    }
    let moves: Vec<(&GroupPlan, &Move)> = groups
        .iter()
        .flat_map(|group| group.moves.iter().map(move |m| (*group, m)))
        .collect();

    let finish = |status: RebalanceStatus,
                  phase,
                  reason,
                  message: String,
                  mut issues: Vec<WorkloadIssue>,
                  blocked,
                  requeue| {
        let mut status = status;
        issues.sort_by(|a, b| (&a.workload, &a.reason).cmp(&(&b.workload, &b.reason)));
        issues.dedup_by(|a, b| a.workload == b.workload && a.reason == b.reason);
        status.phase = phase;
        status.moves_last_hour = i32::try_from(status.recent_moves.len()).unwrap_or(i32::MAX);
        Step {
            status,
            reason,
            message,
            issues,
            blocked,
            requeue,
        }
    };

    if spec.mode == RebalanceMode::Off {
        status.dry_run = None;
        return finish(
            status,
            RebalancePhase::Idle,
            reason::MODE_OFF,
            "rebalance.mode is Off".to_owned(),
            issues,
            None,
            IDLE_REQUEUE,
        );
    }
    if !skewed {
        status.dry_run = None;
        let phase = if status.in_flight.is_empty() {
            RebalancePhase::Idle
        } else {
            RebalancePhase::WaitingForReplacement
        };
        // Skewed, but not in domains that can take pods now: say so rather than look idle.
        let stranded = groups
            .iter()
            .flat_map(|group| group.constraints.iter())
            .filter(|c| i64::from(c.skew) > i64::from(c.max_skew))
            .max_by_key(|c| c.skew);
        if let Some(constraint) = stranded {
            let refusing: Vec<String> = constraint
                .domains
                .iter()
                .filter(|domain| !domain.accepting)
                .map(|domain| domain.name)
                .collect();
            let message = format!(
                "skew {} on {} (maxSkew {}), but {} of its domains cannot take pods now ({}: not Ready, cordoned, tainted or full); nothing to move until they can",
                constraint.skew,
                constraint.topology_key,
                constraint.max_skew,
                refusing.len(),
                refusing.join(", ")
            );
            return finish(
                status,
                phase,
                reason::NO_ACCEPTING_DOMAIN,
                message,
                issues,
                None,
                requeue,
            );
        }
        let message = format!(
            "actionable skew {skew} is within skewThreshold {}",
            threshold
        );
        return finish(status, phase, reason::IDLE, message, issues, None, requeue);
    }
    let armed = match spec.trigger {
        RebalanceTrigger::Continuous => Some("trigger is Continuous".to_owned()),
        RebalanceTrigger::NodeRecovery => {
            recovery_armed(inputs).or_else(|| rebalance_under_way(&status))
        }
    };
    let Some(armed_by) = armed else {
        status.dry_run = None;
        let message = format!(
            "actionable skew {skew} is above skewThreshold {threshold}, but no node became Ready, joined or was uncordoned in the last {} (recoveryWindow)",
            spec.recovery_window
        );
        return finish(
            status,
            RebalancePhase::Idle,
            reason::NOT_ARMED,
            message,
            issues,
            None,
            requeue,
        );
    };
    let skewed_since = status.skewed_since.as_ref().map_or(now, |time| time.0);
    let stable_for = since(now, skewed_since);
    if stable_for < spec.stabilization_window.get() {
        let wait = spec.stabilization_window.get() - stable_for;
        let message = format!(
            "actionable skew {skew} has been above skewThreshold for {}s of {}",
            stable_for.as_secs(),
            spec.stabilization_window
        );
        return finish(
            status,
            RebalancePhase::Stabilizing,
            reason::STABILIZATION_PENDING,
            message,
            issues,
            None,
            requeue.min(wait),
        );
    }
    if moves.is_empty() {
        let (why, text) = match worst {
            Some((group, _))
                if group.outcome == crate::planner::report::Outcome::NoAcceptingDomain =>
            {
                (reason::NO_ACCEPTING_DOMAIN, group.message.clone())
            }
            Some((group, _)) => (reason::NO_MOVABLE_POD, group.message.clone()),
            None => (reason::NO_MOVABLE_POD, "nothing to move".to_owned()),
        };
        return finish(
            status,
            RebalancePhase::Blocked,
            why,
            text,
            issues,
            Some(why),
            requeue,
        );
    }

    // Disruption windows: no move starts outside one; moves in flight were followed above.
    // The policy was read, so its windows parse; were they not, nothing would start.
    let window = super::window::Windows::parse(&spec.windows)
        .map_or(super::window::State::Closed { opens: None }, |w| {
            w.state(now)
        });
    if let Some(message) = window.waiting() {
        status.dry_run = None;
        let opens = match &window {
            super::window::State::Closed { opens: Some(at) } => until(now, at.timestamp()),
            _ => IDLE_REQUEUE,
        };
        let phase = RebalancePhase::Idle;
        let why = reason::OUTSIDE_WINDOW;
        return finish(
            status,
            phase,
            why,
            message,
            issues,
            None,
            requeue.min(opens),
        );
    }

    if spec.mode == RebalanceMode::DryRun {
        let report = dry_run(inputs, memory, disruptor, &moves).await;
        let message = format!(
            "DryRun ({armed_by}): would move {} pod(s) now; {} blocked by PodDisruptionBudgets",
            report.would_move, report.blocked
        );
        status.dry_run = Some(report);
        return finish(
            status,
            RebalancePhase::Idle,
            reason::DRY_RUN,
            message,
            issues,
            None,
            requeue,
        );
    }
    status.dry_run = None;

    if let Some(until_time) = status
        .cooldown_until
        .as_ref()
        .map(|time| time.0)
        .filter(|at| *at > now)
    {
        let message =
            format!("cooling down until {until_time} after the last replacement became Ready");
        return finish(
            status,
            RebalancePhase::CoolingDown,
            reason::COOLING_DOWN,
            message,
            issues,
            None,
            requeue.min(until(now, until_time)),
        );
    }
    if let Some((until_time, _)) = memory.pdb_backoff.filter(|(at, _)| *at > now) {
        let message =
            format!("a PodDisruptionBudget refused the last move; trying again after {until_time}");
        return finish(
            status,
            RebalancePhase::Blocked,
            reason::PDB_BLOCKED,
            message,
            issues,
            Some(reason::PDB_BLOCKED),
            requeue.min(until(now, until_time)),
        );
    }

    let mut budget = Budget {
        in_flight: status.in_flight.len(),
        max_in_flight: usize::try_from(spec.max_concurrent_moves).unwrap_or(1),
        last_hour: status.recent_moves.len(),
        max_per_hour: usize::try_from(spec.max_moves_per_hour).unwrap_or(1),
    };
    if let Some(exhausted) = budget.exhausted() {
        let (phase, message, wait) = if exhausted == reason::WAITING_FOR_REPLACEMENT {
            (
                RebalancePhase::WaitingForReplacement,
                format!(
                    "{} move(s) in flight; waiting for their replacements to be Ready",
                    budget.in_flight
                ),
                IN_FLIGHT_CHECK,
            )
        } else {
            let reopens = status
                .recent_moves
                .first()
                .map_or(HOUR, |oldest| HOUR.saturating_sub(since(now, oldest.0)));
            (
                RebalancePhase::Blocked,
                format!(
                    "{} moves in the last hour reach maxMovesPerHour",
                    budget.last_hour
                ),
                reopens,
            )
        };
        let blocked = (phase == RebalancePhase::Blocked).then_some(exhausted);
        return finish(
            status,
            phase,
            exhausted,
            message,
            issues,
            blocked,
            requeue.min(wait),
        );
    }

    let flying: HashSet<String> = status
        .in_flight
        .iter()
        .map(|record| record.pod.clone())
        .collect();
    let mut made = Vec::new();
    let mut refusal: Option<(&'static str, String)> = None;
    // A cluster-wide cap that held a move back.
    let mut capped: Option<&'static str> = None;
    // Moves of workloads whose injection or rollout is pending.
    let mut unsettled_held: Vec<String> = Vec::new();
    // Moves a PodDisruptionBudget holds back now: the pod and what its budget says.
    let mut budget_blocked: Vec<(String, String)> = Vec::new();
    for (_, planned) in moves {
        if budget.exhausted().is_some() {
            break;
        }
        let workload = planned.workload.clone().unwrap_or_default();
        if inputs.unsettled.contains(&workload) {
            // Its pods are about to be replaced by its own rollout: moving one now would be
            // undone, or repeated once the constraints arrive.
            unsettled_held.push(workload);
            continue;
        }
        if flying.contains(&planned.pod)
            || memory.multiple_pdbs.contains_key(&workload)
            || memory
                .disagreements
                .get(&workload)
                .is_some_and(|(_, until_time)| *until_time > now)
        {
            continue;
        }
        let (namespace, pod_name) = planned
            .pod
            .split_once('/')
            .unwrap_or((inputs.namespace, &planned.pod));
        let target = find_workload(inputs.cluster, namespace, &workload);
        let method = match planned.method {
            restart::Method::Evict => Method::Evict,
            restart::Method::Restart => Method::Restart,
        };
        // A surge restart never lowers availability: budgets only hold evictions back.
        if method == Method::Evict {
            if let BudgetVerdict::MultiplePdbs { pdbs } = &planned.budget {
                // The API server would answer 500: the workload is a problem to report, not a
                // move to wait for.
                memory.multiple_pdbs.insert(workload.clone(), now);
                issues.push(WorkloadIssue {
                    workload: workload.clone(),
                    reason: reason::MULTIPLE_PDBS.to_owned(),
                    message: format!(
                        "{} is selected by {} PodDisruptionBudgets ({}); the Eviction API refuses such pods",
                        planned.pod,
                        pdbs.len(),
                        pdbs.join(", ")
                    ),
                });
                continue;
            }
            if !planned.pdb_allows {
                let why = match &planned.budget {
                    BudgetVerdict::Blocked { pdb, reason } => {
                        format!("PodDisruptionBudget {pdb}: {reason}")
                    }
                    _ => "its PodDisruptionBudget".to_owned(),
                };
                disruptor
                    .note_blocked(
                        inputs.reference,
                        &planned.pod,
                        &planned.uid,
                        planned.budget.pdb(),
                        &why,
                    )
                    .await;
                budget_blocked.push((planned.pod.clone(), why));
                continue;
            }
        }
        let request = Request {
            policy: inputs.reference,
            namespace,
            pod: pod_name,
            uid: &planned.uid,
            deployment: target
                .filter(|w| w.kind == WorkloadKind::Deployment)
                .map(|w| w.name.as_str()),
            from: &planned.from_node,
            to: &planned.to_node,
            method,
            dry_run: false,
        };
        match disruptor.disrupt(&request, &mut budget).await {
            Outcome::Moved => {
                memory.pdb_backoff = None;
                let record = MoveRecord {
                    pod: planned.pod.clone(),
                    uid: Some(planned.uid.clone()),
                    method: Some(
                        match method {
                            Method::Evict => "Evict",
                            Method::Restart => "Restart",
                        }
                        .to_owned(),
                    ),
                    workload: workload.clone(),
                    from: planned.from_node.clone(),
                    to: Some(planned.to_node.clone()),
                    landed: None,
                    started: Some(Time(now)),
                };
                tracing::info!(policy = %inputs.name, pod = %planned.pod, node = %planned.from_node, "Moved a pod.");
                status.recent_moves.push(Time(now));
                status.total_moves += 1;
                status.last_move = Some(record.clone());
                status.last_move_time = Some(Time(now));
                status.in_flight.push(record);
                made.push(planned.pod.clone());
            }
            Outcome::Refused {
                reason: why,
                message,
            } if why == reason::MULTIPLE_PDBS => {
                memory.multiple_pdbs.insert(workload.clone(), now);
                issues.push(WorkloadIssue {
                    workload: workload.clone(),
                    reason: reason::MULTIPLE_PDBS.to_owned(),
                    message,
                });
            }
            Outcome::Refused {
                reason: why,
                message,
            } => {
                let attempts = memory.pdb_backoff.map_or(0, |(_, attempts)| attempts) + 1;
                let wait = PDB_BACKOFF
                    .saturating_mul(2u32.saturating_pow(attempts - 1))
                    .min(PDB_BACKOFF_MAX);
                memory.pdb_backoff = Some((later(now, wait), attempts));
                refusal = Some((
                    if why == "Forbidden" {
                        reason::PDB_BLOCKED
                    } else {
                        why
                    },
                    message,
                ));
                requeue = requeue.min(wait);
                // Never retry hot: one refusal ends this step.
                break;
            }
            Outcome::Gone | Outcome::Failed(_) | Outcome::WouldMove => {}
            Outcome::NotLeader | Outcome::OverBudget(_) => break,
            Outcome::Capped(why) => {
                capped = Some(why);
                // A node's cap leaves moves off other nodes; the cluster's leaves none.
                if why == reason::CLUSTER_MOVES_CAPPED {
                    break;
                }
            }
        }
    }

    if !made.is_empty() {
        let message = format!(
            "moved {} ({armed_by}); waiting for the replacement to be Ready",
            made.join(", ")
        );
        return finish(
            status,
            RebalancePhase::WaitingForReplacement,
            reason::MOVING,
            message,
            issues,
            None,
            requeue.min(IN_FLIGHT_CHECK),
        );
    }
    if let Some((why, message)) = refusal {
        return finish(
            status,
            RebalancePhase::Blocked,
            why,
            message,
            issues,
            Some(why),
            requeue,
        );
    }
    if let Some(why) = capped {
        let message = if why == reason::CLUSTER_MOVES_CAPPED {
            "the cluster's moves in flight reach --max-moves-in-flight; waiting for replacements"
        } else {
            "the moves in flight off the nodes to drain reach --max-moves-in-flight-per-node; waiting for replacements"
        };
        return finish(
            status,
            RebalancePhase::Blocked,
            why,
            message.to_owned(),
            issues,
            None,
            requeue.min(IN_FLIGHT_CHECK),
        );
    }
    if !unsettled_held.is_empty() {
        unsettled_held.sort();
        unsettled_held.dedup();
        let message = format!(
            "planned moves wait for the rollout of {} to finish (its injection or update is pending)",
            unsettled_held.join(", ")
        );
        return finish(
            status,
            RebalancePhase::Blocked,
            reason::ROLLOUT_PENDING,
            message,
            issues,
            None,
            requeue.min(IN_FLIGHT_CHECK),
        );
    }
    if !budget_blocked.is_empty() {
        let named: Vec<String> = budget_blocked
            .iter()
            .take(3)
            .map(|(pod, why)| format!("{pod} ({why})"))
            .collect();
        let more = budget_blocked.len().saturating_sub(named.len());
        let message = format!(
            "{} planned move(s) wait for their PodDisruptionBudget to allow a disruption: {}{}",
            budget_blocked.len(),
            named.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
        return finish(
            status,
            RebalancePhase::Blocked,
            reason::PDB_BLOCKED,
            message,
            issues,
            Some(reason::PDB_BLOCKED),
            requeue.min(PDB_BACKOFF),
        );
    }
    let reported = issues
        .iter()
        .find(|issue| {
            issue.reason == reason::SCHEDULER_DISAGREES || issue.reason == reason::MULTIPLE_PDBS
        })
        .map(|issue| {
            if issue.reason == reason::SCHEDULER_DISAGREES {
                reason::SCHEDULER_DISAGREES
            } else {
                reason::MULTIPLE_PDBS
            }
        });
    let why = reported.unwrap_or(reason::NO_MOVABLE_POD);
    finish(
        status,
        RebalancePhase::Blocked,
        why,
        "every planned move is held back".to_owned(),
        issues,
        Some(why),
        requeue.min(IN_FLIGHT_CHECK),
    )
}

/// Backs a workload off after a replacement that landed no better or never became Ready:
/// `cooldown × 2^n`, n the times in a row.
fn back_off(memory: &mut Memory, workload: &str, now: Timestamp, cooldown: Duration) {
    let entry = memory
        .disagreements
        .entry(workload.to_owned())
        .or_insert((0, now));
    entry.0 += 1;
    let wait = cooldown
        .max(Duration::from_secs(30))
        .saturating_mul(2u32.saturating_pow(entry.0));
    entry.1 = later(now, wait);
}

/// Judges where a replacement landed: in the same or a fuller domain than the one it left,
/// the scheduler disagreed with the plan.
fn judge_landing(
    inputs: &Inputs<'_>,
    memory: &mut Memory,
    record: &MoveRecord,
    landed: Option<&str>,
    now: Timestamp,
) {
    let group = inputs
        .groups
        .iter()
        .copied()
        .find(|group| group.workloads.contains(&record.workload));
    let Some(landed) = landed else { return };
    let (from_domain, counts) = domain_counts(group, inputs.cluster, &record.from);
    let (landed_domain, _) = domain_counts(group, inputs.cluster, landed);
    let count = |domain: &Option<String>| {
        domain
            .as_ref()
            .and_then(|d| counts.get(d))
            .copied()
            .unwrap_or(0)
    };
    let disagrees =
        landed_domain == from_domain || count(&landed_domain) >= count(&from_domain) + 2;
    if disagrees {
        tracing::info!(pod = %record.pod, node = %landed, reason = reason::SCHEDULER_DISAGREES, "A replacement landed no better than where its pod left.");
        back_off(
            memory,
            &record.workload,
            now,
            inputs.settings.rebalance.cooldown.get(),
        );
    } else {
        memory.disagreements.remove(&record.workload);
    }
}

/// DryRun: each planned eviction evaluated once with a server-side dry-run eviction, so that
/// the report says what the budgets would allow now; a planned restart asks no budget.
async fn dry_run(
    inputs: &Inputs<'_>,
    memory: &mut Memory,
    disruptor: &Disruptor<'_>,
    moves: &[(&GroupPlan, &Move)],
) -> DryRunReport {
    let planned: HashSet<(String, String)> = moves
        .iter()
        .map(|(_, m)| (m.uid.clone(), m.to_node.clone()))
        .collect();
    memory.dry_run.retain(|key, _| planned.contains(key));
    let mut unlimited = Budget {
        in_flight: 0,
        max_in_flight: usize::MAX,
        last_hour: 0,
        max_per_hour: usize::MAX,
    };
    for (_, planned) in moves {
        let key = (planned.uid.clone(), planned.to_node.clone());
        if memory.dry_run.contains_key(&key) {
            continue;
        }
        if planned.method == restart::Method::Restart {
            // A rollout restart asks no budget: it would pass as planned.
            memory.dry_run.insert(key, true);
            continue;
        }
        let (namespace, pod) = planned
            .pod
            .split_once('/')
            .unwrap_or((inputs.namespace, &planned.pod));
        let request = Request {
            policy: inputs.reference,
            namespace,
            pod,
            uid: &planned.uid,
            deployment: None,
            from: &planned.from_node,
            to: &planned.to_node,
            method: Method::Evict,
            dry_run: true,
        };
        match disruptor.disrupt(&request, &mut unlimited).await {
            Outcome::WouldMove => {
                memory.dry_run.insert(key, true);
            }
            Outcome::Refused { .. } => {
                memory.dry_run.insert(key, false);
            }
            _ => {}
        }
    }
    let would_move = memory.dry_run.values().filter(|passes| **passes).count();
    let blocked = memory.dry_run.len() - would_move;
    DryRunReport {
        would_move: i32::try_from(would_move).unwrap_or(i32::MAX),
        blocked: i32::try_from(blocked).unwrap_or(i32::MAX),
    }
}
