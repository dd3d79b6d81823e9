//! The non-apply patch formats of the simulated API applied to sample objects: JSON merge patch,
//! JSON patch and strategic merge patch (with merge keys and `$patch` directives). The input's
//! first line names the format and the resource (`strategic apps/v1/deployments`); the rest is
//! the patch body. A patch may be refused; it may never panic, hang or grow without bound.
#![no_main]

use kube_spread::sim::PatchBody;
use kube_spread::sim::apiserver::catalog::Catalog;
use kube_spread::sim::apiserver::patch::apply_patch;
use kube_spread::sim::apiserver::shape::Schema;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fn target(plural: &str) -> Value {
    match plural {
        "deployments" => json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}, "annotations": {"a": "1"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "A", "value": "1"}]},
                        {"name": "sidecar", "image": "busybox"}],
                        "tolerations": [{"key": "x", "operator": "Exists"}],
                        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}],
                        "volumes": [{"name": "data", "emptyDir": {}}]}}}}),
        "nodes" => json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
            "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                "allocatable": {"cpu": "4", "pods": "110"}}}),
        _ => json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "default", "finalizers": ["a", "b"],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u"}]},
            "spec": {"nodeName": "n1", "containers": [{"name": "web", "image": "nginx:1.27"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}),
    }
}

/// The standard types, built once: the catalog is read-only.
static CATALOG: LazyLock<Catalog> = LazyLock::new(Catalog::standard);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (header, body) = text.split_once('\n').unwrap_or((text, ""));
    let (format, path) = header.split_once(' ').unwrap_or((header, ""));
    let Ok(body) = serde_json::from_str::<Value>(body) else {
        return;
    };
    let patch = match format {
        "merge" => PatchBody::Merge(body),
        "json" => PatchBody::Json(body),
        _ => PatchBody::Strategic(body),
    };
    let (group, version, plural) = match path.split('/').collect::<Vec<_>>().as_slice() {
        [group, version, plural] => (*group, *version, *plural),
        [version, plural] => ("", *version, *plural),
        _ => ("", "v1", "pods"),
    };
    let catalog = &*CATALOG;
    let Some(resource) = catalog
        .find(group, version, plural)
        .and_then(|id| catalog.get(id))
    else {
        return;
    };
    let schema = Schema::of(resource);
    let _ = apply_patch(&schema, &target(plural), &patch);
});
