//! The one chokepoint for disruption: every eviction and every rollout restart goes through
//! [`Disruptor::disrupt`], which applies leader gating, the move budgets, dry-run, the Eviction
//! API's answers (429: a budget says no; 500: several budgets), Events and metrics. A pod is
//! never deleted directly. The server-side applies that inject or release our constraints, and
//! so re-roll a workload, go through [`Disruptor::roll`] under the same leader gating, with
//! their metrics and Events. The pod-deletion-cost that orders a scale-down is written here too
//! ([`Disruptor::rank_for_deletion`]), under the same leader gating and dry-run. What to write
//! is decided elsewhere; nothing here chooses a workload or a pod.

use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    core::v1::{ObjectReference, Pod},
};
use kube::{
    Api, Client,
    api::{Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};

use super::{
    events::{Note, Recorder, Severity},
    flights::Flights,
    leader::Leadership,
    steer::Steering,
    stores::Stores,
};
use crate::{
    api::{FIELD_MANAGER, MoveRecord, conditions::Reason},
    clock::Clock,
    metrics::{ControllerMetrics, cost_write_result, move_result, patch_result, placement},
    planner::{
        deletion_cost::POD_DELETION_COST,
        model::{Workload, WorkloadKind},
    },
};

/// The annotation `kubectl rollout restart` sets; a new value re-rolls a Deployment.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// How many moves a policy may still make now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Moves whose replacement is not Ready yet.
    pub in_flight: usize,
    /// `rebalance.maxConcurrentMoves`.
    pub max_in_flight: usize,
    /// Moves made in the last hour.
    pub last_hour: usize,
    /// `rebalance.maxMovesPerHour`.
    pub max_per_hour: usize,
}

impl Budget {
    /// Why no move may be made now, if none may.
    pub fn exhausted(&self) -> Option<Reason> {
        if self.in_flight >= self.max_in_flight {
            Some(Reason::WaitingForReplacement)
        } else if self.last_hour >= self.max_per_hour {
            Some(Reason::BudgetExhausted)
        } else {
            None
        }
    }

    /// A budget that never runs out, for evaluations that spend nothing (dry runs).
    pub fn unlimited() -> Self {
        Self {
            in_flight: 0,
            max_in_flight: usize::MAX,
            last_hour: 0,
            max_per_hour: usize::MAX,
        }
    }

    fn spend(&mut self) {
        self.in_flight += 1;
        self.last_hour += 1;
    }
}

/// What the whole cluster allows, whatever the policies say: moves in flight at once across
/// every policy of both kinds, and from any one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    /// Moves in flight at once across the cluster.
    pub in_flight: u16,
    /// Moves in flight at once off one node.
    pub per_node: u16,
}

impl Default for Caps {
    fn default() -> Self {
        Self {
            in_flight: 3,
            per_node: 1,
        }
    }
}

/// How a pod is moved: the planner decides, the chokepoint carries it out.
pub use crate::planner::restart::Method;

/// One move to make.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The policy asking for it (the Events' related object).
    pub policy: &'a ObjectReference,
    /// The pod's namespace.
    pub namespace: &'a str,
    /// The pod's name.
    pub pod: &'a str,
    /// The pod's uid (the eviction's precondition).
    pub uid: &'a str,
    /// For a restart: the Deployment.
    pub deployment: Option<&'a str>,
    /// The node it leaves.
    pub from: &'a str,
    /// Where the planner expects its replacement.
    pub to: &'a str,
    /// Evict or restart.
    pub method: Method,
    /// Evaluate with a server-side dry run; change nothing.
    pub dry_run: bool,
}

/// Why the API server refused a move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 429: a PodDisruptionBudget allows no disruption now.
    Budget,
    /// 500: more than one PodDisruptionBudget selects the pod.
    MultipleBudgets,
    /// 403: this controller may not make it.
    Forbidden,
}

impl Refusal {
    /// How Events and logs name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Budget => Reason::PdbBlocked.as_str(),
            Self::MultipleBudgets => Reason::MultiplePdbs.as_str(),
            Self::Forbidden => "Forbidden",
        }
    }
}

/// Why a move failed other than by a refusal.
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// A restart was planned for a pod whose Deployment is not known.
    #[error("a restart needs the pod's Deployment")]
    NoDeployment,
    /// The API server answered an error that says nothing about budgets.
    #[error("the API server answered {code}: {message}")]
    Api {
        /// The HTTP status code.
        code: u16,
        /// What the server said.
        message: String,
    },
    /// The request did not reach the server or its answer could not be read.
    #[error(transparent)]
    Client(kube::Error),
}

/// What became of a move.
#[derive(Debug)]
pub enum Outcome {
    /// The pod is on its way out; its replacement is coming.
    Moved,
    /// The dry run passed: the move would be allowed now.
    WouldMove,
    /// The API server refused: a PodDisruptionBudget allows no disruption (429), several
    /// budgets select the pod (500), or the request was forbidden (403).
    Refused {
        /// Which of those.
        refusal: Refusal,
        /// What the server said.
        message: String,
    },
    /// The pod is gone or was replaced already (404, or the uid precondition failed).
    Gone,
    /// This replica is not the leader; nothing was written.
    NotLeader,
    /// A move budget is spent; nothing was written.
    OverBudget(Reason),
    /// A cluster-wide cap holds the move back (ClusterMovesCapped, NodeMovesCapped); nothing
    /// was written.
    Capped(Reason),
    /// Anything else went wrong.
    Failed(MoveError),
}

/// Why a roll changes a workload's template.
#[derive(Clone, Copy, Debug)]
pub enum Roll<'a> {
    /// A policy's constraints (and group label) go in; Events go on the policy.
    Inject {
        /// The policy injecting.
        policy: &'a ObjectReference,
    },
    /// Every field we applied comes out (the configuration is empty).
    Release,
}

/// One server-side apply to a workload's template, which re-rolls it when it changes anything.
/// No mode of a policy asks a dry run of it: DryRun and Off still inject.
#[derive(Clone, Debug)]
pub struct RollRequest<'a> {
    /// The workload, as observed.
    pub workload: &'a Workload,
    /// Inject or release.
    pub roll: Roll<'a>,
    /// The apply configuration: only our fields.
    pub configuration: Value,
}

/// Why a roll wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum RollError {
    /// Another field manager owns a field the apply would set (409); nothing was forced.
    #[error("{manager} owns a field this apply would set")]
    Conflict {
        /// The manager the server named.
        manager: String,
        /// The server's answer.
        #[source]
        source: kube::Error,
    },
    /// The apply failed otherwise.
    #[error(transparent)]
    ApplyWorkload(kube::Error),
}

impl RollError {
    /// A fixed label per variant, for `kube_spread_patches_total`.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Conflict { .. } => patch_result::CONFLICT,
            Self::ApplyWorkload(_) => patch_result::FAILED,
        }
    }

    fn of(error: kube::Error) -> Self {
        match &error {
            kube::Error::Api(status) if status.code == 409 => Self::Conflict {
                manager: other_manager(&status.message),
                source: error,
            },
            _ => Self::ApplyWorkload(error),
        }
    }
}

/// What became of a roll.
#[derive(Debug)]
pub enum Rolled {
    /// Applied; the workload's generation after it (unchanged: the apply changed nothing).
    Applied {
        /// `metadata.generation` as the server answered.
        generation: i64,
    },
    /// This replica is not the leader; nothing was written.
    NotLeader,
    /// The server did not apply it.
    Failed(RollError),
}

/// What an injection that another field manager stands in the way of says, in the Event and
/// the status.
pub fn conflict_message(manager: &str, workload: &Workload) -> String {
    format!(
        "{manager} owns a field of {}'s topologySpreadConstraints that this policy would set; nothing was forced",
        workload.key()
    )
}

/// One pod-deletion-cost to write.
#[derive(Clone, Copy, Debug)]
pub struct CostWrite<'a> {
    /// The pod's namespace.
    pub namespace: &'a str,
    /// The pod's name.
    pub pod: &'a str,
    /// The cost it should carry.
    pub cost: i32,
    /// The policy is in DryRun: write nothing.
    pub dry_run: bool,
}

/// What became of a deletion-cost write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostWritten {
    /// The annotation now holds the cost.
    Written,
    /// Nothing was written: this replica does not lead, or the policy is in DryRun.
    Skipped,
    /// The pod is gone, or the write failed; the next reconcile tries again.
    Failed,
}

/// How a ClusterSpreadPolicy's moves steer their replacements.
#[derive(Debug)]
pub struct Steer<'c> {
    /// The nodes being drained, and the taint that marks them.
    pub steering: &'c Steering,
    /// The nodes' taints as last read.
    pub stores: &'c Stores,
    /// The policy's name.
    pub policy: &'c str,
}

/// Makes moves.
pub struct Disruptor<'c> {
    /// The client writes go through.
    pub client: &'c Client,
    /// Whether this replica may write.
    pub leadership: &'c Leadership,
    /// Counters.
    pub metrics: &'c ControllerMetrics,
    /// Events.
    pub recorder: &'c Recorder,
    /// The one clock.
    pub clock: &'c Clock,
    /// For a policy whose group the scheduler cannot count: mark the node a move leaves.
    pub steer: Option<Steer<'c>>,
    /// Every policy's moves in flight, and the caps on them.
    pub flights: &'c Flights,
    /// The policy asking (`namespace/name`, `/name` when cluster-scoped).
    pub policy: &'c str,
}

impl Disruptor<'_> {
    /// Makes one move, if this replica leads and the budget allows it (a dry run spends no
    /// budget), and says what came of it.
    pub async fn disrupt(&self, request: &Request<'_>, budget: &mut Budget) -> Outcome {
        if !self.leadership.is_leader() {
            return Outcome::NotLeader;
        }
        if !request.dry_run
            && let Some(reason) = budget.exhausted()
        {
            return Outcome::OverBudget(reason);
        }
        // Policies that want to move at once take turns in a fixed order (see [`Flights`]).
        let turn = if request.dry_run {
            None
        } else {
            match self.flights.take_turn(self.policy, request.from).await {
                Ok(turn) => Some(turn),
                Err(reason) => return Outcome::Capped(reason),
            }
        };
        if !request.dry_run
            && let Some(steer) = &self.steer
        {
            steer.steering.drain(steer.policy, request.from);
            if let Err(error) = steer
                .steering
                .apply_to(self.client, steer.stores, request.from)
                .await
            {
                // The move still helps; its replacement is judged where it lands.
                tracing::warn!(node = %request.from, error = %error, "Could not mark the node being drained.");
            }
        }
        let outcome = match request.method {
            Method::Evict => self.evict(request).await,
            Method::Restart => self.restart(request).await,
        };
        let result = match (&outcome, request.method) {
            (Outcome::Moved, Method::Evict) => move_result::EVICTED,
            (Outcome::Moved, Method::Restart) => move_result::RESTARTED,
            (Outcome::WouldMove, _) => move_result::DRY_RUN,
            (Outcome::Refused { refusal, .. }, _) if *refusal != Refusal::Forbidden => {
                move_result::PDB_BLOCKED
            }
            _ => move_result::FAILED,
        };
        self.metrics.moves.with_label_values(&[result]).inc();
        let moved = matches!(outcome, Outcome::Moved);
        if moved {
            budget.spend();
        }
        // The turn ends before the Event is written: the next claim need not wait for it.
        match turn {
            Some(turn) if moved => turn.took_off(),
            unused => drop(unused),
        }
        self.explain(request, &outcome).await;
        outcome
    }

    /// Sets a pod's `controller.kubernetes.io/pod-deletion-cost`, if this replica leads and the
    /// policy is not in DryRun (a dry run writes nothing, not even a server-side dry run: the
    /// cost would differ again on every reconcile). Counted in
    /// `kube_spread_deletion_cost_writes_total`.
    pub async fn rank_for_deletion(&self, write: &CostWrite<'_>) -> CostWritten {
        if !self.leadership.is_leader() || write.dry_run {
            return CostWritten::Skipped;
        }
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), write.namespace);
        // A merge patch of the one annotation, as `kubectl annotate` makes: a pod template may
        // set it as well, and an apply would conflict with the ReplicaSet controller that wrote it.
        let patch = json!({"metadata": {"annotations": {
            POD_DELETION_COST: write.cost.to_string(),
        }}});
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        let (outcome, result) = match pods.patch(write.pod, &params, &Patch::Merge(&patch)).await {
            Ok(_) => (CostWritten::Written, cost_write_result::WRITTEN),
            Err(error) => {
                tracing::debug!(pod = %write.pod, namespace = %write.namespace, error = %error, "Could not write a pod's deletion cost.");
                (CostWritten::Failed, cost_write_result::FAILED)
            }
        };
        self.metrics
            .deletion_cost_writes
            .with_label_values(&[result])
            .inc();
        outcome
    }

    /// Says on the policy where a moved pod's replacement landed, and whether that is where the
    /// plan predicted; counts it in `kube_spread_replacements_total`.
    pub async fn note_landed(&self, policy: &ObjectReference, record: &MoveRecord, landed: &str) {
        if !self.leadership.is_leader() {
            return;
        }
        let planned = record.to.as_deref().unwrap_or("no node");
        let (placement, reason, message) = if planned == landed {
            (
                placement::AS_PLANNED,
                "Landed",
                format!(
                    "The replacement of {} (moved off {}) is Ready on {landed}, as planned",
                    record.pod, record.from
                ),
            )
        } else if record.tied_with.iter().any(|node| node == landed) {
            (
                placement::AMONG_EQUALS,
                "LandedAmongEquals",
                format!(
                    "The replacement of {} (moved off {}) is Ready on {landed}, which the scheduler scores as high as the planned {planned} ({} node(s) tied; it picks among them at random)",
                    record.pod,
                    record.from,
                    record.tied_with.len() + 1
                ),
            )
        } else {
            tracing::info!(pod = %record.pod, node = %landed, planned = %planned, "A replacement landed elsewhere than planned.");
            (
                placement::ELSEWHERE,
                "LandedElsewhere",
                format!(
                    "The replacement of {} (moved off {}) is Ready on {landed}; the plan expected {planned}",
                    record.pod, record.from
                ),
            )
        };
        self.metrics
            .replacements
            .with_label_values(&[placement])
            .inc();
        let note = Note {
            severity: Severity::Normal,
            reason,
            action: "Schedule",
            message,
        };
        self.recorder.record(policy, None, note).await;
    }

    /// Says on the pod, and on its budget, that a planned move waits for the budget to allow
    /// a disruption. Nothing is evicted; the recorder drops repeats within ten minutes.
    pub async fn note_blocked(
        &self,
        policy: &ObjectReference,
        pod: &str,
        uid: &str,
        pdb: Option<&str>,
        why: &str,
    ) {
        if !self.leadership.is_leader() {
            return;
        }
        let Some((namespace, name)) = pod.split_once('/') else {
            return;
        };
        let note = Note {
            severity: Severity::Warning,
            reason: "MoveBlocked",
            action: "Evict",
            message: format!("A planned move off its node waits: {why}"),
        };
        let pod_reference = ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("Pod".to_owned()),
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            uid: Some(uid.to_owned()),
            ..ObjectReference::default()
        };
        self.recorder
            .record(&pod_reference, Some(policy), note.clone())
            .await;
        if let Some((pdb_namespace, pdb_name)) = pdb.and_then(|pdb| pdb.split_once('/')) {
            let budget = ObjectReference {
                api_version: Some("policy/v1".to_owned()),
                kind: Some("PodDisruptionBudget".to_owned()),
                name: Some(pdb_name.to_owned()),
                namespace: Some(pdb_namespace.to_owned()),
                ..ObjectReference::default()
            };
            let note = Note {
                message: format!("It holds back a planned move of {pod}: {why}"),
                ..note
            };
            self.recorder
                .record(&budget, Some(&pod_reference), note)
                .await;
        }
    }

    async fn evict(&self, request: &Request<'_>) -> Outcome {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), request.namespace);
        // kube-rs's `Api::evict` drops the delete options; the precondition must reach the
        // server, so the Eviction is posted as kube-apiserver expects it.
        let eviction = json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": request.pod, "namespace": request.namespace},
            "deleteOptions": {"preconditions": {"uid": request.uid}},
        });
        let params = PostParams {
            dry_run: request.dry_run,
            field_manager: None,
        };
        match pods
            .create_subresource::<_, serde_json::Value>("eviction", request.pod, &params, &eviction)
            .await
        {
            Ok(_) if request.dry_run => Outcome::WouldMove,
            Ok(_) => Outcome::Moved,
            Err(error) => refusal(error),
        }
    }

    async fn restart(&self, request: &Request<'_>) -> Outcome {
        let Some(deployment) = request.deployment else {
            return Outcome::Failed(MoveError::NoDeployment);
        };
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), request.namespace);
        // A merge patch, as `kubectl rollout restart` makes: the annotation is the users' as
        // much as ours, so it must never conflict with their restarts.
        let patch = json!({"spec": {"template": {"metadata": {"annotations": {
            RESTARTED_AT: self.clock.now().to_string(),
        }}}}});
        let mut params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        if request.dry_run {
            params = params.dry_run();
        }
        match deployments
            .patch(deployment, &params, &Patch::Merge(&patch))
            .await
        {
            Ok(_) if request.dry_run => Outcome::WouldMove,
            Ok(_) => Outcome::Moved,
            Err(error) => refusal(error),
        }
    }

    async fn explain(&self, request: &Request<'_>, outcome: &Outcome) {
        let how = match request.method {
            Method::Evict => "Evicted",
            Method::Restart => "Restarted its Deployment",
        };
        let note = match outcome {
            Outcome::Moved => Note {
                severity: Severity::Normal,
                reason: "Moved",
                action: action(request.method),
                message: format!(
                    "{how} to move it off {} toward {} and lower the skew of its spread group",
                    request.from, request.to
                ),
            },
            Outcome::WouldMove => Note {
                severity: Severity::Normal,
                reason: "WouldMove",
                action: action(request.method),
                message: format!(
                    "Dry run: would move it off {} toward {}; the eviction would be allowed now",
                    request.from, request.to
                ),
            },
            Outcome::Refused { refusal, message } => Note {
                severity: Severity::Warning,
                reason: "MoveBlocked",
                action: action(request.method),
                message: format!("{}: {message}", refusal.as_str()),
            },
            Outcome::Failed(error) => Note {
                severity: Severity::Warning,
                reason: "MoveFailed",
                action: action(request.method),
                message: error.to_string(),
            },
            Outcome::Gone | Outcome::NotLeader | Outcome::OverBudget(_) | Outcome::Capped(_) => {
                return;
            }
        };
        let pod = ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("Pod".to_owned()),
            name: Some(request.pod.to_owned()),
            namespace: Some(request.namespace.to_owned()),
            uid: Some(request.uid.to_owned()),
            ..ObjectReference::default()
        };
        self.recorder.record(&pod, Some(request.policy), note).await;
    }
}

impl Disruptor<'_> {
    /// Applies a roll under our field manager, never forced, if this replica leads; counts it
    /// in `kube_spread_patches_total` and says on the policy what came of an injection.
    pub async fn roll(&self, request: &RollRequest<'_>) -> Rolled {
        if !self.leadership.is_leader() {
            return Rolled::NotLeader;
        }
        let applied = self.apply(request).await.map_err(RollError::of);
        let result = applied
            .as_ref()
            .map_or_else(RollError::metric_label, |_| patch_result::APPLIED);
        self.metrics.patches.with_label_values(&[result]).inc();
        let rolled = match applied {
            Ok(generation) => Rolled::Applied { generation },
            Err(error) => Rolled::Failed(error),
        };
        match request.roll {
            Roll::Inject { policy } => {
                self.explain_injection(policy, request.workload, &rolled)
                    .await
            }
            Roll::Release => log_release(request.workload, &rolled),
        }
        rolled
    }

    async fn apply(&self, request: &RollRequest<'_>) -> Result<i64, kube::Error> {
        let workload = request.workload;
        let params = PatchParams::apply(FIELD_MANAGER);
        let patch = Patch::Apply(&request.configuration);
        let generation = match workload.kind {
            WorkloadKind::Deployment => {
                Api::<Deployment>::namespaced(self.client.clone(), &workload.namespace)
                    .patch(&workload.name, &params, &patch)
                    .await?
                    .metadata
                    .generation
            }
            WorkloadKind::StatefulSet => {
                Api::<StatefulSet>::namespaced(self.client.clone(), &workload.namespace)
                    .patch(&workload.name, &params, &patch)
                    .await?
                    .metadata
                    .generation
            }
        };
        Ok(generation.unwrap_or_default())
    }

    async fn explain_injection(
        &self,
        policy: &ObjectReference,
        workload: &Workload,
        rolled: &Rolled,
    ) {
        let name = policy.name.as_deref().unwrap_or_default();
        let namespace = policy.namespace.as_deref().unwrap_or_default();
        let note = match rolled {
            Rolled::Applied { .. } => {
                tracing::info!(policy = %name, namespace = %namespace, workload = %workload.key(), "Injected topology spread constraints.");
                Note {
                    severity: Severity::Normal,
                    reason: "Injected",
                    action: "Apply",
                    message: format!("Applied topology spread constraints to {}", workload.key()),
                }
            }
            Rolled::Failed(RollError::Conflict { manager, .. }) => Note {
                severity: Severity::Warning,
                reason: Reason::Conflict.as_str(),
                action: "Apply",
                message: conflict_message(manager, workload),
            },
            Rolled::Failed(error) => {
                tracing::warn!(policy = %name, namespace = %namespace, workload = %workload.key(), error = %error, "Could not inject constraints.");
                return;
            }
            Rolled::NotLeader => return,
        };
        self.recorder.record(policy, None, note).await;
    }
}

/// Logs what came of a release: a re-roll is a state change; a failure is for a human.
fn log_release(workload: &Workload, rolled: &Rolled) {
    match rolled {
        Rolled::Applied { generation } if *generation != workload.generation => {
            tracing::info!(namespace = %workload.namespace, workload = %workload.key(), "Removed our topology spread constraints.");
        }
        Rolled::Failed(error) => {
            tracing::warn!(namespace = %workload.namespace, workload = %workload.key(), error = %error, "Could not remove our topology spread constraints.");
        }
        Rolled::Applied { .. } | Rolled::NotLeader => {}
    }
}

/// The manager a server-side apply conflict names (`conflict with "kubectl" using apps/v1: ...`).
fn other_manager(message: &str) -> String {
    message
        .split("conflict with \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("another field manager")
        .to_owned()
}

impl std::fmt::Debug for Disruptor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disruptor").finish_non_exhaustive()
    }
}

fn action(method: Method) -> &'static str {
    match method {
        Method::Evict => "Evict",
        Method::Restart => "RolloutRestart",
    }
}

/// What an API error means for a move.
fn refusal(error: kube::Error) -> Outcome {
    match error {
        kube::Error::Api(status) => match status.code {
            429 => Outcome::Refused {
                refusal: Refusal::Budget,
                message: status.message,
            },
            500 if status.message.contains("more than one PodDisruptionBudget") => {
                Outcome::Refused {
                    refusal: Refusal::MultipleBudgets,
                    message: status.message,
                }
            }
            403 => Outcome::Refused {
                refusal: Refusal::Forbidden,
                message: status.message,
            },
            404 | 409 => Outcome::Gone,
            code => Outcome::Failed(MoveError::Api {
                code,
                message: status.message,
            }),
        },
        other => Outcome::Failed(MoveError::Client(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_message_names_the_other_manager() {
        let message = "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.template.spec.topologySpreadConstraints";
        assert_eq!(other_manager(message), "kubectl-client-side-apply");
        assert_eq!(other_manager("something else"), "another field manager");
    }

    #[test]
    fn a_conflict_keeps_the_servers_answer_as_its_cause() {
        let status = kube::core::Status::failure(
            "Apply failed with 1 conflict: conflict with \"helm\" using apps/v1: .spec.template.spec.topologySpreadConstraints",
            "Conflict",
        )
        .with_code(409);
        let error = RollError::of(kube::Error::Api(Box::new(status)));
        assert!(matches!(&error, RollError::Conflict { manager, .. } if manager == "helm"));
        assert_eq!(error.metric_label(), patch_result::CONFLICT);
        assert!(std::error::Error::source(&error).is_some());
    }
}
