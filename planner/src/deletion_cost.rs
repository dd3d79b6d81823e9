//! The `controller.kubernetes.io/pod-deletion-cost` each pod of a Deployment should carry so
//! that the ReplicaSet controller, scaling down, removes pods from the most crowded domains of
//! every constraint first. Pure: pods and nodes in, desired costs out; writing them is the
//! controller's.
//!
//! Each pod gets a *removal level*. Under one constraint, the pods of a domain are ordered
//! oldest first and the k-th has level k; its cost is -k, and a lower cost is deleted first.
//! Deleting highest levels first cuts the fullest domains down to a common water line, the
//! most even result any choice of the same number of pods can give, whatever order the
//! ReplicaSet controller breaks ties in. Under nested constraints (hostname inside zone), the
//! finest constraint's levels order the pods of each coarser domain before that domain's levels
//! are assigned: the zone's highest levels then sit on its most crowded nodes, so scaling down
//! evens the zones first and the nodes of each zone with them.
//!
//! Writes stay few because a level depends only on the pods of the pod's own domains: a new
//! pod, the youngest, takes the next level of its domain and moves no other pod's cost under
//! one constraint; removing the pod with the lowest cost moves none either.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::model::{Cluster, Node, Pod, Workload};

/// The annotation that orders a ReplicaSet's pods for deletion: lower goes first, absent is 0.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// One pod, as its removal level sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member<'a> {
    /// Its domain under each constraint, finest first; None when its node lacks the key
    /// (such pods rank among themselves, as one more domain).
    pub domains: Vec<Option<&'a str>>,
    /// `metadata.creationTimestamp`: older pods are kept longer. None ranks as the youngest.
    pub created: Option<Timestamp>,
    /// Its name, which orders pods created in the same second.
    pub name: &'a str,
}

impl Member<'_> {
    /// Oldest first; pods without a creation time last.
    fn age_key(&self) -> (bool, Option<Timestamp>, &str) {
        (self.created.is_none(), self.created, self.name)
    }
}

/// The deletion cost of each member, in the members' order: minus its removal level in its
/// domain of the coarsest constraint. Without constraints every cost is 0 (upstream's default).
pub fn removal_costs(members: &[Member<'_>]) -> Vec<i32> {
    let stages = members.iter().map(|m| m.domains.len()).max().unwrap_or(0);
    let mut levels = vec![0_usize; members.len()];
    for stage in 0..stages {
        let mut by_domain: BTreeMap<Option<&str>, Vec<usize>> = BTreeMap::new();
        for (i, member) in members.iter().enumerate() {
            let domain = member.domains.get(stage).copied().flatten();
            by_domain.entry(domain).or_default().push(i);
        }
        let mut next = vec![0_usize; members.len()];
        for pods in by_domain.values_mut() {
            // The finer constraint's level first, so a domain's top levels land on its most
            // crowded sub-domains; age next, so a new pod lands on top and moves no one.
            pods.sort_by(|&a, &b| {
                (levels[a], members[a].age_key()).cmp(&(levels[b], members[b].age_key()))
            });
            for (position, &pod) in pods.iter().enumerate() {
                next[pod] = position + 1;
            }
        }
        levels = next;
    }
    levels
        .into_iter()
        .map(|level| i32::try_from(level).map_or(i32::MIN, |level| -level))
        .collect()
}

/// The constraints' topology keys, finest first: the key with more distinct values over the
/// nodes is finer (hostname before zone before region); ties by key, so the order is stable.
pub fn finest_first<'k>(keys: &[&'k str], nodes: &[Node]) -> Vec<&'k str> {
    let mut keys: Vec<&str> = keys
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let distinct = |key: &str| {
        nodes
            .iter()
            .filter_map(|node| node.labels.get(key))
            .collect::<BTreeSet<_>>()
            .len()
    };
    keys.sort_by_cached_key(|key| (std::cmp::Reverse(distinct(key)), *key));
    keys
}

/// The cost one pod should carry, next to the cost it carries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Desired<'c> {
    /// The pod.
    pub pod: &'c Pod,
    /// The cost it should carry.
    pub cost: i32,
}

impl Desired<'_> {
    /// Whether the pod's annotation must be written (absent, unreadable or different).
    pub fn differs(&self) -> bool {
        self.pod.deletion_cost != Some(self.cost)
    }
}

/// A namespace's live, bound pods by the ReplicaSet that owns them, read once so that each
/// Deployment's ranking costs only its own pods.
#[derive(Debug)]
pub struct Ranking<'c> {
    cluster: &'c Cluster,
    by_replica_set: BTreeMap<&'c str, Vec<&'c Pod>>,
    nodes: BTreeMap<&'c str, &'c Node>,
}

impl<'c> Ranking<'c> {
    /// Reads the pods of `namespace`. Only bound, live pods are ranked: the ReplicaSet
    /// controller deletes unscheduled, pending and unready pods before it reads any cost.
    pub fn new(cluster: &'c Cluster, namespace: &str) -> Self {
        let mut by_replica_set: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
        let live = cluster.pods.iter().filter(|pod| {
            *pod.namespace == *namespace
                && pod.node_name.is_some()
                && !pod.terminating
                && !pod.phase.is_terminal()
        });
        for pod in live {
            if let Some(owner) = pod.owner.as_ref().filter(|o| &*o.kind == "ReplicaSet") {
                by_replica_set.entry(&*owner.uid).or_default().push(pod);
            }
        }
        Self {
            cluster,
            by_replica_set,
            nodes: cluster
                .nodes
                .iter()
                .map(|node| (node.name.as_str(), node))
                .collect(),
        }
    }

    /// The cost every ranked pod of `deployment` should carry for the constraints' `keys`;
    /// empty without keys, and for a Deployment of another namespace. Each ReplicaSet's pods
    /// are ranked among themselves, as the ReplicaSet controller compares them: during a
    /// rollout the old ReplicaSet shrinks in its own order and the new one's costs stay put.
    pub fn desired(&self, deployment: &Workload, keys: &[&str]) -> Vec<Desired<'c>> {
        if keys.is_empty() {
            return Vec::new();
        }
        let keys = finest_first(keys, &self.cluster.nodes);
        self.cluster
            .replica_sets
            .iter()
            .filter(|rs| rs.namespace == deployment.namespace)
            .filter(|rs| rs.owner.as_ref().is_some_and(|o| *o.uid == *deployment.uid))
            .filter_map(|rs| self.by_replica_set.get(rs.uid.as_str()))
            .flat_map(|pods| self.rank(pods, &keys))
            .collect()
    }

    /// The costs of one ReplicaSet's pods.
    fn rank(&self, pods: &[&'c Pod], keys: &[&str]) -> Vec<Desired<'c>> {
        let placed: Vec<(&Pod, &Node)> = pods
            .iter()
            .filter_map(|pod| Some((*pod, *self.nodes.get(pod.node_name.as_deref()?)?)))
            .collect();
        let members: Vec<Member<'_>> = placed
            .iter()
            .map(|(pod, node)| Member {
                domains: keys
                    .iter()
                    .map(|key| node.labels.get(*key).map(String::as_str))
                    .collect(),
                created: pod.created,
                name: &pod.name,
            })
            .collect();
        let costs = removal_costs(&members);
        placed
            .into_iter()
            .zip(costs)
            .map(|((pod, _), cost)| Desired { pod, cost })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// A pod named `name` in `zone` on `node`, created `created` seconds after the epoch.
    fn member<'a>(name: &'a str, node: &'a str, zone: &'a str, created: i64) -> Member<'a> {
        Member {
            domains: vec![Some(node), Some(zone)],
            created: Some(Timestamp::from_second(created).unwrap()),
            name,
        }
    }

    fn zone_only(member: &Member<'_>) -> Member<'static> {
        let zone: &'static str = Box::leak(member.domains[1].unwrap().to_owned().into_boxed_str());
        let name: &'static str = Box::leak(member.name.to_owned().into_boxed_str());
        Member {
            domains: vec![Some(zone)],
            created: member.created,
            name,
        }
    }

    /// A small deterministic generator, so failures reproduce.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from((self.0 >> 33) % n as u64).unwrap()
        }
    }

    /// The counts per value of `domain` over the pods still present.
    fn counts(members: &[Member<'_>], present: &[bool], domain: usize) -> BTreeMap<String, usize> {
        let mut counts: BTreeMap<String, usize> = members
            .iter()
            .map(|m| (m.domains[domain].unwrap().to_owned(), 0))
            .collect();
        for (m, _) in members.iter().zip(present).filter(|(_, p)| **p) {
            *counts
                .entry(m.domains[domain].unwrap().to_owned())
                .or_default() += 1;
        }
        counts
    }

    fn skew(counts: &BTreeMap<String, usize>) -> usize {
        let max = counts.values().max().copied().unwrap_or(0);
        let min = counts.values().min().copied().unwrap_or(0);
        max - min
    }

    /// The least skew any choice of `removed` pods leaves, by trying every choice: an
    /// independent check that does not know how levels work.
    fn best_skew(initial: &[usize], removed: usize) -> usize {
        fn walk(left: &[usize], removed: usize, kept: &mut Vec<usize>, best: &mut usize) {
            match left.split_first() {
                None if removed == 0 => {
                    let max = kept.iter().max().copied().unwrap_or(0);
                    let min = kept.iter().min().copied().unwrap_or(0);
                    *best = (*best).min(max - min);
                }
                None => {}
                Some((&first, rest)) => {
                    for take in 0..=first.min(removed) {
                        kept.push(first - take);
                        walk(rest, removed - take, kept, best);
                        kept.pop();
                    }
                }
            }
        }
        let mut best = usize::MAX;
        walk(initial, removed, &mut Vec::new(), &mut best);
        best
    }

    /// Removes pods one at a time, lowest cost first, breaking ties at random as the
    /// ReplicaSet controller's later ranks might, and checks after every removal that the
    /// counts of `domain` are as even as any choice could make them.
    fn removing_lowest_cost_first_stays_as_even_as_possible(
        members: &[Member<'_>],
        domain: usize,
        rng: &mut Lcg,
    ) {
        let costs = removal_costs(members);
        let initial: Vec<usize> = counts(members, &vec![true; members.len()], domain)
            .into_values()
            .collect();
        let mut present = vec![true; members.len()];
        for removed in 1..=members.len() {
            let lowest = (0..members.len())
                .filter(|&i| present[i])
                .map(|i| costs[i])
                .min()
                .unwrap();
            let tied: Vec<usize> = (0..members.len())
                .filter(|&i| present[i] && costs[i] == lowest)
                .collect();
            present[tied[rng.below(tied.len())]] = false;
            let now = counts(members, &present, domain);
            assert_eq!(
                skew(&now),
                best_skew(&initial, removed),
                "after {removed} removals from {initial:?}: {now:?} ({members:?}, costs {costs:?})"
            );
        }
    }

    /// Random pods on 1 to 3 nodes in each of 3 zones.
    fn random_cluster(rng: &mut Lcg, names: &'static [&'static str]) -> Vec<Member<'static>> {
        const NODES: [[&str; 3]; 3] = [["a1", "a2", "a3"], ["b1", "b2", "b3"], ["c1", "c2", "c3"]];
        const ZONES: [&str; 3] = ["a", "b", "c"];
        let nodes_per_zone = [1 + rng.below(3), 1 + rng.below(3), 1 + rng.below(3)];
        let pods = 1 + rng.below(names.len());
        (0..pods)
            .map(|i| {
                let zone = rng.below(3);
                let node = rng.below(nodes_per_zone[zone]);
                let created = i64::try_from(rng.below(5)).unwrap();
                member(names[i], NODES[zone][node], ZONES[zone], 1_000 + created)
            })
            .collect()
    }

    const NAMES: &[&str] = &[
        "p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "pa",
    ];

    #[test]
    fn under_one_constraint_scaling_down_leaves_the_domains_as_even_as_any_choice_could() {
        let mut rng = Lcg(7);
        for _ in 0..300 {
            let members: Vec<Member<'static>> = random_cluster(&mut rng, NAMES)
                .iter()
                .map(zone_only)
                .collect();
            removing_lowest_cost_first_stays_as_even_as_possible(&members, 0, &mut rng);
        }
    }

    #[test]
    fn under_zone_and_hostname_scaling_down_evens_the_zones_and_the_nodes_of_each_zone() {
        let mut rng = Lcg(11);
        for _ in 0..300 {
            let members = random_cluster(&mut rng, NAMES);
            // The zones stay as even as possible ...
            removing_lowest_cost_first_stays_as_even_as_possible(&members, 1, &mut rng);
            // ... and inside each zone, so do its nodes.
            for zone in ["a", "b", "c"] {
                let inside: Vec<Member<'static>> = members
                    .iter()
                    .filter(|m| m.domains[1] == Some(zone))
                    .cloned()
                    .collect();
                let costs = removal_costs(&members);
                let own: Vec<i32> = members
                    .iter()
                    .zip(&costs)
                    .filter(|(m, _)| m.domains[1] == Some(zone))
                    .map(|(_, c)| *c)
                    .collect();
                // Inside a zone the costs are distinct, so the order is fixed; check the node
                // counts along it.
                let mut order: Vec<usize> = (0..inside.len()).collect();
                order.sort_by_key(|&i| own[i]);
                let initial: Vec<usize> = counts(&inside, &vec![true; inside.len()], 0)
                    .into_values()
                    .collect();
                let mut present = vec![true; inside.len()];
                for (removed, &i) in order.iter().enumerate() {
                    present[i] = false;
                    assert_eq!(
                        skew(&counts(&inside, &present, 0)),
                        best_skew(&initial, removed + 1),
                        "zone {zone}: {inside:?} costs {own:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_oldest_pod_of_a_domain_is_kept_longest_and_the_fullest_domain_loses_first() {
        let members = [
            member("old", "n1", "a", 1),
            member("new", "n1", "a", 2),
            member("newest", "n1", "a", 3),
            member("only", "n2", "b", 4),
        ];
        let members: Vec<Member<'static>> = members.iter().map(zone_only).collect();
        assert_eq!(removal_costs(&members), [-1, -2, -3, -1]);
    }

    #[test]
    fn a_zone_keeps_its_top_levels_on_its_most_crowded_node() {
        // Zone a: n1 holds three pods, n2 one; the youngest pod is on n2, yet n1's second and
        // third pods go before it.
        let members = [
            member("n1-old", "n1", "a", 1),
            member("n1-mid", "n1", "a", 2),
            member("n1-new", "n1", "a", 3),
            member("n2-newest", "n2", "a", 4),
        ];
        assert_eq!(removal_costs(&members), [-1, -3, -4, -2]);
    }

    #[test]
    fn a_new_pod_under_one_constraint_changes_no_other_pods_cost() {
        let mut rng = Lcg(3);
        for _ in 0..200 {
            let mut members: Vec<Member<'static>> = random_cluster(&mut rng, &NAMES[..10])
                .iter()
                .map(zone_only)
                .collect();
            let before = removal_costs(&members);
            let zone = ["a", "b", "c"][rng.below(3)];
            members.push(Member {
                domains: vec![Some(zone)],
                created: Some(Timestamp::from_second(9_999).unwrap()),
                name: "pz",
            });
            let after = removal_costs(&members);
            assert_eq!(&after[..before.len()], &before[..], "{members:?}");
        }
    }

    #[test]
    fn removing_the_pod_with_the_lowest_cost_changes_no_other_pods_cost() {
        let mut rng = Lcg(5);
        for _ in 0..200 {
            let mut members = random_cluster(&mut rng, NAMES);
            let before = removal_costs(&members);
            let lowest = (0..members.len()).min_by_key(|&i| before[i]).unwrap();
            members.remove(lowest);
            let mut expected = before.clone();
            expected.remove(lowest);
            assert_eq!(removal_costs(&members), expected, "{members:?}");
        }
    }

    #[test]
    fn removing_any_pod_changes_only_the_costs_of_pods_in_its_coarsest_domain() {
        let mut rng = Lcg(13);
        for _ in 0..200 {
            let mut members = random_cluster(&mut rng, NAMES);
            let before = removal_costs(&members);
            let gone = rng.below(members.len());
            let zone = members[gone].domains[1];
            members.remove(gone);
            let mut kept = before.clone();
            kept.remove(gone);
            let after = removal_costs(&members);
            for (i, member) in members.iter().enumerate() {
                if member.domains[1] != zone {
                    assert_eq!(after[i], kept[i], "{members:?}");
                }
            }
        }
    }

    mod cluster {
        use std::sync::Arc;

        use super::super::*;
        use crate::{
            model::{
                Labels, Owner, PodPhase, ReplicaSet, Resources, SchedulingSpec, UpdateStrategy,
                WorkloadKind, WorkloadStatus,
            },
            selector::LabelSelector,
        };

        const ZONE: &str = "topology.kubernetes.io/zone";

        fn node(name: &str, zone: &str) -> Node {
            Node {
                name: name.to_owned(),
                labels: Labels::from([(ZONE.to_owned(), zone.to_owned())]),
                taints: Vec::new(),
                unschedulable: false,
                ready: true,
                ready_since: None,
                created: None,
                allocatable: Resources::default(),
                images: Vec::new(),
            }
        }

        fn owner(kind: &str, uid: &str) -> Option<Owner> {
            Some(Owner {
                kind: kind.into(),
                name: uid.into(),
                uid: uid.into(),
            })
        }

        fn replica_set(uid: &str) -> ReplicaSet {
            ReplicaSet {
                namespace: Arc::from("apps"),
                name: uid.to_owned(),
                uid: uid.to_owned(),
                owner: owner("Deployment", "web"),
                template_hash: None,
                replicas: 2,
                revision: 1,
            }
        }

        /// A running pod of `owner` on `node`, created `created` seconds after the epoch.
        fn pod(name: &str, owner: Option<Owner>, node: Option<&str>, created: i64) -> Pod {
            Pod {
                namespace: Arc::from("apps"),
                name: name.to_owned(),
                uid: name.into(),
                labels: Arc::new(Labels::new()),
                node_name: node.map(Arc::from),
                owner,
                phase: PodPhase::Running,
                ready: true,
                terminating: false,
                created: Some(Timestamp::from_second(created).unwrap()),
                started: None,
                mirror: false,
                static_pod: false,
                opt_outs: Default::default(),
                deletion_cost: None,
                spec: Arc::new(SchedulingSpec::default()),
            }
        }

        fn web() -> Workload {
            Workload {
                kind: WorkloadKind::Deployment,
                namespace: Arc::from("apps"),
                name: "web".to_owned(),
                uid: "web".to_owned(),
                generation: 1,
                labels: Labels::new(),
                ignored: false,
                selector: LabelSelector::everything(),
                replicas: 4,
                template_labels: Labels::new(),
                template: Arc::new(SchedulingSpec::default()),
                strategy: UpdateStrategy::Recreate,
                claim_templates: Vec::new(),
                status: WorkloadStatus::default(),
            }
        }

        fn costs(cluster: &Cluster) -> Vec<(String, i32)> {
            let mut costs: Vec<(String, i32)> = Ranking::new(cluster, "apps")
                .desired(&web(), &[ZONE])
                .into_iter()
                .map(|desired| (desired.pod.name.clone(), desired.cost))
                .collect();
            costs.sort();
            costs
        }

        #[test]
        fn each_replica_set_is_ranked_on_its_own_and_only_its_live_bound_pods() {
            let mut terminating = pod("old-gone", owner("ReplicaSet", "old"), Some("a1"), 1);
            terminating.terminating = true;
            let cluster = Cluster {
                nodes: vec![node("a1", "a"), node("b1", "b")].into(),
                replica_sets: vec![replica_set("old"), replica_set("new")].into(),
                pods: vec![
                    terminating,
                    pod("old-1", owner("ReplicaSet", "old"), Some("a1"), 2),
                    pod("old-2", owner("ReplicaSet", "old"), Some("a1"), 3),
                    pod("new-1", owner("ReplicaSet", "new"), Some("a1"), 4),
                    pod("new-2", owner("ReplicaSet", "new"), Some("b1"), 5),
                    pod("new-pending", owner("ReplicaSet", "new"), None, 6),
                    pod("db-0", owner("StatefulSet", "web"), Some("a1"), 7),
                ]
                .into_iter()
                .map(Arc::new)
                .collect(),
                ..Cluster::default()
            };
            assert_eq!(
                costs(&cluster),
                [
                    ("new-1".to_owned(), -1),
                    ("new-2".to_owned(), -1),
                    ("old-1".to_owned(), -1),
                    ("old-2".to_owned(), -2),
                ]
            );
        }

        #[test]
        fn a_pod_that_carries_its_cost_needs_no_write() {
            let mut carries = pod("web-1", owner("ReplicaSet", "new"), Some("a1"), 1);
            carries.deletion_cost = Some(-1);
            let cluster = Cluster {
                nodes: vec![node("a1", "a")].into(),
                replica_sets: vec![replica_set("new")].into(),
                pods: vec![
                    carries,
                    pod("web-2", owner("ReplicaSet", "new"), Some("a1"), 2),
                ]
                .into_iter()
                .map(Arc::new)
                .collect(),
                ..Cluster::default()
            };
            let writes: Vec<&str> = Ranking::new(&cluster, "apps")
                .desired(&web(), &[ZONE])
                .into_iter()
                .filter(Desired::differs)
                .map(|desired| desired.pod.name.as_str())
                .collect();
            assert_eq!(writes, ["web-2"]);
        }
    }

    #[test]
    fn hostname_is_finer_than_zone_whatever_order_the_constraints_come_in() {
        let node = |name: &str, zone: &str| Node {
            name: name.to_owned(),
            labels: crate::model::Labels::from([
                ("kubernetes.io/hostname".to_owned(), name.to_owned()),
                ("topology.kubernetes.io/zone".to_owned(), zone.to_owned()),
            ]),
            taints: Vec::new(),
            unschedulable: false,
            ready: true,
            ready_since: None,
            created: None,
            allocatable: crate::model::Resources::default(),
            images: Vec::new(),
        };
        let nodes = [node("a1", "a"), node("a2", "a"), node("b1", "b")];
        assert_eq!(
            finest_first(
                &["topology.kubernetes.io/zone", "kubernetes.io/hostname"],
                &nodes
            ),
            ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
        );
    }

    #[test]
    fn without_constraints_every_cost_is_the_default() {
        let members = [Member {
            domains: Vec::new(),
            created: None,
            name: "p",
        }];
        assert_eq!(removal_costs(&members), [0]);
    }
}
