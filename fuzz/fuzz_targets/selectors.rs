//! The query string of a list or watch, as the simulated API reads it: `labelSelector`,
//! `fieldSelector`, `limit`, `continue`, `resourceVersion(Match)`, `sendInitialEvents`,
//! `timeoutSeconds`, for pods, nodes and events, and each parsed selector matched against sample
//! objects. Parameters named `label:KEY` give the last sample pod the label KEY, so that the
//! fuzzer can make selectors and labels meet.
#![no_main]

use kube_spread::sim::Object;
use kube_spread::sim::apiserver::catalog::{Catalog, ResourceId};
use kube_spread::sim::apiserver::query::{self, ListOptions, WatchOptions};
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

fn samples(id: ResourceId, pairs: &[(String, String)]) -> Vec<Object> {
    let labels: Map<String, Value> = pairs
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("label:")?.to_owned(), json!(v))))
        .collect();
    [
        json!({"metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web", "tier": "front"}},
               "spec": {"nodeName": "n1", "restartPolicy": "Always", "hostNetwork": false},
               "status": {"phase": "Running", "podIP": "10.0.0.1"}}),
        json!({"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
               "spec": {"unschedulable": true}}),
        json!({"metadata": {"name": "e", "namespace": "default"}, "reason": "Moved", "type": "Normal",
               "involvedObject": {"kind": "Pod", "name": "web-1", "uid": 7}}),
        json!({"metadata": {"name": "fuzzed", "namespace": "default", "labels": labels},
               "spec": {"nodeName": null}}),
    ]
    .iter()
    .filter_map(|value| Object::from_value(id, value).ok())
    .collect()
}

/// The standard types, built once: the catalog is read-only.
static CATALOG: LazyLock<Catalog> = LazyLock::new(Catalog::standard);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let catalog = &*CATALOG;
    let pairs = query::pairs(Some(text));
    for (group, version, plural) in [
        ("", "v1", "pods"),
        ("", "v1", "nodes"),
        ("", "v1", "events"),
        ("events.k8s.io", "v1", "events"),
    ] {
        let Some(resource) = catalog
            .find(group, version, plural)
            .and_then(|id| catalog.get(id))
        else {
            continue;
        };
        let id = catalog
            .find(group, version, plural)
            .unwrap_or(ResourceId(0));
        let _ = WatchOptions::from_query(&pairs, resource, Some("default".to_owned()));
        if let Ok(options) = ListOptions::from_query(&pairs, resource, None) {
            for object in samples(id, &pairs) {
                let _ = options.admits(&object);
            }
        }
    }
});
