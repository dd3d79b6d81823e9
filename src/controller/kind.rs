//! The two policy kinds as the reconcile sees them: a namespaced SpreadPolicy, which injects
//! constraints into its workloads, and a ClusterSpreadPolicy, which injects nothing and balances
//! one group across namespaces. What differs between them is said here, once.

use std::{borrow::Cow, fmt::Debug};

use kube::{
    Api, Client, Resource,
    api::{ApiResource, DynamicObject},
};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    api::{ClusterSpreadPolicy, SpreadPolicy, SpreadPolicySpec, SpreadPolicyStatus},
    planner::model::{Cluster, Policy},
};

/// A kind of policy the controller reconciles.
pub trait PolicyKind:
    Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Serialize + Send + Sync + 'static
{
    /// The kind's name, for status bodies, Events, logs and metrics.
    const KIND: &'static str;

    /// Whether its group crosses namespaces, so that no constraint the scheduler reads can
    /// express it and its replacements are steered instead.
    const ACROSS_NAMESPACES: bool;

    /// The status as last written.
    fn status(&self) -> Option<&SpreadPolicyStatus>;

    /// How it rebalances (and, for a SpreadPolicy, injects): a ClusterSpreadPolicy's spec reads
    /// as a policy of scope Policy that injects nothing.
    fn settings(&self) -> Cow<'_, SpreadPolicySpec>;

    /// The objects of this kind in a namespace (all of them, for a cluster-scoped kind).
    fn api(client: Client, namespace: &str) -> Api<Self>;

    /// [`PolicyKind::api`] for objects read without their type.
    fn dynamic_api(client: Client, namespace: &str) -> Api<DynamicObject>;

    /// The policy as the planner read it, when it injects: a SpreadPolicy's model.
    fn injecting<'c>(cluster: &'c Cluster, namespace: &str, name: &str) -> Option<&'c Policy>;

    /// Whether the planner read the policy (it could not read an invalid one).
    fn planned(cluster: &Cluster, namespace: &str, name: &str) -> bool;
}

impl PolicyKind for SpreadPolicy {
    const KIND: &'static str = "SpreadPolicy";
    const ACROSS_NAMESPACES: bool = false;

    fn status(&self) -> Option<&SpreadPolicyStatus> {
        self.status.as_ref()
    }

    fn settings(&self) -> Cow<'_, SpreadPolicySpec> {
        Cow::Borrowed(&self.spec)
    }

    fn api(client: Client, namespace: &str) -> Api<Self> {
        Api::namespaced(client, namespace)
    }

    fn dynamic_api(client: Client, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(client, namespace, &ApiResource::erase::<Self>(&()))
    }

    fn injecting<'c>(cluster: &'c Cluster, namespace: &str, name: &str) -> Option<&'c Policy> {
        cluster
            .policies
            .iter()
            .find(|policy| *policy.namespace == *namespace && policy.name == name)
    }

    fn planned(cluster: &Cluster, namespace: &str, name: &str) -> bool {
        Self::injecting(cluster, namespace, name).is_some()
    }
}

impl PolicyKind for ClusterSpreadPolicy {
    const KIND: &'static str = "ClusterSpreadPolicy";
    const ACROSS_NAMESPACES: bool = true;

    fn status(&self) -> Option<&SpreadPolicyStatus> {
        self.status.as_ref()
    }

    fn settings(&self) -> Cow<'_, SpreadPolicySpec> {
        Cow::Owned(self.spec.as_policy_spec())
    }

    fn api(client: Client, _: &str) -> Api<Self> {
        Api::all(client)
    }

    fn dynamic_api(client: Client, _: &str) -> Api<DynamicObject> {
        Api::all_with(client, &ApiResource::erase::<Self>(&()))
    }

    fn injecting<'c>(_: &'c Cluster, _: &str, _: &str) -> Option<&'c Policy> {
        None
    }

    fn planned(cluster: &Cluster, _: &str, name: &str) -> bool {
        cluster
            .cluster_policies
            .iter()
            .any(|policy| policy.name == name)
    }
}
