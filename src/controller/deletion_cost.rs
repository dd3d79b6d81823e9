//! Keeps spread on scale-down (`scaleDown: KeepSpread`): compares the pod-deletion-cost each
//! pod of a policy's Deployments should carry (the planner's removal levels) with the one it
//! carries, and writes only the differences, through the disruption chokepoint.

use super::disruption::{CostWrite, CostWritten, Disruptor};
use crate::planner::{
    deletion_cost::{Desired, Ranking},
    identity::WorkloadRef,
    model::{Cluster, WorkloadKind},
    report::GroupPlan,
};

/// What one pass wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ranked {
    /// Annotations written.
    pub written: usize,
    /// Writes that failed (tried again next reconcile).
    pub failed: usize,
}

/// The pods of the groups' Deployments whose cost must change, with the cost each should
/// carry. Each ReplicaSet of a Deployment is ranked on its own, by its group's topology keys:
/// the ReplicaSet controller compares costs only between the pods of the ReplicaSet it scales
/// down. StatefulSets ignore the annotation, so their pods are left out.
pub fn changes<'c>(cluster: &'c Cluster, groups: &[&GroupPlan]) -> Vec<Desired<'c>> {
    let mut changes = Vec::new();
    for group in groups {
        let keys: Vec<&str> = group
            .constraints
            .iter()
            .map(|constraint| constraint.topology_key.as_str())
            .collect();
        let ranking = Ranking::new(cluster, &group.namespace);
        let deployments = cluster.workloads.iter().filter(|workload| {
            workload.kind == WorkloadKind::Deployment
                && *workload.namespace == *group.namespace
                && group.workloads.contains(&WorkloadRef::local(workload))
        });
        for deployment in deployments {
            changes.extend(
                ranking
                    .desired(deployment, &keys)
                    .into_iter()
                    .filter(Desired::differs),
            );
        }
    }
    changes
}

/// Writes the costs that changed for the policy's groups; in DryRun, writes nothing.
pub async fn keep_spread(
    cluster: &Cluster,
    groups: &[&GroupPlan],
    dry_run: bool,
    disruptor: &Disruptor<'_>,
) -> Ranked {
    let mut ranked = Ranked::default();
    for change in changes(cluster, groups) {
        let write = CostWrite {
            namespace: &change.pod.namespace,
            pod: &change.pod.name,
            cost: change.cost,
            dry_run,
        };
        match disruptor.rank_for_deletion(&write).await {
            CostWritten::Written => ranked.written += 1,
            CostWritten::Failed => ranked.failed += 1,
            CostWritten::Skipped => {}
        }
    }
    if ranked.written > 0 || ranked.failed > 0 {
        tracing::debug!(
            written = ranked.written,
            failed = ranked.failed,
            "Ranked pods for scale-down."
        );
    }
    ranked
}
