//! The objects the benches fill the simulated API with, shaped as a real cluster writes them:
//! nodes as the kubelet registers them, pods as a ReplicaSet creates them and the kubelet
//! reports them running. Included by the benches with `#[path]`; no measuring here.

use serde_json::{Value, json};

/// The size an environment variable asks for, else `default`.
pub fn count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A ready node in `zone-{i % 3}` with four conditions, addresses and nodeInfo.
pub fn node(i: usize) -> Value {
    let name = format!("node-{i:05}");
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "topology.kubernetes.io/zone": format!("zone-{}", i % 3), "topology.kubernetes.io/region": "region-1",
            "node.kubernetes.io/instance-type": "m5.xlarge"}},
        "spec": {"podCIDR": format!("10.{}.{}.0/24", i / 256, i % 256), "providerID": format!("sim://{name}")},
        "status": {
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": "3920m", "memory": "15Gi", "pods": "110", "ephemeral-storage": "95Gi"},
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "lastHeartbeatTime": "2025-10-20T08:00:00Z", "lastTransitionTime": "2025-10-20T08:00:00Z", "message": "kubelet has sufficient memory available"},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "lastHeartbeatTime": "2025-10-20T08:00:00Z", "lastTransitionTime": "2025-10-20T08:00:00Z", "message": "kubelet has no disk pressure"},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "lastHeartbeatTime": "2025-10-20T08:00:00Z", "lastTransitionTime": "2025-10-20T08:00:00Z", "message": "kubelet has sufficient PID available"},
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": "2025-10-20T08:00:00Z", "lastTransitionTime": "2025-10-20T08:00:00Z", "message": "kubelet is posting ready status"}],
            "addresses": [{"type": "InternalIP", "address": format!("10.0.{}.{}", i / 256, i % 256)}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.33.1", "kubeProxyVersion": "", "containerRuntimeVersion": "containerd://2.0.0", "kernelVersion": "6.1.0-28-amd64",
                         "osImage": "Debian GNU/Linux 12 (bookworm)", "operatingSystem": "linux", "architecture": "amd64", "machineID": "", "systemUUID": "", "bootID": ""}}
    })
}

/// A small Deployment's pod: one container with requests, the ReplicaSet as controlling owner,
/// a hostname spread constraint on `app`. About 2 KB of JSON once the kubelet's status write
/// adds its managedFields.
#[derive(Debug)]
pub struct LeanPod<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// The `app` label, the image and the spread constraint's selector.
    pub app: &'a str,
    pub labels: &'a Value,
    pub replica_set: &'a str,
    pub replica_set_uid: &'a str,
    pub node: &'a str,
    /// `(cpu, memory)` requests of the container.
    pub requests: (&'a str, &'a str),
    /// Numbers the pod IP.
    pub index: usize,
}

impl LeanPod<'_> {
    /// The pod as its ReplicaSet creates it (status empty).
    pub fn object(&self) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": self.labels,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": self.replica_set,
                                     "uid": self.replica_set_uid, "controller": true, "blockOwnerDeletion": true}]},
            "spec": {
                "nodeName": self.node,
                "containers": [{"name": "app", "image": format!("registry.example.com/shop/{}:1.4.2", self.app),
                    "resources": {"requests": {"cpu": self.requests.0, "memory": self.requests.1}}}],
                "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
                                               "labelSelector": {"matchLabels": {"app": self.app}}}]}
        })
    }

    /// The status the kubelet writes once the container runs.
    pub fn status(&self) -> Value {
        let i = self.index;
        json!({
            "phase": "Running", "qosClass": "Burstable", "podIP": format!("10.244.{}.{}", (i / 256) % 256, i % 256),
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2025-10-20T08:00:05Z"},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2025-10-20T08:00:00Z"}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": format!("registry.example.com/shop/{}:1.4.2", self.app),
                "imageID": "", "state": {"running": {"startedAt": "2025-10-20T08:00:03Z"}}}]})
    }
}

/// `object` with its `status` replaced, as a status write sends it.
pub fn with_status(mut object: Value, status: Value) -> Value {
    if let Some(root) = object.as_object_mut() {
        root.insert("status".to_owned(), status);
    }
    object
}
