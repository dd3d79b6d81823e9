//! Rules only pods have: binding to a node, the immutable spec, and the QoS class set on
//! create.

use super::*;

impl Store {
    /// Binds a pod to a node (`pods/binding`, what the scheduler does): sets `spec.nodeName`
    /// and the PodScheduled condition in one write. Refuses a bound or terminating pod.
    pub fn bind(&self, namespace: &str, name: &str, node: &str) -> Result<Arc<Object>, Rejection> {
        let pods = self
            .inner
            .catalog
            .find("", "v1", "pods")
            .ok_or_else(|| Rejection::internal("pods are not served"))?;
        let binding = crate::sim::apiserver::rejection::Qualified {
            group: "",
            resource: "pods/binding",
        };
        let mut state = self.write();
        let resource = self.resource(pods)?;
        let pod = self.current(&state, pods, resource, namespace, name)?;
        if let Some(current) = &pod.header.node_name {
            return Err(Rejection::conflict(
                binding,
                name,
                &format!("pod {name} is already assigned to node {current:?}"),
            ));
        }
        if pod.header.deleting {
            return Err(Rejection::conflict(
                binding,
                name,
                &format!("pod {name} is being deleted, cannot be assigned to a host"),
            ));
        }
        let mut value = pod.value()?;
        let now = self.now();
        if let Some(root) = value.as_object_mut() {
            let spec = root.entry("spec").or_insert_with(|| json!({}));
            if let Some(spec) = spec.as_object_mut() {
                spec.insert("nodeName".into(), json!(node));
            }
            let status = root.entry("status").or_insert_with(|| json!({}));
            if let Some(status) = status.as_object_mut() {
                let conditions = status.entry("conditions").or_insert_with(|| json!([]));
                if let Some(list) = conditions.as_array_mut() {
                    list.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
                    list.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}));
                }
            }
        }
        self.commit(
            &mut state,
            pods,
            ChangeKind::Modified,
            value,
            Some(pod),
            false,
        )
    }
}

/// The pod's QoS class from its containers' requests and limits.
pub(super) fn qos_class(spec: Option<&Value>) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|list| spec.and_then(|s| s.get(*list)).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for container in containers {
        let requests = container.pointer("/resources/requests");
        let limits = container.pointer("/resources/limits");
        for resource in ["cpu", "memory"] {
            let request = requests.and_then(|r| r.get(resource));
            let limit = limits.and_then(|l| l.get(resource));
            any |= request.is_some() || limit.is_some();
            match (request, limit) {
                (_, None) => guaranteed = false,
                (Some(r), Some(l)) if r != l => guaranteed = false,
                _ => {}
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}
/// The pod spec fields an update may change (ValidatePodUpdate); the rest is immutable.
pub(super) const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Refuses a pod update that changes an immutable part of the spec, as kube-apiserver does.
pub(super) fn check_pod_update(
    resource: &ResourceType,
    old: &Value,
    new: &Value,
) -> Result<(), Rejection> {
    if !resource.is_pod() {
        return Ok(());
    }
    let (Some(old_spec), Some(new_spec)) = (old.get("spec"), new.get("spec")) else {
        return Ok(());
    };
    // The old spec with every change an update may make taken from the new one.
    let mut allowed = old_spec.clone();
    if let (Some(allowed), Some(new_spec)) = (allowed.as_object_mut(), new_spec.as_object()) {
        for list in ["containers", "initContainers"] {
            let images: Vec<Option<Value>> = new_spec
                .get(list)
                .and_then(Value::as_array)
                .map(|items| items.iter().map(|c| c.get("image").cloned()).collect())
                .unwrap_or_default();
            if let Some(items) = allowed.get_mut(list).and_then(Value::as_array_mut)
                && items.len() == images.len()
            {
                for (container, image) in items.iter_mut().zip(images) {
                    if let (Some(container), Some(image)) = (container.as_object_mut(), image) {
                        container.insert("image".into(), image);
                    }
                }
            }
        }
        for field in ["activeDeadlineSeconds", "schedulingGates"] {
            match new_spec.get(field) {
                Some(v) => allowed.insert(field.into(), v.clone()),
                None => allowed.remove(field),
            };
        }
        let old_tolerations = allowed
            .get("tolerations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(tolerations) = new_spec.get("tolerations").and_then(Value::as_array)
            && old_tolerations.iter().all(|t| tolerations.contains(t))
        {
            allowed.insert("tolerations".into(), Value::Array(tolerations.clone()));
        }
        let old_grace = allowed
            .get("terminationGracePeriodSeconds")
            .and_then(Value::as_i64);
        if old_grace.is_some_and(|g| g < 0)
            && new_spec
                .get("terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                == Some(1)
        {
            allowed.insert("terminationGracePeriodSeconds".into(), json!(1));
        }
    }
    if &allowed == new_spec {
        return Ok(());
    }
    let name = meta_str(new, "name").unwrap_or_default();
    Err(Rejection::invalid(
        "",
        "Pod",
        name,
        vec![crate::sim::apiserver::rejection::Cause::new(
            "FieldValueForbidden",
            format!("Forbidden: {POD_UPDATE_FORBIDDEN}"),
            "spec",
        )],
    ))
}
