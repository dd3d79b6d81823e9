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

use super::{
    disruption::{Budget, Disruptor, Method, Outcome, Refusal, Request},
    window::{State, Windows},
};
use crate::{
    api::{
        DryRunReport, MoveRecord, RebalanceMode, RebalancePhase, RebalanceStatus, RebalanceTrigger,
        SpreadPolicySpec, WorkloadIssue, conditions::Reason,
    },
    planner::{
        budget::BudgetVerdict,
        identity::{PodRef, WorkloadRef},
        index::Owning,
        model::{Cluster, WorkloadKind},
        report::{GroupPlan, Move, Outcome as PlanOutcome},
        uid::Uid,
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
    disagreements: BTreeMap<WorkloadRef, (u32, Timestamp)>,
    /// After a 429: no move before when, and how many 429s in a row.
    pdb_backoff: Option<(Timestamp, u32)>,
    /// Workloads whose pods several budgets select, and since when (ordered, as above).
    multiple_pdbs: BTreeMap<WorkloadRef, Timestamp>,
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
    pub reason: Reason,
    /// The Rebalancing condition's message.
    pub message: String,
    /// Problems a person should look at (they make the policy Degraded).
    pub issues: Vec<WorkloadIssue>,
    /// A reason moves are needed but blocked, for the blocked metric.
    pub blocked: Option<Reason>,
    /// When to look again.
    pub requeue: Duration,
    /// This replica lost its leadership during the step, before it moved anything: the leader
    /// now speaks for the policy, and nothing of this step is written.
    pub lost_leadership: bool,
}

/// One policy's inputs to a step.
#[derive(Debug)]
pub struct Inputs<'a> {
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

/// How the status names a move's workload: its text, empty for a pod without one.
fn named(workload: Option<&WorkloadRef>) -> String {
    workload.map(ToString::to_string).unwrap_or_default()
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

fn check_flight(inputs: &Inputs<'_>, owning: &Owning<'_>, record: &MoveRecord) -> Flight {
    let started = record.started.as_ref().map_or(inputs.now, |time| time.0);
    let timeout = inputs.settings.rebalance.ready_timeout.get();
    let found = record.workload.as_ref().and_then(|workload| {
        let namespace = workload.namespace_or(&record.pod.namespace);
        owning.workload_id(namespace, workload.kind, &workload.name)
    });
    let Some((id, workload)) = found.and_then(|id| Some((id, inputs.cluster.workloads.get(id)?)))
    else {
        // The workload is gone: nothing to wait for.
        return Flight::Done { landed: None };
    };
    let pods = owning.pods_of(id);
    let moved = record.uid.as_deref().map(Uid::new);
    let old_pod_running = pods
        .iter()
        .any(|pod| Some(&pod.uid) == moved.as_ref() && !pod.terminating);
    let replacement = pods
        .iter()
        .filter(|pod| Some(&pod.uid) != moved.as_ref() && !pod.terminating)
        .filter(|pod| pod.created.is_some_and(|created| created >= started))
        .find(|pod| pod.ready);
    let ready = match workload.kind {
        WorkloadKind::Deployment => workload.rollout_complete(),
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

/// A step of one policy's rebalancer: [`decide`] from the observation, the status and the
/// memory, then carry the decision out through the disruption chokepoint, feeding each
/// outcome back to the decision, which alone says what comes next.
pub async fn step(inputs: &Inputs<'_>, memory: &mut Memory, disruptor: &Disruptor<'_>) -> Step {
    let mut decision = decide(inputs, memory);
    for (record, landed) in decision.landed() {
        disruptor
            .note_landed(inputs.reference, record, landed)
            .await;
    }
    if let Some(dry_run) = decision.dry_run() {
        while let Some(request) = dry_run.next_evaluation() {
            let outcome = disruptor.disrupt(&request, &mut Budget::unlimited()).await;
            dry_run.record(memory, outcome);
        }
    }
    if let Some(course) = decision.course() {
        while let Some(action) = course.next_action(memory) {
            match action {
                Action::NoteBlocked { planned, why } => {
                    disruptor
                        .note_blocked(
                            inputs.reference,
                            &planned.pod.to_string(),
                            &planned.uid,
                            planned.budget.pdb(),
                            &why,
                        )
                        .await;
                }
                Action::Disrupt(request) => {
                    let outcome = disruptor.disrupt(&request, course.budget()).await;
                    course.record(memory, outcome);
                }
            }
        }
    }
    decision.conclude(memory)
}

/// What a step decided before writing anything: the state after following the moves in
/// flight, the replacements to announce, and what to do next.
#[derive(Debug)]
pub struct Decision<'p> {
    carried: Carried,
    /// Replacements that became Ready since the last step, with the node each landed on.
    landed: Vec<(MoveRecord, String)>,
    next: Next<'p>,
}

impl<'p> Decision<'p> {
    /// Replacements that became Ready since the last step, with the node each landed on: to
    /// be announced.
    pub fn landed(&self) -> &[(MoveRecord, String)] {
        &self.landed
    }

    /// The dry-run evaluations to make, when the policy is in DryRun and past its gates.
    pub fn dry_run(&mut self) -> Option<&mut DryRun<'p>> {
        match &mut self.next {
            Next::DryRun(dry_run) => Some(dry_run),
            _ => None,
        }
    }

    /// The planned moves to try, when the policy is past its gates.
    pub fn course(&mut self) -> Option<&mut Course<'p>> {
        match &mut self.next {
            Next::Move(course) => Some(course),
            _ => None,
        }
    }

    /// The step's end, once whatever it had to do was done; remembered, so that a lost status
    /// write never loses a move.
    pub fn conclude(self, memory: &mut Memory) -> Step {
        let step = match self.next {
            Next::Stop(verdict) => self.carried.finish(verdict),
            Next::DryRun(dry_run) => dry_run.conclude(memory, self.carried),
            Next::Move(course) => course.conclude(self.carried),
        };
        memory.last_status = Some(step.status.clone());
        step
    }
}

/// What a step does after following the moves in flight.
#[derive(Debug)]
enum Next<'p> {
    /// Nothing to write: the rebalancer stands where the verdict says.
    Stop(Verdict),
    /// DryRun: evaluate the planned evictions not evaluated yet.
    DryRun(DryRun<'p>),
    /// Try the planned moves in order, within the budgets.
    Move(Box<Course<'p>>),
}

/// The state a step carries from its start to its [`Step`].
#[derive(Debug)]
struct Carried {
    status: RebalanceStatus,
    issues: Vec<WorkloadIssue>,
    requeue: Duration,
}

/// Where a step ends: the phase, the Rebalancing condition's reason and message, the blocked
/// metric's reason, and how soon to look again at the latest (a move in flight or a budget's
/// back-off that needs a look sooner wins).
#[derive(Debug)]
struct Verdict {
    phase: RebalancePhase,
    reason: Reason,
    message: String,
    blocked: Option<Reason>,
    requeue: Duration,
    lost_leadership: bool,
}

impl Verdict {
    fn new(phase: RebalancePhase, reason: Reason, message: String) -> Self {
        Self {
            phase,
            reason,
            message,
            blocked: None,
            requeue: IDLE_REQUEUE,
            lost_leadership: false,
        }
    }

    /// The step of a replica that lost its leadership: nothing of it is written.
    fn lost_leadership() -> Self {
        Self {
            lost_leadership: true,
            ..Self::new(
                RebalancePhase::Idle,
                Reason::Idle,
                "this replica lost its leadership during the step; the leader moves pods"
                    .to_owned(),
            )
        }
    }

    /// Counted in the blocked metric under its reason.
    fn blocking(self) -> Self {
        Self {
            blocked: Some(self.reason),
            ..self
        }
    }

    fn within(self, requeue: Duration) -> Self {
        Self { requeue, ..self }
    }
}

impl Carried {
    fn finish(self, verdict: Verdict) -> Step {
        let Self {
            mut status,
            mut issues,
            requeue,
        } = self;
        issues.sort_by(|a, b| (&a.workload, &a.reason).cmp(&(&b.workload, &b.reason)));
        issues.dedup_by(|a, b| a.workload == b.workload && a.reason == b.reason);
        status.phase = verdict.phase;
        status.moves_last_hour = i32::try_from(status.recent_moves.len()).unwrap_or(i32::MAX);
        Step {
            status,
            reason: verdict.reason,
            message: verdict.message,
            issues,
            blocked: verdict.blocked,
            requeue: requeue.min(verdict.requeue),
            lost_leadership: verdict.lost_leadership,
        }
    }
}

/// Decides a step without writing anything: follows the moves in flight, then passes the
/// gates in the order a person reads them (mode, skew, trigger, stabilization, something to
/// move, dry run, cooldown, budget back-off, move budgets) and, past them all, hands the
/// planned moves to a [`Course`].
pub fn decide<'p>(inputs: &'p Inputs<'p>, memory: &mut Memory) -> Decision<'p> {
    // The durable state: the status as read, unless this replica made moves whose status
    // write failed (the API answered an error, or the write is not watched back yet): then
    // the state it last stepped to, so a lost write never loses a move in flight or from the
    // hourly budget.
    let status = match memory.last_status.take() {
        Some(remembered) if remembered.total_moves > inputs.status.total_moves => remembered,
        _ => inputs.status.clone(),
    };
    let mut carried = Carried {
        status,
        issues: Vec::new(),
        requeue: IDLE_REQUEUE,
    };
    let now = inputs.now;
    // The hourly budget, kept in the status so that a restart does not reset it.
    carried
        .status
        .recent_moves
        .retain(|time| since(now, time.0) < HOUR);
    let landed = follow_flights(inputs, memory, &mut carried);
    standing_issues(memory, now, &mut carried.issues);
    let next = match gate(inputs, memory, &mut carried.status) {
        Err(verdict) => Next::Stop(verdict),
        Ok(Passed::DryRun(armed_by)) => Next::DryRun(DryRun::new(inputs, memory, armed_by)),
        Ok(Passed::Move { armed_by, budget }) => {
            let flying = carried
                .status
                .in_flight
                .iter()
                .map(|record| record.pod.clone())
                .collect();
            Next::Move(Box::new(Course::new(inputs, armed_by, budget, flying)))
        }
    };
    Decision {
        carried,
        landed,
        next,
    }
}

/// Follows the moves in flight: done (cooldown starts, the landing is judged), still
/// waiting, or given up on.
fn follow_flights(
    inputs: &Inputs<'_>,
    memory: &mut Memory,
    carried: &mut Carried,
) -> Vec<(MoveRecord, String)> {
    let now = inputs.now;
    let cooldown = inputs.settings.rebalance.cooldown.get();
    let status = &mut carried.status;
    let mut landed_records = Vec::new();
    let mut still_flying = Vec::new();
    let in_flight = std::mem::take(&mut status.in_flight);
    if in_flight.is_empty() {
        return landed_records;
    }
    // The planner's own lookups say which pods are a workload's; a flight reads one
    // workload's pods, so the whole cluster is not indexed for it.
    let owning = Owning::new(inputs.cluster);
    for record in in_flight {
        match check_flight(inputs, &owning, &record) {
            Flight::Waiting => {
                carried.requeue = carried.requeue.min(IN_FLIGHT_CHECK);
                still_flying.push(record);
            }
            Flight::TimedOut => {
                tracing::warn!(pod = %record.pod, reason = %Reason::ReplacementTimeout, "A replacement did not become Ready in time.");
                if let Some(workload) = &record.workload {
                    back_off(memory, workload, now, cooldown);
                }
                carried.issues.push(WorkloadIssue {
                    workload: named(record.workload.as_ref()),
                    reason: Reason::ReplacementTimeout.to_string(),
                    message: format!(
                        "the replacement of {} was not Ready within readyTimeout",
                        record.pod
                    ),
                });
            }
            Flight::Done { landed } => {
                status.cooldown_until = Some(Time(later(now, cooldown)));
                judge_landing(inputs, memory, &record, landed.as_deref(), now);
                if let Some(landed) = landed {
                    if let Some(last) = status
                        .last_move
                        .as_mut()
                        .filter(|last| last.uid == record.uid)
                    {
                        last.landed = Some(landed.clone());
                    }
                    landed_records.push((record, landed));
                }
            }
        }
    }
    status.in_flight = still_flying;
    landed_records
}

/// Problems the memory holds: workloads the scheduler keeps disagreeing with, and workloads
/// whose pods several budgets select (forgotten after a while, to be tried again).
fn standing_issues(memory: &mut Memory, now: Timestamp, issues: &mut Vec<WorkloadIssue>) {
    for (workload, (count, _)) in &memory.disagreements {
        if *count >= DISAGREEMENTS_REPORTED {
            issues.push(WorkloadIssue {
                workload: workload.to_string(),
                reason: Reason::SchedulerDisagrees.to_string(),
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
            workload: workload.to_string(),
            reason: Reason::MultiplePdbs.to_string(),
            message:
                "more than one PodDisruptionBudget selects its pods; the Eviction API refuses them"
                    .to_owned(),
        });
    }
}

/// How a step passed its gates.
enum Passed {
    /// DryRun: report what would move, armed by what.
    DryRun(String),
    /// Move, armed by what, within what budget.
    Move { armed_by: String, budget: Budget },
}

/// The gates before any move, in order; the first that holds ends the step with its verdict.
fn gate(
    inputs: &Inputs<'_>,
    memory: &Memory,
    status: &mut RebalanceStatus,
) -> Result<Passed, Verdict> {
    let spec = &inputs.settings.rebalance;
    let now = inputs.now;
    let worst = inputs
        .groups
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
    if spec.mode == RebalanceMode::Off {
        status.dry_run = None;
        let message = "rebalance.mode is Off".to_owned();
        return Err(Verdict::new(
            RebalancePhase::Idle,
            Reason::RebalanceOff,
            message,
        ));
    }
    if !skewed {
        status.dry_run = None;
        return Err(within_threshold(inputs, status, skew, threshold));
    }
    let armed = match spec.trigger {
        RebalanceTrigger::Continuous => Some("trigger is Continuous".to_owned()),
        RebalanceTrigger::NodeRecovery => {
            recovery_armed(inputs).or_else(|| rebalance_under_way(status))
        }
    };
    let Some(armed_by) = armed else {
        status.dry_run = None;
        let message = format!(
            "actionable skew {skew} is above skewThreshold {threshold}, but no node became Ready, joined or was uncordoned in the last {} (recoveryWindow)",
            spec.recovery_window
        );
        return Err(Verdict::new(
            RebalancePhase::Idle,
            Reason::NotArmed,
            message,
        ));
    };
    let skewed_since = status.skewed_since.as_ref().map_or(now, |time| time.0);
    let stable_for = since(now, skewed_since);
    if stable_for < spec.stabilization_window.get() {
        let wait = spec.stabilization_window.get() - stable_for;
        // Said with fixed times, not a running count, so that waiting rewrites no status.
        let message = format!(
            "actionable skew {skew} above skewThreshold {threshold} since {skewed_since}; moves may start at {} if it stays above (stabilizationWindow {})",
            later(skewed_since, spec.stabilization_window.get()),
            spec.stabilization_window
        );
        return Err(Verdict::new(
            RebalancePhase::Stabilizing,
            Reason::StabilizationPending,
            message,
        )
        .within(wait));
    }
    if inputs.groups.iter().all(|group| group.moves.is_empty()) {
        let (why, text) = match worst {
            Some((group, _)) if group.outcome == PlanOutcome::NoAcceptingDomain => {
                (Reason::NoAcceptingDomain, group.message.clone())
            }
            Some((group, _)) => (Reason::NoMovablePod, group.message.clone()),
            None => (Reason::NoMovablePod, "nothing to move".to_owned()),
        };
        return Err(Verdict::new(RebalancePhase::Blocked, why, text).blocking());
    }

    // Disruption windows: no move starts outside one; moves in flight were followed above.
    if let Some(verdict) = outside_window(spec, now) {
        status.dry_run = None;
        return Err(verdict);
    }
    if spec.mode == RebalanceMode::DryRun {
        return Ok(Passed::DryRun(armed_by));
    }
    status.dry_run = None;
    held_back(spec, status, memory, now).map(|budget| Passed::Move { armed_by, budget })
}

/// Outside every disruption window: wait for the next one to open. The policy was read, so its
/// windows parse; were they not, nothing would start.
fn outside_window(spec: &crate::api::Rebalance, now: Timestamp) -> Option<Verdict> {
    let window = Windows::parse(&spec.windows)
        .map_or(State::Closed { opens: None }, |windows| windows.state(now));
    let message = window.waiting()?;
    let opens = match &window {
        State::Closed { opens: Some(at) } => until(now, at.timestamp()),
        _ => IDLE_REQUEUE,
    };
    Some(Verdict::new(RebalancePhase::Idle, Reason::OutsideWindow, message).within(opens))
}

/// The verdict when the actionable skew is within the threshold: idle, or skewed in domains
/// that cannot take pods now (said, rather than looking idle).
fn within_threshold(
    inputs: &Inputs<'_>,
    status: &RebalanceStatus,
    skew: u32,
    threshold: i32,
) -> Verdict {
    let phase = if status.in_flight.is_empty() {
        RebalancePhase::Idle
    } else {
        RebalancePhase::WaitingForReplacement
    };
    let stranded = inputs
        .groups
        .iter()
        .flat_map(|group| group.constraints.iter())
        .filter(|c| i64::from(c.skew) > i64::from(c.max_skew))
        .max_by_key(|c| c.skew);
    let Some(constraint) = stranded else {
        let message = format!("actionable skew {skew} is within skewThreshold {threshold}");
        return Verdict::new(phase, Reason::Idle, message);
    };
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
    Verdict::new(phase, Reason::NoAcceptingDomain, message)
}

/// What holds every move back for now: the cooldown after the last replacement, the back-off
/// after a budget refused, or the policy's move budgets; else the budget moves may spend.
fn held_back(
    spec: &crate::api::Rebalance,
    status: &RebalanceStatus,
    memory: &Memory,
    now: Timestamp,
) -> Result<Budget, Verdict> {
    if let Some(until_time) = status
        .cooldown_until
        .as_ref()
        .map(|time| time.0)
        .filter(|at| *at > now)
    {
        let message =
            format!("cooling down until {until_time} after the last replacement became Ready");
        return Err(
            Verdict::new(RebalancePhase::CoolingDown, Reason::CoolingDown, message)
                .within(until(now, until_time)),
        );
    }
    if let Some((until_time, _)) = memory.pdb_backoff.filter(|(at, _)| *at > now) {
        let message =
            format!("a PodDisruptionBudget refused the last move; trying again after {until_time}");
        return Err(
            Verdict::new(RebalancePhase::Blocked, Reason::PdbBlocked, message)
                .blocking()
                .within(until(now, until_time)),
        );
    }
    let budget = Budget {
        in_flight: status.in_flight.len(),
        max_in_flight: usize::try_from(spec.max_concurrent_moves).unwrap_or(1),
        last_hour: status.recent_moves.len(),
        max_per_hour: usize::try_from(spec.max_moves_per_hour).unwrap_or(1),
    };
    match budget.exhausted() {
        None => Ok(budget),
        Some(Reason::WaitingForReplacement) => Err(waiting_for_replacements(&status.in_flight)),
        Some(exhausted) => {
            let reopens = status
                .recent_moves
                .first()
                .map_or(HOUR, |oldest| HOUR.saturating_sub(since(now, oldest.0)));
            let message = format!(
                "{} moves in the last hour reach maxMovesPerHour",
                budget.last_hour
            );
            Err(Verdict::new(RebalancePhase::Blocked, exhausted, message)
                .blocking()
                .within(reopens))
        }
    }
}

/// The verdict while moves are in flight, read from their durable records alone: the step that
/// makes a move and the steps that wait for its replacement say the same, so that a move
/// rewrites the status only when it is made and when it settles.
fn waiting_for_replacements(in_flight: &[MoveRecord]) -> Verdict {
    let message = match in_flight {
        [record] => format!(
            "moved {} off {}; waiting for its replacement to be Ready",
            record.pod, record.from
        ),
        records => format!(
            "{} moves in flight ({}); waiting for their replacements to be Ready",
            records.len(),
            first_three(
                records
                    .iter()
                    .map(|record| format!("{} off {}", record.pod, record.from)),
                records.len()
            )
        ),
    };
    Verdict::new(
        RebalancePhase::WaitingForReplacement,
        Reason::WaitingForReplacement,
        message,
    )
    .within(IN_FLIGHT_CHECK)
}

/// One thing to do for a planned move.
#[derive(Debug)]
pub enum Action<'p> {
    /// Say on the pod and its budget that the budget holds this move back (an Event only).
    NoteBlocked {
        /// The move held back.
        planned: &'p Move,
        /// What its budget says.
        why: String,
    },
    /// Make the move.
    Disrupt(Request<'p>),
}

/// The planned moves of a step, in the plan's order: a state machine without I/O that says
/// what to do next ([`Course::next_action`]) and takes in what came of it ([`Course::record`]), so
/// that acting on it is a loop that decides nothing.
#[derive(Debug)]
pub struct Course<'p> {
    inputs: &'p Inputs<'p>,
    armed_by: String,
    planned: std::vec::IntoIter<&'p Move>,
    budget: Budget,
    /// Pods whose moves are in flight already.
    flying: HashSet<PodRef>,
    /// The move handed out last, until its outcome is recorded.
    pending: Option<&'p Move>,
    /// Whether an outcome ended the step.
    stopped: bool,
    /// The refusal that ended the step.
    refusal: Option<(Reason, String)>,
    /// A cluster-wide cap that held a move back.
    capped: Option<Reason>,
    /// Whether leadership was lost during the step.
    not_leader: bool,
    /// Workloads whose moves wait for their injection or rollout.
    unsettled_held: Vec<String>,
    /// Moves a PodDisruptionBudget holds back now: the pod and what its budget says.
    budget_blocked: Vec<(PodRef, String)>,
    /// Moved pods' records and problems, folded into the status at the end.
    moved: Vec<MoveRecord>,
    issues: Vec<WorkloadIssue>,
    requeue: Duration,
}

impl<'p> Course<'p> {
    fn new(
        inputs: &'p Inputs<'p>,
        armed_by: String,
        budget: Budget,
        flying: HashSet<PodRef>,
    ) -> Self {
        let planned: Vec<&'p Move> = inputs
            .groups
            .iter()
            .flat_map(|group| group.moves.iter())
            .collect();
        Self {
            inputs,
            armed_by,
            planned: planned.into_iter(),
            budget,
            flying,
            pending: None,
            stopped: false,
            refusal: None,
            capped: None,
            not_leader: false,
            unsettled_held: Vec::new(),
            budget_blocked: Vec::new(),
            moved: Vec::new(),
            issues: Vec::new(),
            requeue: IDLE_REQUEUE,
        }
    }

    /// The budget the chokepoint spends moves from.
    pub fn budget(&mut self) -> &mut Budget {
        &mut self.budget
    }

    /// What to do next, or None when the step is over: the budget is spent, an outcome ended
    /// it, or no planned move is left. Moves that must wait are passed over here.
    pub fn next_action(&mut self, memory: &mut Memory) -> Option<Action<'p>> {
        let now = self.inputs.now;
        while !self.stopped && self.budget.exhausted().is_none() {
            let planned = self.planned.next()?;
            let workload = planned.workload.as_ref();
            let name = named(workload);
            if self.inputs.unsettled.contains(&name) {
                // Its pods are about to be replaced by its own rollout: moving one now would
                // be undone, or repeated once the constraints arrive.
                self.unsettled_held.push(name);
                continue;
            }
            let held = workload.is_some_and(|workload| {
                memory.multiple_pdbs.contains_key(workload)
                    || memory
                        .disagreements
                        .get(workload)
                        .is_some_and(|(_, until_time)| *until_time > now)
            });
            if self.flying.contains(&planned.pod) || held {
                continue;
            }
            // A surge restart never lowers availability: budgets only hold evictions back.
            if planned.method == Method::Evict {
                if let BudgetVerdict::MultiplePdbs { pdbs } = &planned.budget {
                    // The API server would answer 500: the workload is a problem to report,
                    // not a move to wait for.
                    if let Some(workload) = workload {
                        memory.multiple_pdbs.insert(workload.clone(), now);
                    }
                    self.issues.push(WorkloadIssue {
                        workload: name,
                        reason: Reason::MultiplePdbs.to_string(),
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
                    self.budget_blocked.push((planned.pod.clone(), why.clone()));
                    return Some(Action::NoteBlocked { planned, why });
                }
            }
            self.pending = Some(planned);
            return Some(Action::Disrupt(request_for(self.inputs, planned, false)));
        }
        None
    }

    /// Takes in what came of the move [`Course::next_action`] handed out last.
    pub fn record(&mut self, memory: &mut Memory, outcome: Outcome) {
        let Some(planned) = self.pending.take() else {
            return;
        };
        let now = self.inputs.now;
        let workload = planned.workload.clone();
        match outcome {
            Outcome::Moved => {
                memory.pdb_backoff = None;
                tracing::info!(policy = %self.inputs.name, pod = %planned.pod, node = %planned.from_node, armed_by = %self.armed_by, "Moved a pod.");
                self.moved.push(MoveRecord {
                    pod: planned.pod.clone(),
                    uid: Some(planned.uid.clone()),
                    method: Some(planned.method.as_str().to_owned()),
                    workload,
                    from: planned.from_node.clone(),
                    to: Some(planned.to_node.clone()),
                    tied_with: planned.tied_with.clone(),
                    landed: None,
                    started: Some(Time(now)),
                });
            }
            Outcome::Refused {
                refusal: Refusal::MultipleBudgets,
                message,
            } => {
                self.issues.push(WorkloadIssue {
                    workload: named(workload.as_ref()),
                    reason: Reason::MultiplePdbs.to_string(),
                    message,
                });
                if let Some(workload) = workload {
                    memory.multiple_pdbs.insert(workload, now);
                }
            }
            Outcome::Refused { message, .. } => {
                let attempts = memory.pdb_backoff.map_or(0, |(_, attempts)| attempts) + 1;
                let wait = PDB_BACKOFF
                    .saturating_mul(2u32.saturating_pow(attempts - 1))
                    .min(PDB_BACKOFF_MAX);
                memory.pdb_backoff = Some((later(now, wait), attempts));
                // A forbidden eviction reads as blocked, like a budget's refusal.
                self.refusal = Some((Reason::PdbBlocked, message));
                self.requeue = self.requeue.min(wait);
                // Never retry hot: one refusal ends this step.
                self.stopped = true;
            }
            Outcome::Gone | Outcome::Failed(_) | Outcome::WouldMove => {}
            Outcome::NotLeader => {
                self.not_leader = true;
                self.stopped = true;
            }
            Outcome::OverBudget(_) => self.stopped = true,
            Outcome::Capped(why) => {
                self.capped = Some(why);
                // A node's cap leaves moves off other nodes; the cluster's leaves none.
                self.stopped = why == Reason::ClusterMovesCapped;
            }
        }
    }

    /// The step's end: the moves made, or what held every planned move back.
    fn conclude(self, mut carried: Carried) -> Step {
        let now = self.inputs.now;
        let made_any = !self.moved.is_empty();
        for record in self.moved {
            carried.status.recent_moves.push(Time(now));
            carried.status.total_moves += 1;
            carried.status.last_move = Some(record.clone());
            carried.status.last_move_time = Some(Time(now));
            carried.status.in_flight.push(record);
        }
        carried.issues.extend(self.issues);
        carried.requeue = carried.requeue.min(self.requeue);
        let verdict = if made_any {
            waiting_for_replacements(&carried.status.in_flight)
        } else if self.not_leader {
            Verdict::lost_leadership()
        } else if let Some((why, message)) = self.refusal {
            Verdict::new(RebalancePhase::Blocked, why, message).blocking()
        } else if let Some(why) = self.capped {
            let message = if why == Reason::ClusterMovesCapped {
                "the cluster's moves in flight reach --max-moves-in-flight; waiting for replacements"
            } else {
                "the moves in flight off the nodes to drain reach --max-moves-in-flight-per-node; waiting for replacements"
            };
            Verdict::new(RebalancePhase::Blocked, why, message.to_owned()).within(IN_FLIGHT_CHECK)
        } else if !self.unsettled_held.is_empty() {
            let mut held = self.unsettled_held;
            held.sort();
            held.dedup();
            let message = format!(
                "planned moves wait for the rollout of {} to finish (its injection or update is pending)",
                held.join(", ")
            );
            Verdict::new(RebalancePhase::Blocked, Reason::RolloutPending, message)
                .within(IN_FLIGHT_CHECK)
        } else if !self.budget_blocked.is_empty() {
            Verdict::new(
                RebalancePhase::Blocked,
                Reason::PdbBlocked,
                budgets_holding(&self.budget_blocked),
            )
            .blocking()
            .within(PDB_BACKOFF)
        } else {
            let why = carried
                .issues
                .iter()
                .find_map(|issue| {
                    [Reason::SchedulerDisagrees, Reason::MultiplePdbs]
                        .into_iter()
                        .find(|reported| issue.reason == reported.as_str())
                })
                .unwrap_or(Reason::NoMovablePod);
            let message = "every planned move is held back".to_owned();
            Verdict::new(RebalancePhase::Blocked, why, message)
                .blocking()
                .within(IN_FLIGHT_CHECK)
        };
        carried.finish(verdict)
    }
}

/// Says which budgets hold planned moves back: the first three, and how many more.
fn budgets_holding(blocked: &[(PodRef, String)]) -> String {
    format!(
        "{} planned move(s) wait for their PodDisruptionBudget to allow a disruption: {}",
        blocked.len(),
        first_three(
            blocked.iter().map(|(pod, why)| format!("{pod} ({why})")),
            blocked.len()
        )
    )
}

/// The first three of `total` items, and how many more there are.
fn first_three(items: impl Iterator<Item = String>, total: usize) -> String {
    let named: Vec<String> = items.take(3).collect();
    let more = total.saturating_sub(named.len());
    if more > 0 {
        format!("{} and {more} more", named.join(", "))
    } else {
        named.join(", ")
    }
}

/// The request that makes a planned move (or evaluates it, in a dry run).
fn request_for<'p>(inputs: &'p Inputs<'p>, planned: &'p Move, dry_run: bool) -> Request<'p> {
    let deployment = planned
        .workload
        .as_ref()
        .filter(|workload| workload.kind == WorkloadKind::Deployment)
        .map(|workload| workload.name.as_str());
    Request {
        policy: inputs.reference,
        namespace: &planned.pod.namespace,
        pod: &planned.pod.name,
        uid: &planned.uid,
        deployment,
        from: &planned.from_node,
        to: &planned.to_node,
        method: planned.method,
        dry_run,
    }
}

/// DryRun: each planned eviction evaluated once with a server-side dry-run eviction, so that
/// the report says what the budgets would allow now; a planned restart asks no budget.
#[derive(Debug)]
pub struct DryRun<'p> {
    inputs: &'p Inputs<'p>,
    armed_by: String,
    /// Evictions not evaluated yet.
    evaluate: std::vec::IntoIter<&'p Move>,
    /// The one handed out last, until its outcome is recorded.
    pending: Option<&'p Move>,
}

impl<'p> DryRun<'p> {
    fn new(inputs: &'p Inputs<'p>, memory: &mut Memory, armed_by: String) -> Self {
        let moves: Vec<&'p Move> = inputs
            .groups
            .iter()
            .flat_map(|group| group.moves.iter())
            .collect();
        let planned: HashSet<(String, String)> = moves
            .iter()
            .map(|m| (m.uid.clone(), m.to_node.clone()))
            .collect();
        memory.dry_run.retain(|key, _| planned.contains(key));
        let mut evaluate = Vec::new();
        for planned in moves {
            let key = (planned.uid.clone(), planned.to_node.clone());
            if memory.dry_run.contains_key(&key) {
                continue;
            }
            if planned.method == Method::Restart {
                // A rollout restart asks no budget: it would pass as planned.
                memory.dry_run.insert(key, true);
            } else {
                evaluate.push(planned);
            }
        }
        Self {
            inputs,
            armed_by,
            evaluate: evaluate.into_iter(),
            pending: None,
        }
    }

    /// The next eviction to evaluate.
    pub fn next_evaluation(&mut self) -> Option<Request<'p>> {
        let planned = self.evaluate.next()?;
        self.pending = Some(planned);
        Some(Request {
            deployment: None,
            ..request_for(self.inputs, planned, true)
        })
    }

    /// Takes in the server's answer to the evaluation handed out last.
    pub fn record(&mut self, memory: &mut Memory, outcome: Outcome) {
        let Some(planned) = self.pending.take() else {
            return;
        };
        let key = (planned.uid.clone(), planned.to_node.clone());
        match outcome {
            Outcome::WouldMove => {
                memory.dry_run.insert(key, true);
            }
            Outcome::Refused { .. } => {
                memory.dry_run.insert(key, false);
            }
            _ => {}
        }
    }

    fn conclude(self, memory: &Memory, mut carried: Carried) -> Step {
        let would_move = memory.dry_run.values().filter(|passes| **passes).count();
        let blocked = memory.dry_run.len() - would_move;
        let report = DryRunReport {
            would_move: i32::try_from(would_move).unwrap_or(i32::MAX),
            blocked: i32::try_from(blocked).unwrap_or(i32::MAX),
        };
        let message = format!(
            "DryRun ({}): would move {} pod(s) now; {} blocked by PodDisruptionBudgets",
            self.armed_by, report.would_move, report.blocked
        );
        carried.status.dry_run = Some(report);
        carried.finish(Verdict::new(RebalancePhase::Idle, Reason::DryRun, message))
    }
}

/// Backs a workload off after a replacement that landed no better or never became Ready:
/// `cooldown × 2^n`, n the times in a row.
fn back_off(memory: &mut Memory, workload: &WorkloadRef, now: Timestamp, cooldown: Duration) {
    let entry = memory
        .disagreements
        .entry(workload.clone())
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
    let Some(workload) = &record.workload else {
        return;
    };
    let group = inputs
        .groups
        .iter()
        .copied()
        .find(|group| group.workloads.contains(workload));
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
        tracing::info!(pod = %record.pod, node = %landed, reason = %Reason::SchedulerDisagrees, "A replacement landed no better than where its pod left.");
        back_off(
            memory,
            workload,
            now,
            inputs.settings.rebalance.cooldown.get(),
        );
    } else {
        memory.disagreements.remove(workload);
    }
}
