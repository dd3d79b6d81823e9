//! How each planned move is made: by a rollout restart where the policy allows it and the
//! replacement is Ready before the old pod goes (no PodDisruptionBudget needs to allow that),
//! else by eviction. Decided here once; the controller carries the answer out.

use serde::Serialize;

use super::{
    index::{Index, PodId},
    model::{MoveStrategy, Pod, PodVolume, UpdateStrategy, Workload, WorkloadKind},
};

/// How a move is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum Method {
    /// Through the Eviction API, within the pod's PodDisruptionBudget.
    #[default]
    Evict,
    /// A rollout restart of its Deployment: the new pod surges in before the old one goes.
    Restart,
}

impl Method {
    /// Its name, as a move's status record and Events say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Evict => "Evict",
            Self::Restart => "Restart",
        }
    }
}

/// How a pod is moved under a policy's move strategy.
pub fn method(index: &Index<'_>, strategy: MoveStrategy, pod: PodId) -> Method {
    let restartable = strategy == MoveStrategy::Auto
        && index
            .pod_workload(pod)
            .is_some_and(|workload| can_restart(index, index.workload(workload), index.pod(pod)));
    if restartable {
        Method::Restart
    } else {
        Method::Evict
    }
}

/// Whether a move can be a rollout restart: a single-replica Deployment that surges, whose
/// pod has no ReadWriteOnce or node-bound volume (two pods must run at once for a moment).
fn can_restart(index: &Index<'_>, workload: &Workload, pod: &Pod) -> bool {
    // The new pod must be Ready before the old one goes: a surge, and no unavailability.
    let surges = match &workload.strategy {
        UpdateStrategy::RollingUpdate {
            max_surge,
            max_unavailable,
        } => {
            resolve_surge(max_surge, workload.replicas) >= 1
                && resolve_unavailable(max_unavailable, workload.replicas) == 0
        }
        UpdateStrategy::Recreate
        | UpdateStrategy::StatefulRollingUpdate
        | UpdateStrategy::OnDelete => false,
    };
    workload.kind == WorkloadKind::Deployment
        && workload.replicas == 1
        && surges
        && !pod
            .spec
            .volumes
            .iter()
            .any(|volume| is_exclusive(index, pod, volume))
}

/// Whether a volume keeps a second pod of the same template from running elsewhere at once:
/// node-local data, a ReadWriteOnce claim, a volume only some nodes reach, or one not observed.
fn is_exclusive(index: &Index<'_>, pod: &Pod, volume: &PodVolume) -> bool {
    match volume {
        PodVolume::Claim(name) => index.claim(&pod.namespace, name).is_none_or(|claim| {
            let exclusive = claim
                .access_modes
                .iter()
                .any(|mode| mode.starts_with("ReadWriteOnce"));
            let node_bound = claim
                .volume_name
                .as_deref()
                .and_then(|pv| index.volume(pv))
                .is_some_and(|volume| volume.node_local || volume.node_affinity.is_some());
            exclusive || node_bound
        }),
        PodVolume::EmptyDir | PodVolume::HostPath => true,
        PodVolume::Portable => false,
    }
}

/// maxUnavailable against a replica count, rounding down as the Deployment controller does.
fn resolve_unavailable(value: &str, replicas: i32) -> i64 {
    match value.strip_suffix('%') {
        Some(percent) => percent
            .parse::<i64>()
            .map(|percent| percent * i64::from(replicas) / 100)
            .unwrap_or(1),
        None => value.parse::<i64>().unwrap_or(1),
    }
}

/// maxSurge against a replica count, rounding up as the Deployment controller does.
fn resolve_surge(value: &str, replicas: i32) -> i64 {
    match value.strip_suffix('%') {
        Some(percent) => percent
            .parse::<i64>()
            .map(|percent| (percent * i64::from(replicas) + 99) / 100)
            .unwrap_or(0),
        None => value.parse::<i64>().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surge_resolves_against_the_replica_count_rounding_up() {
        assert_eq!(resolve_surge("25%", 1), 1);
        assert_eq!(resolve_surge("0%", 1), 0);
        assert_eq!(resolve_surge("1", 1), 1);
        assert_eq!(resolve_surge("0", 3), 0);
        assert_eq!(resolve_surge("50%", 3), 2);
    }

    #[test]
    fn unavailability_resolves_against_the_replica_count_rounding_down() {
        assert_eq!(resolve_unavailable("25%", 1), 0);
        assert_eq!(resolve_unavailable("0", 1), 0);
        assert_eq!(resolve_unavailable("1", 1), 1);
        assert_eq!(resolve_unavailable("50%", 3), 1);
    }
}
