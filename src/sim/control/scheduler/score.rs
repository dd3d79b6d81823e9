//! The default profile's score plugins other than PodTopologySpread and InterPodAffinity:
//! TaintToleration, NodeAffinity, NodeResourcesFit (LeastAllocated), BalancedAllocation and
//! ImageLocality, each normalized as v1.33 normalizes it, over the feasible nodes in order.

use k8s_openapi::api::core::v1::{NodeSelectorTerm, Pod, Toleration};

use super::{
    filter::tolerates,
    selector::Term,
    view::{NodeInfo, PodInfo, Resources, View},
};

const MAX_NODE_SCORE: i64 = 100;
const MB: i64 = 1024 * 1024;
/// ImageLocality's floor: images smaller than this in sum score nothing.
const MIN_IMAGE_THRESHOLD: i64 = 23 * MB;
/// ImageLocality's ceiling per container.
const MAX_CONTAINER_IMAGE_THRESHOLD: i64 = 1000 * MB;

/// `helper.DefaultNormalizeScore`: scaled so the largest is 100, reversed if asked; all 0
/// stays 0 (or becomes 100 when reversed).
pub fn default_normalize(scores: &[i64], reverse: bool) -> Vec<i64> {
    let max = scores.iter().copied().max().unwrap_or(0).max(0);
    scores
        .iter()
        .map(|score| {
            if max == 0 {
                return if reverse { MAX_NODE_SCORE } else { 0 };
            }
            let scaled = MAX_NODE_SCORE * score / max;
            if reverse {
                MAX_NODE_SCORE - scaled
            } else {
                scaled
            }
        })
        .collect()
}

/// TaintToleration: how many PreferNoSchedule taints the pod does not tolerate, fewer
/// scoring higher.
pub fn taint_toleration(tolerations: &[Toleration], feasible: &[&NodeInfo<'_>]) -> Vec<i64> {
    // A toleration without an effect tolerates every effect, PreferNoSchedule included.
    let preferring: Vec<&Toleration> = tolerations
        .iter()
        .filter(|t| matches!(t.effect.as_deref(), None | Some("" | "PreferNoSchedule")))
        .collect();
    let counts: Vec<i64> = feasible
        .iter()
        .map(|node| {
            let count = node
                .taints
                .iter()
                .filter(|taint| taint.effect == "PreferNoSchedule")
                .filter(|taint| !preferring.iter().any(|t| tolerates(t, taint)))
                .count();
            i64::try_from(count).unwrap_or(i64::MAX)
        })
        .collect();
    default_normalize(&counts, true)
}

/// NodeAffinity: the weights of the preferred terms the node matches, or None when the pod
/// prefers nothing (the plugin skips).
pub fn node_affinity(pod: &Pod, feasible: &[&NodeInfo<'_>]) -> Option<Vec<i64>> {
    let preferred = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .filter(|terms| !terms.is_empty())?;
    let terms: Vec<(i64, Term)> = preferred
        .iter()
        .filter(|t| t.weight != 0)
        .map(|t| {
            let term: &NodeSelectorTerm = &t.preference;
            (i64::from(t.weight), Term::of(term))
        })
        .collect();
    let raw: Vec<i64> = feasible
        .iter()
        .map(|node| {
            terms
                .iter()
                .filter(|(_, term)| term.matches(node.labels, node.name))
                .map(|(weight, _)| weight)
                .sum()
        })
        .collect();
    Some(default_normalize(&raw, false))
}

/// NodeResourcesFit with LeastAllocated on cpu and memory (weight 1 each), on non-zero
/// requests: the share left free after the pod, averaged over the resources the node has.
pub fn least_allocated(pod: &PodInfo<'_>, feasible: &[&NodeInfo<'_>]) -> Vec<i64> {
    feasible
        .iter()
        .map(|node| {
            let pairs = [
                (
                    node.nonzero_requested.cpu + pod.nonzero.cpu,
                    node.allocatable.cpu,
                ),
                (
                    node.nonzero_requested.memory + pod.nonzero.memory,
                    node.allocatable.memory,
                ),
            ];
            let (mut total, mut weights) = (0, 0);
            for (requested, capacity) in pairs {
                if capacity == 0 {
                    continue;
                }
                total += if requested > capacity {
                    0
                } else {
                    (capacity - requested) * MAX_NODE_SCORE / capacity
                };
                weights += 1;
            }
            if weights == 0 { 0 } else { total / weights }
        })
        .collect()
}

/// NodeResourcesBalancedAllocation on actual requests: 100 × (1 − the standard deviation of
/// the cpu and memory fractions); None for a pod requesting neither (v1.33 skips those).
pub fn balanced_allocation(pod: &PodInfo<'_>, feasible: &[&NodeInfo<'_>]) -> Option<Vec<i64>> {
    let Resources { cpu, memory } = pod.requests;
    if cpu == 0 && memory == 0 {
        return None;
    }
    Some(
        feasible
            .iter()
            .map(|node| {
                let fractions: Vec<f64> = [
                    (node.requested.cpu + cpu, node.allocatable.cpu),
                    (node.requested.memory + memory, node.allocatable.memory),
                ]
                .into_iter()
                .filter(|(_, capacity)| *capacity != 0)
                .map(|(requested, capacity)| (requested as f64 / capacity as f64).min(1.0))
                .collect();
                let deviation = match fractions.as_slice() {
                    [a, b] => ((a - b) / 2.0).abs(),
                    _ => 0.0,
                };
                ((1.0 - deviation) * MAX_NODE_SCORE as f64) as i64
            })
            .collect(),
    )
}

/// `normalizedImageName`: a name without a tag gets `:latest`.
fn normalized_image(name: &str) -> String {
    let position = |c: char| {
        name.rfind(c)
            .map_or(-1, |i| i64::try_from(i).unwrap_or(i64::MAX))
    };
    if position(':') <= position('/') {
        format!("{name}:latest")
    } else {
        name.to_owned()
    }
}

/// ImageLocality: the sizes of the pod's images already on the node, each scaled by the
/// share of nodes holding it, clamped between 23 MB and 1000 MB per container.
pub fn image_locality(view: &View<'_>, pod: &Pod, feasible: &[&NodeInfo<'_>]) -> Vec<i64> {
    let Some(spec) = pod.spec.as_ref() else {
        return vec![0; feasible.len()];
    };
    let images: Vec<String> = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .map(|c| normalized_image(c.image.as_deref().unwrap_or_default()))
        .collect();
    let containers = i64::try_from(images.len()).unwrap_or(i64::MAX);
    let total_nodes = view.nodes.len().max(1) as f64;
    feasible
        .iter()
        .map(|node| {
            let sum: i64 = images
                .iter()
                .filter_map(|image| {
                    let size = node.images.get(image.as_str())?;
                    let spread = view.image_spread(image) as f64 / total_nodes;
                    Some((*size as f64 * spread) as i64)
                })
                .sum();
            let max = MAX_CONTAINER_IMAGE_THRESHOLD.saturating_mul(containers);
            if max <= MIN_IMAGE_THRESHOLD {
                return 0;
            }
            let clamped = sum.clamp(MIN_IMAGE_THRESHOLD, max);
            MAX_NODE_SCORE * (clamped - MIN_IMAGE_THRESHOLD) / (max - MIN_IMAGE_THRESHOLD)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_normalization_scales_to_the_largest_and_reverses_on_request() {
        assert_eq!(default_normalize(&[0, 1, 2], true), vec![100, 50, 0]);
        assert_eq!(default_normalize(&[0, 0], true), vec![100, 100]);
        assert_eq!(default_normalize(&[0, 0], false), vec![0, 0]);
        assert_eq!(default_normalize(&[3, 1], false), vec![100, 33]);
    }

    #[test]
    fn image_names_without_a_tag_are_read_as_latest() {
        assert_eq!(normalized_image("nginx"), "nginx:latest");
        assert_eq!(
            normalized_image("registry:5000/app"),
            "registry:5000/app:latest"
        );
        assert_eq!(normalized_image("nginx:1.27"), "nginx:1.27");
    }
}
