//! Discovery documents: `/version`, `/api`, `/apis` and each group-version's resource list,
//! in the legacy form kubectl falls back to when aggregated discovery is not offered.

use serde_json::{Value, json};

use crate::sim::apiserver::catalog::{Catalog, ResourceType};

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-kube-spread-sim",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api`.
pub fn core_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
}

fn group_entry(group: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({"name": group, "versions": [gv.clone()], "preferredVersion": gv})
}

/// `/apis`.
pub fn groups(catalog: &Catalog) -> Value {
    let groups: Vec<Value> = catalog
        .groups()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, v)| group_entry(&g, &v))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`.
pub fn group(catalog: &Catalog, name: &str) -> Option<Value> {
    catalog
        .groups()
        .into_iter()
        .find(|(g, _)| g == name)
        .map(|(g, v)| {
            let mut entry = group_entry(&g, &v);
            entry["kind"] = json!("APIGroup");
            entry["apiVersion"] = json!("v1");
            entry
        })
}

fn entries(resource: &ResourceType) -> Vec<Value> {
    let mut main = json!({
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": VERBS,
    });
    if !resource.short_names.is_empty() {
        main["shortNames"] = json!(resource.short_names);
    }
    if !resource.categories.is_empty() {
        main["categories"] = json!(resource.categories);
    }
    let mut list = vec![main];
    let sub = |name: &str, group: Option<&str>, version: &str, kind: &str, verbs: &[&str]| {
        let mut entry = json!({
            "name": format!("{}/{name}", resource.plural),
            "singularName": "",
            "namespaced": resource.namespaced,
            "kind": kind,
            "verbs": verbs,
        });
        if let Some(group) = group {
            entry["group"] = json!(group);
            entry["version"] = json!(version);
        }
        entry
    };
    if resource.status {
        list.push(sub(
            "status",
            None,
            "",
            &resource.kind,
            &["get", "patch", "update"],
        ));
    }
    if resource.scale {
        list.push(sub(
            "scale",
            Some("autoscaling"),
            "v1",
            "Scale",
            &["get", "patch", "update"],
        ));
    }
    if resource.is_pod() {
        list.push(sub(
            "eviction",
            Some("policy"),
            "v1",
            "Eviction",
            &["create"],
        ));
        list.push(sub("binding", None, "", "Binding", &["create"]));
    }
    list
}

/// `/api/v1` or `/apis/{group}/{version}`.
pub fn resources(catalog: &Catalog, group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> = catalog
        .types()
        .map(|(_, t)| t)
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if types.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    let resources: Vec<Value> = types.into_iter().flat_map(entries).collect();
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}
