//! One reconcile of one SpreadPolicy, in four steps: observe (the shared observation), plan
//! (the policy's groups in the shared plan), act (inject, then rebalance through the
//! disruption chokepoint), report (status, metrics). Followers observe and write nothing.

use std::{sync::Arc, time::Duration};

use kube::{Resource, core::DeserializeGuard, runtime::controller::Action};

use super::{
    Context,
    disruption::Disruptor,
    inject::{Injection, Injector},
    rebalance::{self, Inputs, Step},
    report::{self, Findings, WriteStatus},
};
use crate::api::{SpreadPolicy, conditions::reason};

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
pub async fn reconcile(
    policy: Arc<DeserializeGuard<SpreadPolicy>>,
    ctx: Arc<Context>,
) -> Result<Action, Reconcile> {
    let timer = ctx.metrics.reconcile_duration.start_timer();
    let result = match &policy.0 {
        Ok(policy) => reconcile_policy(policy, &ctx).await,
        Err(unreadable) => {
            report::unreadable(unreadable, &ctx).await;
            Ok(Action::await_change())
        }
    };
    timer.observe_duration();
    result
}

async fn reconcile_policy(policy: &SpreadPolicy, ctx: &Context) -> Result<Action, Reconcile> {
    if !ctx.observer.synced() {
        return Ok(Action::requeue(NOT_SYNCED));
    }
    // Observe.
    let observation = ctx.observer.observe();
    ctx.publish_node_pods(&observation);
    if !ctx.leadership.is_leader() {
        return Ok(Action::requeue(FOLLOWER));
    }
    let namespace = policy.metadata.namespace.clone().unwrap_or_default();
    let name = policy.metadata.name.clone().unwrap_or_default();
    let key = format!("{namespace}/{name}");
    let reference = policy.object_ref(&());
    let model = observation
        .cluster
        .policies
        .iter()
        .find(|p| *p.namespace == *namespace && p.name == name);
    let invalid = observation.invalid.get(&key).map(String::as_str);

    // Plan: the policy's groups in the shared plan.
    let groups: Vec<_> = observation
        .plan
        .groups
        .iter()
        .filter(|group| {
            *group.namespace == *namespace && group.policy.as_deref() == Some(name.as_str())
        })
        .collect();

    // Act.
    let (injection, step) = match model {
        Some(model) => {
            let injector = Injector {
                client: &ctx.client,
                stores: ctx.observer.stores(),
                metrics: &ctx.metrics,
                recorder: &ctx.recorder,
                rollouts: &ctx.rollouts,
            };
            let injection = injector
                .inject(model, &policy.spec.rollout, &reference, &observation)
                .await;
            let current = policy
                .status
                .as_ref()
                .map(|status| status.rebalance.clone())
                .unwrap_or_default();
            let inputs = Inputs {
                policy: model,
                settings: &policy.spec,
                reference: &reference,
                status: &current,
                cluster: &observation.cluster,
                groups: &groups,
                uncordoned: &observation.uncordoned,
                unsettled: &injection.unsettled,
                now: observation.taken,
            };
            let disruptor = Disruptor {
                client: &ctx.client,
                leadership: &ctx.leadership,
                metrics: &ctx.metrics,
                recorder: &ctx.recorder,
                clock: &ctx.clock,
            };
            let mut memory = ctx.take_memory(&key);
            let step = rebalance::step(&inputs, &mut memory, &disruptor).await;
            ctx.keep_memory(key.clone(), memory);
            (injection, step)
        }
        None => (Injection::default(), invalid_step(policy)),
    };

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
    if report::write(&ctx.client, policy, &status).await? {
        tracing::debug!(policy = %name, namespace = %namespace, "Wrote the status.");
    }
    let requeue = if injection.pending > 0 {
        step.requeue.min(INJECTING)
    } else {
        step.requeue
    };
    Ok(Action::requeue(requeue))
}

/// The step of a policy that cannot be read: it does nothing.
fn invalid_step(policy: &SpreadPolicy) -> Step {
    Step {
        status: policy
            .status
            .as_ref()
            .map(|status| status.rebalance.clone())
            .unwrap_or_default(),
        reason: reason::INVALID,
        message: "the policy cannot be read; see the Ready condition".to_owned(),
        issues: Vec::new(),
        blocked: None,
        requeue: Duration::from_secs(300),
    }
}
