//! Reads a live cluster, read-only, into a snapshot: the same kinds `kubectl get` would print,
//! listed in pages and read through the same reader as a snapshot file.

use k8s_openapi::api::{
    apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet},
    core::v1::{Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod},
    policy::v1::PodDisruptionBudget,
};
use kube::{Api, Client, Resource, api::ListParams};
use serde::{Serialize, de::DeserializeOwned};

use super::{Snapshot, SnapshotError};
use crate::api::{ClusterSpreadPolicy, SpreadPolicy};

/// Objects listed per request.
const PAGE: u32 = 500;

/// Why the cluster could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ListCluster {
    /// No kubeconfig or in-cluster configuration could be used.
    #[error("no usable kubeconfig or in-cluster configuration: {0}")]
    Connect(#[source] kube::Error),
    /// A kind could not be listed.
    #[error("cannot list {kind}: {source}")]
    List {
        /// The kind.
        kind: &'static str,
        /// Why.
        source: kube::Error,
    },
    /// What was listed could not be read.
    #[error(transparent)]
    Read(#[from] Box<SnapshotError>),
    /// What was listed could not be serialized.
    #[error("cannot serialize the listed objects: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// Lists the cluster of the current kubeconfig (or the in-cluster configuration).
pub async fn list() -> Result<Snapshot, ListCluster> {
    let client = Client::try_default().await.map_err(ListCluster::Connect)?;
    list_with(client).await
}

/// Lists the cluster behind a client.
pub async fn list_with(client: Client) -> Result<Snapshot, ListCluster> {
    let mut items = Vec::new();
    items.extend(list_all::<Node>(&client, "nodes", true).await?);
    items.extend(list_all::<Pod>(&client, "pods", true).await?);
    items.extend(list_all::<PodDisruptionBudget>(&client, "poddisruptionbudgets", true).await?);
    items.extend(list_all::<Deployment>(&client, "deployments", true).await?);
    items.extend(list_all::<StatefulSet>(&client, "statefulsets", true).await?);
    items.extend(list_all::<ReplicaSet>(&client, "replicasets", true).await?);
    items.extend(list_all::<DaemonSet>(&client, "daemonsets", true).await?);
    items.extend(list_all::<PersistentVolumeClaim>(&client, "persistentvolumeclaims", true).await?);
    items.extend(list_all::<PersistentVolume>(&client, "persistentvolumes", true).await?);
    // Without the CRD installed there are no policies; --pod-constraints still works.
    items.extend(list_all::<Namespace>(&client, "namespaces", true).await?);
    items.extend(list_all::<SpreadPolicy>(&client, "spreadpolicies", false).await?);
    items.extend(list_all::<ClusterSpreadPolicy>(&client, "clusterspreadpolicies", false).await?);
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    super::read(&serde_json::to_string(&list)?).map_err(|error| ListCluster::Read(Box::new(error)))
}

async fn list_all<K>(
    client: &Client,
    kind: &'static str,
    required: bool,
) -> Result<Vec<serde_json::Value>, ListCluster>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let api: Api<K> = Api::all(client.clone());
    let mut items = Vec::new();
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let page = match api.list(&params).await {
            Ok(page) => page,
            Err(kube::Error::Api(status)) if !required && status.code == 404 => {
                return Ok(Vec::new());
            }
            Err(source) => return Err(ListCluster::List { kind, source }),
        };
        for item in page.items {
            let mut value = serde_json::to_value(&item)?;
            if let Some(object) = value.as_object_mut() {
                object.insert("apiVersion".to_owned(), K::api_version(&()).into());
                object.insert("kind".to_owned(), K::kind(&()).into());
            }
            items.push(value);
        }
        match page.metadata.continue_.filter(|token| !token.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(items),
        }
    }
}
