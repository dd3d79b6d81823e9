//! Which pods may be moved, and for the others the one named reason why not. The rules keep
//! users' data and availability safe: a pod that loses data, cannot run elsewhere, or is not
//! yet settled is never a candidate.

use std::{fmt, time::Duration};

use rustc_hash::FxHashMap as HashMap;

use jiff::Timestamp;
use serde::Serialize;

use super::{
    eligibility::Placement,
    index::{Index, PodId},
    model::{Node, OptOut, Pod, PodPhase, PodVolume},
    selector::NodeSelector,
};
use crate::labels::HOSTNAME_LABEL;

/// Priority classes Kubernetes reserves for the pods a cluster cannot run without.
const CRITICAL_PRIORITY_CLASSES: [&str; 2] = ["system-cluster-critical", "system-node-critical"];
/// Priorities from here up are reserved for system-critical pods.
const CRITICAL_PRIORITY: i32 = 2_000_000_000;

/// Why a pod is not moved. Checked in this order; the first that applies is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Protection {
    /// Being deleted already.
    Terminating,
    /// Owned by a DaemonSet: it runs on every node by design.
    DaemonSet,
    /// The API copy of a static pod.
    Mirror,
    /// Run by the kubelet from a file.
    Static,
    /// No controller would recreate it.
    NoController,
    /// system-cluster-critical, system-node-critical, or a priority reserved for them.
    SystemCritical,
    /// `kubespread.io/do-not-move: "true"`, or a duration since the pod started that has not
    /// yet passed.
    DoNotMove,
    /// `kubespread.io/do-not-move` holds neither `"true"`, `"false"` nor a duration: left
    /// alone, as its owner meant to opt out, and named so the value gets fixed.
    DoNotMoveInvalid,
    /// `karpenter.sh/do-not-disrupt: "true"`, or a duration since the pod started that has not
    /// yet passed.
    DoNotDisrupt,
    /// `cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`.
    NotSafeToEvict,
    /// Bound to one node by nodeName, a hostname nodeSelector, or an affinity that admits no
    /// other node that can take it.
    Pinned,
    /// emptyDir or hostPath: its data lives on the node.
    LocalStorage,
    /// A PersistentVolume only this node (or no other live node) can reach.
    NodeBoundVolume,
    /// A PersistentVolumeClaim or its volume is missing from what was observed.
    VolumeUnknown,
    /// Not bound to a node.
    Unbound,
    /// Not Running.
    NotRunning,
    /// Not Ready.
    NotReady,
    /// Younger than minPodAge.
    TooYoung,
}

impl Protection {
    /// Every protection, in the order they are checked.
    pub const ALL: [Self; 18] = [
        Self::Terminating,
        Self::DaemonSet,
        Self::Mirror,
        Self::Static,
        Self::NoController,
        Self::SystemCritical,
        Self::DoNotMove,
        Self::DoNotMoveInvalid,
        Self::DoNotDisrupt,
        Self::NotSafeToEvict,
        Self::Unbound,
        Self::Pinned,
        Self::LocalStorage,
        Self::NodeBoundVolume,
        Self::VolumeUnknown,
        Self::NotRunning,
        Self::NotReady,
        Self::TooYoung,
    ];

    /// The reason as `plan`, the status and Events spell it.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Terminating => "Terminating",
            Self::DaemonSet => "DaemonSet",
            Self::Mirror => "Mirror",
            Self::Static => "Static",
            Self::NoController => "NoController",
            Self::SystemCritical => "SystemCritical",
            Self::DoNotMove => "DoNotMove",
            Self::DoNotMoveInvalid => "DoNotMoveInvalid",
            Self::DoNotDisrupt => "DoNotDisrupt",
            Self::NotSafeToEvict => "NotSafeToEvict",
            Self::Pinned => "Pinned",
            Self::LocalStorage => "LocalStorage",
            Self::NodeBoundVolume => "NodeBoundVolume",
            Self::VolumeUnknown => "VolumeUnknown",
            Self::Unbound => "Unbound",
            Self::NotRunning => "NotRunning",
            Self::NotReady => "NotReady",
            Self::TooYoung => "TooYoung",
        }
    }
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// Decides protections for the pods of one cluster, remembering per placement whether any
/// other live node would take it.
#[derive(Debug)]
pub struct Protections<'i, 'a> {
    index: &'i Index<'a>,
    now: Timestamp,
    live_admitting: HashMap<Placement, Vec<usize>>,
}

impl<'i, 'a> Protections<'i, 'a> {
    /// Protections as of `now`.
    pub fn new(index: &'i Index<'a>, now: Timestamp) -> Self {
        Self {
            index,
            now,
            live_admitting: HashMap::default(),
        }
    }

    /// The reason a pod may not be moved, or None if it may.
    pub fn of(&mut self, pod_id: PodId, min_pod_age: Duration) -> Option<Protection> {
        let index = self.index;
        let pod = index.pod(pod_id);
        let owner_kind = pod.owner.as_ref().map(|owner| &*owner.kind);
        if pod.terminating {
            return Some(Protection::Terminating);
        }
        if owner_kind == Some("DaemonSet") {
            return Some(Protection::DaemonSet);
        }
        if pod.mirror {
            return Some(Protection::Mirror);
        }
        if pod.static_pod || owner_kind == Some("Node") {
            return Some(Protection::Static);
        }
        if owner_kind.is_none() {
            return Some(Protection::NoController);
        }
        if is_system_critical(pod) {
            return Some(Protection::SystemCritical);
        }
        // The owner's own word comes before what we infer from the spec or the status.
        if let Some(protection) = self.opt_out(pod) {
            return Some(protection);
        }
        let Some(node) = index.pod_node(pod_id) else {
            return Some(Protection::Unbound);
        };
        if self.is_pinned(pod_id, node) {
            return Some(Protection::Pinned);
        }
        if let Some(protection) = self.volume_protection(pod, node) {
            return Some(protection);
        }
        if pod.phase != PodPhase::Running {
            return Some(Protection::NotRunning);
        }
        if !pod.ready {
            return Some(Protection::NotReady);
        }
        let old_enough = pod.age_origin().is_some_and(|origin| {
            Duration::try_from(self.now.duration_since(origin)).is_ok_and(|age| age >= min_pod_age)
        });
        if !old_enough {
            return Some(Protection::TooYoung);
        }
        None
    }

    /// The first opt-out annotation that still holds: ours, then Karpenter's, then the
    /// cluster-autoscaler's.
    fn opt_out(&self, pod: &Pod) -> Option<Protection> {
        let opt_outs = &pod.opt_outs;
        match opt_outs.do_not_move {
            Some(OptOut::Invalid) => return Some(Protection::DoNotMoveInvalid),
            Some(opt_out) if self.holds(pod, opt_out) => return Some(Protection::DoNotMove),
            _ => {}
        }
        if opt_outs
            .do_not_disrupt
            .is_some_and(|opt_out| self.holds(pod, opt_out))
        {
            return Some(Protection::DoNotDisrupt);
        }
        opt_outs
            .not_safe_to_evict
            .then_some(Protection::NotSafeToEvict)
    }

    /// Whether an opt-out holds now. A duration counts from the pod's start, as Karpenter
    /// counts its own (creation when it has not started); a pod with neither time is kept.
    fn holds(&self, pod: &Pod, opt_out: OptOut) -> bool {
        opt_out_end(pod, opt_out).is_none_or(|end| self.now < end)
    }

    fn is_pinned(&mut self, pod_id: PodId, node: usize) -> bool {
        let index = self.index;
        let pod = index.pod(pod_id);
        let template_names_node = index
            .pod_workload(pod_id)
            .is_some_and(|workload| index.workload(workload).template.node_name.is_some());
        if template_names_node || pod.spec.node_selector.contains_key(HOSTNAME_LABEL) {
            return true;
        }
        // A pod free to go anywhere is not pinned, even when no other node is live now.
        if pod.spec.node_selector.is_empty() && pod.spec.required_affinity.is_none() {
            return false;
        }
        let placement = Placement::of(&pod.spec);
        !self
            .live_admitting(&placement)
            .iter()
            .any(|&other| other != node)
    }

    /// The live nodes a placement admits (Ready, schedulable, taints tolerated).
    fn live_admitting(&mut self, placement: &Placement) -> &[usize] {
        let nodes = &self.index.cluster.nodes;
        self.live_admitting
            .entry(placement.clone())
            .or_insert_with(|| {
                nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, node)| placement.is_live_on(node))
                    .map(|(id, _)| id)
                    .collect()
            })
    }

    fn volume_protection(&mut self, pod: &Pod, node: usize) -> Option<Protection> {
        let index = self.index;
        for volume in &pod.spec.volumes {
            match volume {
                PodVolume::EmptyDir | PodVolume::HostPath => return Some(Protection::LocalStorage),
                PodVolume::Portable => {}
                PodVolume::Claim(name) => {
                    let Some(claim) = index.claim(&pod.namespace, name) else {
                        return Some(Protection::VolumeUnknown);
                    };
                    let Some(volume) = claim.volume_name.as_deref().and_then(|pv| index.volume(pv))
                    else {
                        return Some(Protection::VolumeUnknown);
                    };
                    if volume.node_local {
                        return Some(Protection::NodeBoundVolume);
                    }
                    if let Some(affinity) = &volume.node_affinity {
                        let placement = Placement::of(&pod.spec);
                        let reachable_elsewhere =
                            self.live_admitting(&placement).iter().any(|&other| {
                                other != node && {
                                    let other = index.node(other);
                                    affinity.matches(&other.name, &other.labels)
                                }
                            });
                        if !reachable_elsewhere {
                            return Some(Protection::NodeBoundVolume);
                        }
                    }
                }
            }
        }
        None
    }
}

/// When a protection of `pod` stops holding as time passes: minPodAge after the pod started
/// for TooYoung, the end of an opt-out for a while for DoNotMove and DoNotDisrupt. None for a
/// protection that time does not end (nor a pod with no start or creation time).
pub fn ends(pod: &Pod, protection: Protection, min_pod_age: Duration) -> Option<Timestamp> {
    match protection {
        Protection::TooYoung => {
            let age = jiff::SignedDuration::try_from(min_pod_age).ok()?;
            pod.age_origin()?.checked_add(age).ok()
        }
        Protection::DoNotMove => pod
            .opt_outs
            .do_not_move
            .and_then(|opt_out| opt_out_end(pod, opt_out)),
        Protection::DoNotDisrupt => pod
            .opt_outs
            .do_not_disrupt
            .and_then(|opt_out| opt_out_end(pod, opt_out)),
        _ => None,
    }
}

/// When an opt-out for a while ends: that many seconds after the pod started (or was
/// created). None for one that holds for good, on a pod with neither time, or past the last
/// representable instant.
fn opt_out_end(pod: &Pod, opt_out: OptOut) -> Option<Timestamp> {
    match opt_out {
        OptOut::Always | OptOut::Invalid => None,
        OptOut::ForSeconds(seconds) => pod
            .age_origin()?
            .checked_add(jiff::SignedDuration::from_secs(i64::from(seconds)))
            .ok(),
    }
}

/// Whether every PersistentVolume of a pod can be reached from a node
/// (`VolumeBinding`/`VolumeZone` for bound claims).
pub fn volumes_reach(index: &Index<'_>, pod: &Pod, node: &Node) -> bool {
    pod.spec.volumes.iter().all(|volume| match volume {
        PodVolume::Claim(name) => index
            .claim(&pod.namespace, name)
            .and_then(|claim| claim.volume_name.as_deref())
            .and_then(|pv| index.volume(pv))
            .and_then(|volume| volume.node_affinity.as_ref())
            .is_none_or(|affinity: &NodeSelector| affinity.matches(&node.name, &node.labels)),
        _ => true,
    })
}

fn is_system_critical(pod: &Pod) -> bool {
    pod.spec
        .priority_class
        .as_deref()
        .is_some_and(|class| CRITICAL_PRIORITY_CLASSES.contains(&class))
        || pod
            .spec
            .priority
            .is_some_and(|priority| priority >= CRITICAL_PRIORITY)
}

#[cfg(test)]
mod tests {
    use super::Protection;

    #[test]
    fn all_names_every_protection_once() {
        let mut discriminants: Vec<usize> = Protection::ALL.iter().map(|&p| p as usize).collect();
        discriminants.sort_unstable();
        // TooYoung is declared last: a variant added after it must move this bound too.
        let declared: Vec<usize> = (0..=Protection::TooYoung as usize).collect();
        assert_eq!(discriminants, declared);
    }
}
