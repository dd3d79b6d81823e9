//! One reconcile of one policy (a SpreadPolicy or a ClusterSpreadPolicy), in four steps: observe (the shared observation), plan
//! (the policy's groups in the shared plan), act (inject, then rebalance through the
//! disruption chokepoint; rank Deployments' pods for scale-down), report (status, metrics).
//! Followers observe and write nothing.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use kube::{core::DeserializeGuard, runtime::controller::Action};

use super::{
    Context, deletion_cost,
    disruption::{Disruptor, Steer},
    inject::Injection,
    kind::PolicyKind,
    rebalance::{self, Inputs, Step},
    report::{self, Findings, WriteStatus},
};
use crate::{
    api::{RebalanceMode, RebalancePhase, ScaleDown, WorkloadCounts, conditions::Reason},
    planner::{group::LeftAlone, report::GroupPlan},
};

/// Requeue while the watches have not listed everything.
const NOT_SYNCED: Duration = Duration::from_secs(2);
/// Requeue on a follower: it only keeps its view warm.
const FOLLOWER: Duration = Duration::from_secs(30);
/// Requeue while injections wait for rollouts.
const INJECTING: Duration = Duration::from_secs(15);

/// What a reconcile could not do.
#[derive(Debug, thiserror::Error)]
pub enum Reconcile {
    /// The status could not be written.
    #[error(transparent)]
    WriteStatus(#[from] WriteStatus),
}

impl Reconcile {
    /// A fixed label per variant, for `kube_spread_reconcile_errors_total`.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::WriteStatus(_) => "write_status",
        }
    }
}

/// Reconciles one policy, or reports one that cannot be read.
pub async fn reconcile<K: PolicyKind>(
    policy: Arc<DeserializeGuard<K>>,
    ctx: Arc<Context>,
) -> Result<Action, Reconcile> {
    let timer = ctx.metrics.reconcile_duration.start_timer();
    let result = match &policy.0 {
        Ok(policy) => reconcile_policy(policy, &ctx).await,
        Err(unreadable) => {
            report::unreadable::<K>(unreadable, &ctx).await;
            Ok(Action::await_change())
        }
    };
    timer.observe_duration();
    result
}

async fn reconcile_policy<K: PolicyKind>(policy: &K, ctx: &Context) -> Result<Action, Reconcile> {
    if !ctx.observer.synced() {
        return Ok(Action::requeue(NOT_SYNCED));
    }
    // Observe.
    let observation = ctx.observer.observe();
    if !ctx.leadership.is_leader() {
        return Ok(Action::requeue(FOLLOWER));
    }
    let namespace = policy.meta().namespace.clone().unwrap_or_default();
    let name = policy.meta().name.clone().unwrap_or_default();
    let key = format!("{namespace}/{name}");
    let reference = policy.object_ref(&());
    let settings = policy.settings();
    let planned = K::planned(&observation.cluster, &namespace, &name);
    let invalid = observation.invalid.get(&key).map(String::as_str);

    // Plan: the policy's groups in the shared plan.
    let groups: Vec<_> = observation.plan.groups_of(&namespace, &name).collect();

    // Act.
    let (injection, step) = if planned {
        let disruptor = Disruptor {
            client: &ctx.client,
            leadership: &ctx.leadership,
            metrics: &ctx.metrics,
            recorder: &ctx.recorder,
            clock: &ctx.clock,
            flights: &ctx.flights,
            policy: &key,
            steer: K::ACROSS_NAMESPACES.then(|| Steer {
                steering: &ctx.steering,
                stores: ctx.observer.stores(),
                policy: &name,
            }),
        };
        let injection = match K::injecting(&observation.cluster, &namespace, &name) {
            Some(model) => {
                let workloads = &observation.cluster.workloads;
                ctx.injector(&disruptor)
                    .inject(model, &settings.rollout, &reference, &groups, workloads)
                    .await
            }
            None => across_namespaces(&groups, ctx),
        };
        let current = policy
            .status()
            .map(|status| status.rebalance.clone())
            .unwrap_or_default();
        let inputs = Inputs {
            name: &name,
            settings: &settings,
            reference: &reference,
            status: &current,
            cluster: &observation.cluster,
            groups: &groups,
            uncordoned: &observation.uncordoned,
            unsettled: &injection.unsettled,
            now: observation.taken,
        };
        let mut memory = ctx.take_memory(&key);
        let step = rebalance::step(&inputs, &mut memory, &disruptor).await;
        ctx.keep_memory(key.clone(), memory);
        if settings.scale_down == ScaleDown::KeepSpread {
            let dry_run = settings.rebalance.mode == RebalanceMode::DryRun;
            deletion_cost::keep_spread(&observation.cluster, &groups, dry_run, &disruptor).await;
        }
        ctx.flights.set(
            &key,
            step.status
                .in_flight
                .iter()
                .map(|record| record.from.clone())
                .collect(),
        );
        if K::ACROSS_NAMESPACES {
            ctx.steering.keep(&name, draining(&step, &groups));
            for error in ctx.steering.apply(&ctx.client, ctx.observer.stores()).await {
                tracing::warn!(policy = %name, error = %error, "Could not update a steering taint; the sweep tries again.");
            }
        }
        (injection, step)
    } else {
        (Injection::default(), invalid_step(policy))
    };

    if step.lost_leadership {
        // The leader speaks for the policy now; a status written here could overwrite its.
        return Ok(Action::requeue(FOLLOWER));
    }

    // Report.
    let status = report::status(
        policy,
        &Findings {
            groups: &groups,
            injection: &injection,
            step: &step,
            invalid,
            now: super::whole_seconds(ctx.clock.now()),
        },
    );
    report::metrics(&ctx.metrics, &namespace, &name, &status, step.blocked);
    let held = policy
        .status()
        .and_then(|stored| report::counts_can_wait(stored, &status, ctx.clock.now()));
    if held.is_none() && report::write(&ctx.client, policy, &status).await? {
        tracing::debug!(policy = %name, namespace = %namespace, "Wrote the status.");
    }
    let mut requeue = if injection.pending > 0 {
        step.requeue.min(INJECTING)
    } else {
        step.requeue
    };
    if let Some(wait) = held {
        requeue = requeue.min(wait);
    }
    Ok(Action::requeue(requeue))
}

/// What a policy that injects nothing (a ClusterSpreadPolicy) reports of its workloads: those
/// its group counts and those it leaves alone; and, since a workload's own rollout would undo
/// or repeat a move, those of its workloads that some SpreadPolicy's injection is rolling.
fn across_namespaces(groups: &[&GroupPlan], ctx: &Context) -> Injection {
    let mut counts = WorkloadCounts::default();
    for group in groups {
        let left_alone = |reason: &LeftAlone| {
            group
                .left_alone
                .iter()
                .filter(|workload| workload.reason == *reason)
                .count()
        };
        counts.matched += count(group.workloads.len() + group.left_alone.len());
        counts.pinned += count(left_alone(&LeftAlone::Pinned));
        counts.ignored += count(left_alone(&LeftAlone::Ignored));
    }
    Injection {
        counts,
        unsettled: ctx.rollouts.rolling_across(ctx.observer.stores()),
        ..Injection::default()
    }
}

/// The nodes a policy across namespaces still marks after a step: those its moves in flight
/// left, and while its rebalance is under way, every node its plan steers replacements away
/// from (the nodes already as full as the group allows).
fn draining(step: &Step, groups: &[&GroupPlan]) -> BTreeSet<String> {
    let mut nodes: BTreeSet<String> = step
        .status
        .in_flight
        .iter()
        .map(|record| record.from.clone())
        .collect();
    let under_way = matches!(
        step.status.phase,
        RebalancePhase::Moving
            | RebalancePhase::WaitingForReplacement
            | RebalancePhase::CoolingDown
    );
    if under_way {
        nodes.extend(
            groups
                .iter()
                .flat_map(|group| group.steer_away.iter().cloned()),
        );
    }
    nodes
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The step of a policy that cannot be read: it does nothing.
fn invalid_step<K: PolicyKind>(policy: &K) -> Step {
    Step {
        status: policy
            .status()
            .map(|status| status.rebalance.clone())
            .unwrap_or_default(),
        reason: Reason::InvalidPolicy,
        message: "the policy cannot be read; see the Ready condition".to_owned(),
        issues: Vec::new(),
        blocked: None,
        requeue: Duration::from_secs(300),
        lost_leadership: false,
    }
}
