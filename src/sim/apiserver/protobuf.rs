//! Kubernetes' protobuf request bodies (`application/vnd.kubernetes.protobuf`), which kubectl's
//! typed commands send (`create namespace`, `create deployment`, `create pdb`, `auth can-i`):
//! read with k8s-pb's prost types into the JSON the store keeps. Each reader takes the fields it
//! knows and refuses a body with anything left over, so a body is never half read.

use std::collections::BTreeMap;

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::authorization::v1 as authorization;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::policy::v1 as policy;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{Map, Value, json};

use super::rejection::Rejection;

/// Kubernetes' protobuf media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
const MAGIC: &[u8] = b"k8s\0";

/// A body this server cannot read, answered as kube-apiserver answers a media type a resource
/// does not take.
fn unsupported(why: &str) -> Rejection {
    Rejection::unsupported_media_type(format!(
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml ({why})"
    ))
}

fn malformed(error: &prost::DecodeError) -> Rejection {
    Rejection::bad_request(format!("invalid protobuf body: {error}"))
}

/// The JSON object a protobuf body holds, with its `apiVersion` and `kind`.
pub fn decode(body: &[u8]) -> Result<Value, Rejection> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| Rejection::bad_request("invalid protobuf body: no k8s prefix"))?;
    let envelope = Unknown::decode(rest).map_err(|e| malformed(&e))?;
    let type_meta = envelope.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    let raw = envelope.raw.unwrap_or_default();
    let mut object = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => namespace(decode_as(&raw)?)?,
        ("apps/v1", "Deployment") => deployment(decode_as(&raw)?)?,
        ("policy/v1", "PodDisruptionBudget") => disruption_budget(decode_as(&raw)?)?,
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => access_review(decode_as(&raw)?)?,
        _ => return Err(unsupported(&format!("{api_version} {kind} in protobuf"))),
    };
    prune_empty(&mut object);
    if let Value::Object(root) = &mut object {
        root.insert("apiVersion".to_owned(), json!(api_version));
        root.insert("kind".to_owned(), json!(kind));
    }
    Ok(object)
}

fn decode_as<T: Message + Default>(raw: &[u8]) -> Result<T, Rejection> {
    T::decode(raw).map_err(|e| malformed(&e))
}

/// Refuses what a reader left behind: a field it does not know how to carry. Go's encoder
/// writes zero values of non-pointer fields (`generation: 0`, `uid: ""`), so a leftover
/// counts only when some field in it is not zero.
fn done<T: Message>(rest: &T, what: &str) -> Result<(), Rejection> {
    if all_zero(&rest.encode_to_vec()) {
        Ok(())
    } else {
        Err(unsupported(&format!(
            "{what} has fields this server does not read from protobuf"
        )))
    }
}

/// Whether every field in encoded protobuf is a zero value: a varint 0, fixed-width zeros, or
/// bytes that are empty or themselves a message of zero fields. (A non-empty printable string
/// never reads as one: every zero value needs a 0x00 byte.)
fn all_zero(mut bytes: &[u8]) -> bool {
    fn varint(bytes: &mut &[u8]) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = bytes.split_first()?;
            *bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    while !bytes.is_empty() {
        let Some(tag) = varint(&mut bytes) else {
            return false;
        };
        let zero = match tag & 7 {
            0 => varint(&mut bytes) == Some(0),
            1 | 5 => {
                let width = if tag & 7 == 1 { 8 } else { 4 };
                match bytes.split_at_checked(width) {
                    Some((value, rest)) => {
                        bytes = rest;
                        value.iter().all(|b| *b == 0)
                    }
                    None => false,
                }
            }
            2 => {
                let length = varint(&mut bytes).and_then(|l| usize::try_from(l).ok());
                match length.and_then(|l| bytes.split_at_checked(l)) {
                    Some((value, rest)) => {
                        bytes = rest;
                        all_zero(value)
                    }
                    None => false,
                }
            }
            _ => false,
        };
        if !zero {
            return false;
        }
    }
    true
}

/// Drops nulls, empty strings, lists and maps: Go writes its non-pointer fields' zero values,
/// which its JSON encoder would have omitted.
fn prune_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for item in map.values_mut() {
                prune_empty(item);
            }
            map.retain(|_, item| !is_empty(item));
        }
        Value::Array(items) => items.iter_mut().for_each(prune_empty),
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

fn object_meta(metadata: Option<meta::ObjectMeta>) -> Result<Value, Rejection> {
    let mut m = metadata.unwrap_or_default();
    let value = json!({
        "name": m.name.take(),
        "generateName": m.generate_name.take(),
        "namespace": m.namespace.take(),
        "resourceVersion": m.resource_version.take(),
        "labels": std::mem::take(&mut m.labels),
        "annotations": std::mem::take(&mut m.annotations),
        "finalizers": std::mem::take(&mut m.finalizers),
    });
    // Set by the server on create; clients send it empty.
    m.creation_timestamp.take();
    done(&m, "metadata")?;
    Ok(value)
}

fn int_or_string(value: Option<IntOrString>) -> Value {
    match value {
        None => Value::Null,
        Some(v) if v.r#type == Some(1) => json!(v.str_val.unwrap_or_default()),
        Some(v) => json!(v.int_val.unwrap_or_default()),
    }
}

fn label_selector(selector: Option<meta::LabelSelector>) -> Result<Value, Rejection> {
    let Some(mut s) = selector else {
        return Ok(Value::Null);
    };
    let expressions: Vec<Value> = std::mem::take(&mut s.match_expressions)
        .into_iter()
        .map(|mut e| {
            let value = json!({"key": e.key.take(), "operator": e.operator.take(),
                               "values": std::mem::take(&mut e.values)});
            done(&e, "a label selector requirement").map(|()| value)
        })
        .collect::<Result<_, _>>()?;
    let value = json!({"matchLabels": std::mem::take(&mut s.match_labels),
                       "matchExpressions": expressions});
    done(&s, "a label selector")?;
    Ok(value)
}

fn quantities(map: BTreeMap<String, Quantity>) -> Value {
    let quantities: Map<String, Value> = map
        .into_iter()
        .map(|(k, q)| (k, json!(q.string.unwrap_or_default())))
        .collect();
    Value::Object(quantities)
}

fn container(mut c: core::Container) -> Result<Value, Rejection> {
    let ports: Vec<Value> = std::mem::take(&mut c.ports)
        .into_iter()
        .map(|mut p| {
            let value = json!({"name": p.name.take(), "containerPort": p.container_port.take(),
                               "protocol": p.protocol.take(),
                               "hostPort": p.host_port.take().filter(|port| *port != 0)});
            done(&p, "a container port").map(|()| value)
        })
        .collect::<Result<_, _>>()?;
    let env: Vec<Value> = std::mem::take(&mut c.env)
        .into_iter()
        .map(|mut e| {
            let value = json!({"name": e.name.take(), "value": e.value.take()});
            done(&e, "an environment variable").map(|()| value)
        })
        .collect::<Result<_, _>>()?;
    let resources = match c.resources.take() {
        None => Value::Null,
        Some(mut r) => {
            let value = json!({"limits": quantities(std::mem::take(&mut r.limits)),
                               "requests": quantities(std::mem::take(&mut r.requests))});
            done(&r, "container resources")?;
            value
        }
    };
    let value = json!({
        "name": c.name.take(),
        "image": c.image.take(),
        "command": std::mem::take(&mut c.command),
        "args": std::mem::take(&mut c.args),
        "workingDir": c.working_dir.take(),
        "ports": ports,
        "env": env,
        "resources": resources,
        "imagePullPolicy": c.image_pull_policy.take(),
        "terminationMessagePath": c.termination_message_path.take(),
        "terminationMessagePolicy": c.termination_message_policy.take(),
    });
    done(&c, "a container")?;
    Ok(value)
}

fn pod_template(template: Option<core::PodTemplateSpec>) -> Result<Value, Rejection> {
    let Some(mut t) = template else {
        return Ok(Value::Null);
    };
    let mut spec = t.spec.take().unwrap_or_default();
    let containers: Vec<Value> = std::mem::take(&mut spec.containers)
        .into_iter()
        .map(container)
        .collect::<Result<_, _>>()?;
    let spec_value = json!({
        "containers": containers,
        "nodeSelector": std::mem::take(&mut spec.node_selector),
        "restartPolicy": spec.restart_policy.take(),
        "dnsPolicy": spec.dns_policy.take(),
        "schedulerName": spec.scheduler_name.take(),
        "serviceAccountName": spec.service_account_name.take(),
        "terminationGracePeriodSeconds": spec.termination_grace_period_seconds.take(),
    });
    // An empty security context is what the API defaults anyway.
    if spec.security_context.as_ref() == Some(&core::PodSecurityContext::default()) {
        spec.security_context = None;
    }
    done(&spec, "a pod spec")?;
    let value = json!({"metadata": object_meta(t.metadata.take())?, "spec": spec_value});
    done(&t, "a pod template")?;
    Ok(value)
}

fn namespace(mut n: core::Namespace) -> Result<Value, Rejection> {
    let spec = n.spec.take().unwrap_or_default();
    // Status on create is the server's to set.
    n.status.take();
    let value = json!({"metadata": object_meta(n.metadata.take())?,
                       "spec": {"finalizers": spec.finalizers}});
    done(&n, "a Namespace")?;
    Ok(value)
}

fn deployment(mut d: apps::Deployment) -> Result<Value, Rejection> {
    let mut spec = d.spec.take().unwrap_or_default();
    let strategy = match spec.strategy.take() {
        None => Value::Null,
        Some(mut s) => {
            let rolling = match s.rolling_update.take() {
                None => Value::Null,
                Some(mut r) => {
                    let value = json!({"maxUnavailable": int_or_string(r.max_unavailable.take()),
                                       "maxSurge": int_or_string(r.max_surge.take())});
                    done(&r, "a rolling update")?;
                    value
                }
            };
            let value = json!({"type": s.r#type.take(), "rollingUpdate": rolling});
            done(&s, "a deployment strategy")?;
            value
        }
    };
    let spec_value = json!({
        "replicas": spec.replicas.take(),
        "selector": label_selector(spec.selector.take())?,
        "template": pod_template(spec.template.take())?,
        "strategy": strategy,
        "minReadySeconds": spec.min_ready_seconds.take().filter(|s| *s != 0),
        "revisionHistoryLimit": spec.revision_history_limit.take(),
        "paused": spec.paused.take().filter(|paused| *paused),
        "progressDeadlineSeconds": spec.progress_deadline_seconds.take(),
    });
    done(&spec, "a Deployment's spec")?;
    d.status.take();
    let value = json!({"metadata": object_meta(d.metadata.take())?, "spec": spec_value});
    done(&d, "a Deployment")?;
    Ok(value)
}

fn disruption_budget(mut b: policy::PodDisruptionBudget) -> Result<Value, Rejection> {
    let mut spec = b.spec.take().unwrap_or_default();
    let spec_value = json!({
        "minAvailable": int_or_string(spec.min_available.take()),
        "maxUnavailable": int_or_string(spec.max_unavailable.take()),
        "selector": label_selector(spec.selector.take())?,
        "unhealthyPodEvictionPolicy": spec.unhealthy_pod_eviction_policy.take(),
    });
    done(&spec, "a PodDisruptionBudget's spec")?;
    b.status.take();
    let value = json!({"metadata": object_meta(b.metadata.take())?, "spec": spec_value});
    done(&b, "a PodDisruptionBudget")?;
    Ok(value)
}

fn access_review(mut r: authorization::SelfSubjectAccessReview) -> Result<Value, Rejection> {
    let mut spec = r.spec.take().unwrap_or_default();
    let resource = match spec.resource_attributes.take() {
        None => Value::Null,
        Some(mut a) => {
            let value = json!({
                "namespace": a.namespace.take(), "verb": a.verb.take(), "group": a.group.take(),
                "version": a.version.take(), "resource": a.resource.take(),
                "subresource": a.subresource.take(), "name": a.name.take(),
            });
            done(&a, "resource attributes")?;
            value
        }
    };
    let non_resource = match spec.non_resource_attributes.take() {
        None => Value::Null,
        Some(mut a) => {
            let value = json!({"path": a.path.take(), "verb": a.verb.take()});
            done(&a, "non-resource attributes")?;
            value
        }
    };
    done(&spec, "a SelfSubjectAccessReview's spec")?;
    r.status.take();
    let value = json!({"metadata": object_meta(r.metadata.take())?,
                       "spec": {"resourceAttributes": resource, "nonResourceAttributes": non_resource}});
    done(&r, "a SelfSubjectAccessReview")?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = Unknown {
            type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
                api_version: Some(api_version.to_owned()),
                kind: Some(kind.to_owned()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        let mut body = MAGIC.to_vec();
        body.extend(unknown.encode_to_vec());
        body
    }

    #[test]
    fn a_protobuf_namespace_reads_as_its_json() {
        let namespace = core::Namespace {
            metadata: Some(meta::ObjectMeta {
                name: Some("media".to_owned()),
                ..Default::default()
            }),
            spec: Some(core::NamespaceSpec::default()),
            status: Some(core::NamespaceStatus::default()),
        };
        let body = envelope("v1", "Namespace", namespace.encode_to_vec());
        assert_eq!(
            decode(&body).ok(),
            Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "media"}}))
        );
    }

    #[test]
    fn a_field_the_reader_does_not_carry_is_refused_not_dropped() {
        let namespace = core::Namespace {
            metadata: Some(meta::ObjectMeta {
                name: Some("media".to_owned()),
                owner_references: vec![meta::OwnerReference {
                    name: Some("owner".to_owned()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let body = envelope("v1", "Namespace", namespace.encode_to_vec());
        assert_eq!(decode(&body).err().map(|r| r.code), Some(415));
    }
}
