//! Steering: kube-scheduler cannot count a ClusterSpreadPolicy's group (PodTopologySpread sees
//! only the incoming pod's namespace), so while such a policy drains nodes, kube-spread owns a
//! `PreferNoSchedule` taint on them. The scheduler's TaintToleration score (weight 3 in the
//! default profile) then sends replacements elsewhere, and no pod is ever kept off a node by it.
//! The taint is added just before a move leaves a node, and removed once no policy drains the
//! node: when the rebalance ends, when the policy is deleted, on shutdown, and by the periodic
//! sweep (which also removes what a crash left behind).

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Mutex, PoisonError},
};

use k8s_openapi::api::core::v1::{Node, Taint};
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};
use serde_json::json;

use super::stores::{NodeEntry, Stores};
use crate::api::FIELD_MANAGER;

pub use crate::planner::labels::DRAINING_TAINT;
/// Its effect: the scheduler only prefers other nodes; nothing is refused or evicted.
const EFFECT: &str = "PreferNoSchedule";

/// Why a node's taints could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing the taints of node {node}: {source}")]
pub struct WriteTaints {
    /// The node.
    pub node: String,
    /// Why (409: the node changed since it was read; the next pass tries again).
    #[source]
    pub source: kube::Error,
}

/// Which nodes each ClusterSpreadPolicy drains now.
#[derive(Debug, Default)]
pub struct Steering {
    draining: Mutex<BTreeMap<String, BTreeSet<String>>>,
}

impl Steering {
    /// Records that a policy drains a node (a move is about to leave it).
    pub fn drain(&self, policy: &str, node: &str) {
        self.lock()
            .entry(policy.to_owned())
            .or_default()
            .insert(node.to_owned());
    }

    /// Replaces the nodes a policy drains (none once its rebalance is over).
    pub fn keep(&self, policy: &str, nodes: BTreeSet<String>) {
        let mut draining = self.lock();
        if nodes.is_empty() {
            draining.remove(policy);
        } else {
            draining.insert(policy.to_owned(), nodes);
        }
    }

    /// Forgets the policies not in `present` (deleted ones).
    pub fn forget_except(&self, present: &BTreeSet<&str>) {
        self.lock()
            .retain(|policy, _| present.contains(policy.as_str()));
    }

    /// Forgets every policy: nothing is drained any more (shutdown).
    pub fn release_all(&self) {
        self.lock().clear();
    }

    /// The nodes some policy drains.
    pub fn drained(&self) -> BTreeSet<String> {
        self.lock().values().flatten().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, BTreeSet<String>>> {
        self.draining.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Brings every node's taint in line with what is drained: added where drained, removed
    /// everywhere else. Each write replaces the node's taint list under the resourceVersion
    /// it was read at, so a taint another component added meanwhile is never lost.
    pub async fn apply(&self, client: &Client, stores: &Stores) -> Vec<WriteTaints> {
        let drained = self.drained();
        let mut failed = Vec::new();
        for entry in stores.node_entries() {
            let want = drained.contains(&entry.node.name);
            if let Err(error) = set_taint(client, &entry, want).await {
                failed.push(error);
            }
        }
        failed
    }

    /// [`Steering::apply`] for one node that a move is about to leave.
    pub async fn apply_to(
        &self,
        client: &Client,
        stores: &Stores,
        node: &str,
    ) -> Result<(), WriteTaints> {
        let want = self.drained().contains(node);
        match stores.node_entry(node) {
            Some(entry) => set_taint(client, &entry, want).await,
            None => Ok(()),
        }
    }
}

/// Whether a taint is ours.
fn is_ours(taint: &Taint) -> bool {
    taint.key == DRAINING_TAINT && taint.effect == EFFECT
}

/// The taint list a node should carry so that our taint is there exactly when `want`: None when
/// it already is so. Every other taint is kept as it is.
pub fn taints_wanted(current: &[Taint], want: bool) -> Option<Vec<Taint>> {
    if current.iter().any(is_ours) == want {
        return None;
    }
    let mut taints: Vec<Taint> = current
        .iter()
        .filter(|taint| !is_ours(taint))
        .cloned()
        .collect();
    if want {
        taints.push(Taint {
            key: DRAINING_TAINT.to_owned(),
            effect: EFFECT.to_owned(),
            value: None,
            time_added: None,
        });
    }
    Some(taints)
}

/// Adds or removes our taint on one node, if it is not already so.
async fn set_taint(client: &Client, entry: &NodeEntry, want: bool) -> Result<(), WriteTaints> {
    match taints_wanted(&entry.taints, want) {
        Some(taints) => write_taints(client, entry, &taints, want).await,
        None => Ok(()),
    }
}

/// Replaces a node's taint list under the resourceVersion it was read at.
async fn write_taints(
    client: &Client,
    entry: &NodeEntry,
    taints: &[Taint],
    want: bool,
) -> Result<(), WriteTaints> {
    let patch = json!({
        "metadata": {"resourceVersion": entry.resource_version},
        "spec": {"taints": taints},
    });
    let nodes: Api<Node> = Api::all(client.clone());
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    nodes
        .patch(&entry.node.name, &params, &Patch::Merge(&patch))
        .await
        .map(|_| {
            tracing::info!(node = %entry.node.name, reason = if want { "Draining" } else { "Drained" }, "Steering taint changed.");
        })
        .map_err(|source| WriteTaints {
            node: entry.node.name.clone(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: key.to_owned(),
            effect: effect.to_owned(),
            value: None,
            time_added: None,
        }
    }

    #[test]
    fn draining_a_node_adds_our_taint_and_keeps_every_other() {
        let others = vec![taint("dedicated", "NoSchedule")];
        let wanted = taints_wanted(&others, true);
        assert_eq!(
            wanted,
            Some(vec![
                taint("dedicated", "NoSchedule"),
                taint(DRAINING_TAINT, EFFECT)
            ])
        );
    }

    #[test]
    fn a_node_drained_no_more_loses_only_our_taint() {
        let current = vec![
            taint(DRAINING_TAINT, EFFECT),
            taint("dedicated", "NoSchedule"),
        ];
        assert_eq!(
            taints_wanted(&current, false),
            Some(vec![taint("dedicated", "NoSchedule")])
        );
    }

    #[test]
    fn a_node_already_as_wanted_is_not_written() {
        assert_eq!(taints_wanted(&[], false), None);
        assert_eq!(taints_wanted(&[taint(DRAINING_TAINT, EFFECT)], true), None);
    }

    #[test]
    fn a_taint_of_our_key_with_another_effect_is_not_ours() {
        let current = vec![taint(DRAINING_TAINT, "NoSchedule")];
        assert_eq!(
            taints_wanted(&current, false),
            None,
            "a NoSchedule taint someone else set under our key is theirs to remove"
        );
    }
}
