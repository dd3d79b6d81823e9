//! The HTTP face of the simulated API: an axum `Router` that parses Kubernetes REST paths,
//! authorizes, injects faults, and answers from the store with kube-apiserver's bodies,
//! codes and content types (JSON, server-side Tables, watch streams).

mod discovery;
mod table;
mod watch;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::request::Parts;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::audit::{Audit, AuditRecord};
use super::catalog::{ResourceId, ResourceType};
use super::fault::Faults;
use super::fields::{self, Checked, FieldValidation};
use super::openapi::Documents;
use super::patch::PatchBody;
use super::protobuf;
use super::query::{self, ListOptions, WatchOptions};
use super::rbac::{Attributes, Identity, Rbac};
use super::rejection::Rejection;
use super::store::{DeleteOptions, Deletion, Page, Store, Subresource, WriteOptions};

pub use table::{human_duration, json_path};

/// What every request handler shares.
#[derive(Clone, Debug)]
pub struct Shared {
    /// The objects.
    pub store: Store,
    /// The faults in force.
    pub faults: Faults,
    /// The grants in force.
    pub rbac: Arc<Rbac>,
    /// Every resource request and its answer.
    pub audit: Arc<Audit>,
    /// The OpenAPI documents, rendered at the first request for one.
    pub openapi: Arc<OnceLock<Documents>>,
}

/// kube-apiserver's limit on a write's body (`MaxRequestBodyBytes`, 3 MiB).
const MAX_REQUEST_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The router serving the Kubernetes API from `shared`.
pub fn router(shared: Shared) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, 256 << 20).await {
        Ok(bytes) => bytes,
        Err(error) => return refusal(&Rejection::bad_request(error.to_string())),
    };
    let writes = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH);
    // kubectl's typed commands send protobuf and client-go never falls back to JSON on a 415
    // (it does only for CBOR), so the body is read here and served on as JSON.
    let bytes =
        if writes && header(&parts, http::header::CONTENT_TYPE).starts_with(protobuf::MEDIA_TYPE) {
            match protobuf::decode(&bytes) {
                Ok(value) => Bytes::from(value.to_string()),
                Err(rejection) => return refusal(&rejection),
            }
        } else {
            bytes
        };
    if writes && bytes.len() > MAX_REQUEST_BODY_BYTES {
        let mut rejection = Rejection::failure(
            413,
            format!("Request entity too large: limit is {MAX_REQUEST_BODY_BYTES}"),
        );
        rejection.reason = "RequestEntityTooLarge".to_owned();
        return refusal(&rejection);
    }
    match serve(&shared, &parts, bytes).await {
        Ok(response) => response,
        Err(rejection) => refusal(&rejection),
    }
}

fn respond(code: u16, content_type: &str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

/// Adds one `Warning` header per text, as kube-apiserver sends them (code 299, no agent), which
/// kubectl prints as `Warning: <text>`.
fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for text in warnings {
        let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = http::HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            response.headers_mut().append(http::header::WARNING, value);
        }
    }
    response
}

/// A write's body after field validation as the request's `fieldValidation` asks.
fn checked_body(
    shared: &Shared,
    pairs: &[(String, String)],
    resource: &ResourceType,
    raw: &Bytes,
    value: Value,
) -> Result<Checked, Rejection> {
    let mode = FieldValidation::from_query(query::param(pairs, "fieldValidation"))?;
    fields::check(
        mode,
        resource,
        documents(shared).schema_of(resource),
        raw,
        value,
    )
}

fn json_response(code: u16, value: &Value) -> Response {
    respond(code, "application/json", value.to_string())
}

fn refusal(rejection: &Rejection) -> Response {
    let mut response = json_response(rejection.code, &rejection.to_status());
    if let Some(seconds) = rejection.details.retry_after_seconds
        && let Ok(value) = http::HeaderValue::from_str(&seconds.to_string())
    {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, value);
    }
    response
}

fn not_found_path() -> Rejection {
    let mut rejection = Rejection::failure(404, "the server could not find the requested resource");
    rejection.reason = "NotFound".to_owned();
    rejection
}

async fn serve(shared: &Shared, parts: &Parts, body: Bytes) -> Result<Response, Rejection> {
    let path = parts.uri.path().to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let catalog = shared.store.catalog();
    match segments.as_slice() {
        ["version"] => Ok(json_response(200, &discovery::version())),
        ["healthz" | "readyz" | "livez"] => Ok(respond(200, "text/plain", "ok")),
        ["api"] => Ok(json_response(200, &discovery::core_versions())),
        ["apis"] => Ok(json_response(200, &discovery::groups(catalog))),
        ["api", version] => discovery::resources(catalog, "", version)
            .map(|v| json_response(200, &v))
            .ok_or_else(not_found_path),
        ["apis", group] => discovery::group(catalog, group)
            .map(|v| json_response(200, &v))
            .ok_or_else(not_found_path),
        ["openapi", "v3"] => Ok(respond(
            200,
            "application/json",
            documents(shared).v3_index(),
        )),
        ["openapi", "v3", rest @ ..] => documents(shared)
            .v3(&rest.join("/"))
            .map(|document| respond(200, "application/json", document))
            .ok_or_else(not_found_path),
        ["openapi", "v2"] => openapi_v2(shared, parts),
        [
            "apis",
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
        ] if parts.method == Method::POST => access_review(shared, parts, &body),
        ["apis", group, version] => discovery::resources(catalog, group, version)
            .map(|v| json_response(200, &v))
            .ok_or_else(not_found_path),
        ["api", version, rest @ ..] => {
            resource_request(shared, parts, body, "", version, rest).await
        }
        ["apis", group, version, rest @ ..] => {
            resource_request(shared, parts, body, group, version, rest).await
        }
        _ => Err(not_found_path()),
    }
}

fn documents(shared: &Shared) -> &Documents {
    shared
        .openapi
        .get_or_init(|| Documents::of(shared.store.catalog()))
}

/// `/openapi/v2` in JSON; client-go's discovery asks for the protobuf form only, which a server
/// that cannot encode it refuses as Not Acceptable.
fn openapi_v2(shared: &Shared, parts: &Parts) -> Result<Response, Rejection> {
    let accept = header(parts, http::header::ACCEPT);
    if !accept.is_empty() && !accept.contains("json") && !accept.contains("*/*") {
        let mut rejection = Rejection::failure(
            406,
            format!(
                "only the following media types are accepted: application/json (got {accept:?})"
            ),
        );
        rejection.reason = "NotAcceptable".to_owned();
        return Err(rejection);
    }
    Ok(respond(200, "application/json", documents(shared).v2()))
}

/// `SelfSubjectAccessReview` (`kubectl auth can-i`): whether the caller may do what the
/// review's attributes say, by the same RBAC grants every request is checked against.
fn access_review(shared: &Shared, parts: &Parts, body: &Bytes) -> Result<Response, Rejection> {
    let mut review = parse_body(body)?;
    let user = shared.rbac.identity_of(parts.extensions.get::<Identity>());
    let text = |key: &str| {
        review
            .pointer(&format!("/spec/resourceAttributes/{key}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let allowed = match (&user, review.pointer("/spec/resourceAttributes")) {
        // Without an identity the request acts as the admin, who may do anything.
        (None, _) => true,
        (Some(user), Some(_)) => {
            let (verb, group, resource) = (text("verb"), text("group"), text("resource"));
            let (subresource, namespace, name) =
                (text("subresource"), text("namespace"), text("name"));
            shared
                .rbac
                .authorize(&Attributes {
                    user,
                    verb: &verb,
                    group: &group,
                    resource: &resource,
                    subresource: &subresource,
                    namespace: &namespace,
                    name: &name,
                })
                .is_ok()
        }
        // The grants hold resource rules only; no non-resource URL is granted.
        (Some(_), None) => false,
    };
    if let Value::Object(root) = &mut review {
        root.insert("kind".to_owned(), json!("SelfSubjectAccessReview"));
        root.insert("apiVersion".to_owned(), json!("authorization.k8s.io/v1"));
        root.entry("metadata")
            .or_insert_with(|| json!({"creationTimestamp": null}));
        root.insert("status".to_owned(), json!({"allowed": allowed}));
    }
    Ok(json_response(201, &review))
}

/// A request for objects, parsed from its path.
struct Target<'a> {
    id: ResourceId,
    namespace: &'a str,
    name: &'a str,
    subresource: &'a str,
}

fn target<'a>(
    store: &Store,
    group: &str,
    version: &str,
    rest: &[&'a str],
) -> Result<Target<'a>, Rejection> {
    let catalog = store.catalog();
    let namespaced_type = |plural: &str| {
        catalog
            .find(group, version, plural)
            .filter(|id| catalog.get(*id).is_some_and(|t| t.namespaced))
    };
    let (id, namespace, tail) = match rest {
        ["namespaces", namespace, plural, tail @ ..] if namespaced_type(plural).is_some() => {
            (namespaced_type(plural), *namespace, tail)
        }
        [plural, tail @ ..] => (catalog.find(group, version, plural), "", tail),
        [] => (None, "", rest),
    };
    let id = id.ok_or_else(not_found_path)?;
    let (name, subresource) = match tail {
        [] => ("", ""),
        [name] => (*name, ""),
        [name, sub] => (*name, *sub),
        _ => return Err(not_found_path()),
    };
    Ok(Target {
        id,
        namespace,
        name,
        subresource,
    })
}

fn verb_of(
    method: &Method,
    target: &Target<'_>,
    pairs: &[(String, String)],
) -> Result<&'static str, Rejection> {
    let watch = matches!(query::param(pairs, "watch"), Some("true" | "1"));
    Ok(match (method.as_str(), target.name.is_empty()) {
        ("GET", true) if watch => "watch",
        ("GET", true) => "list",
        ("GET", false) => "get",
        ("POST", true) => "create",
        ("POST", false) if !target.subresource.is_empty() => "create",
        ("PUT", false) => "update",
        ("PATCH", false) => "patch",
        ("DELETE", false) => "delete",
        ("DELETE", true) => "deletecollection",
        _ => {
            return Err(Rejection::method_not_allowed(format!(
                "the server does not allow this method on the requested resource: {method}"
            )));
        }
    })
}

fn header(parts: &Parts, name: http::header::HeaderName) -> &str {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn parse_body(body: &Bytes) -> Result<Value, Rejection> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).or_else(|json_error| {
        let text = std::str::from_utf8(body)
            .map_err(|_| Rejection::bad_request(format!("invalid body: {json_error}")))?;
        serde_saphyr::from_str::<Value>(text)
            .map_err(|e| Rejection::bad_request(format!("invalid body: {e}")))
    })
}

fn write_options(parts: &Parts, pairs: &[(String, String)]) -> WriteOptions {
    let agent = header(parts, http::header::USER_AGENT);
    let from_agent = agent.split('/').next().unwrap_or_default();
    let manager = query::param(pairs, "fieldManager")
        .filter(|m| !m.is_empty())
        .or(Some(from_agent).filter(|m| !m.is_empty()))
        .map(|m| m.chars().take(128).collect());
    WriteOptions {
        field_manager: manager,
        dry_run: query::param(pairs, "dryRun") == Some("All"),
        force: matches!(query::param(pairs, "force"), Some("true" | "1")),
    }
}

/// Whether the client asked for `PartialObjectMetadata` (kube-rs's metadata API).
fn wants_metadata(parts: &Parts) -> bool {
    header(parts, http::header::ACCEPT).contains("as=PartialObjectMetadata")
}

/// An object as `PartialObjectMetadata`: its metadata only.
pub(crate) fn partial_metadata(object: &super::object::Object) -> Result<Value, Rejection> {
    let value = object.value()?;
    Ok(json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": value.get("metadata").cloned().unwrap_or_else(|| json!({})),
    }))
}

fn wants_table(parts: &Parts) -> bool {
    header(parts, http::header::ACCEPT).contains("as=Table")
}

fn object_response(code: u16, json: Bytes) -> Response {
    respond(code, "application/json", json)
}

fn list_response(resource: &ResourceType, page: &Page) -> Response {
    let size: usize = page.items.iter().map(|o| o.json.len() + 1).sum();
    let mut out = Vec::with_capacity(size + 256);
    let mut metadata = json!({"resourceVersion": page.resource_version.to_string()});
    if let Some(token) = &page.continue_token {
        metadata["continue"] = json!(token);
    }
    out.extend_from_slice(
        format!(
            "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{},\"items\":[",
            json!(resource.list_kind()),
            json!(resource.api_version()),
            metadata
        )
        .as_bytes(),
    );
    for (i, item) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&item.json);
    }
    out.extend_from_slice(b"]}");
    object_response(200, Bytes::from(out))
}

async fn resource_request(
    shared: &Shared,
    parts: &Parts,
    body: Bytes,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Response, Rejection> {
    let store = &shared.store;
    let target = target(store, group, version, rest)?;
    let resource = store
        .catalog()
        .get(target.id)
        .cloned()
        .ok_or_else(not_found_path)?;
    let pairs = query::pairs(parts.uri.query());
    let verb = verb_of(&parts.method, &target, &pairs)?;
    let user = shared.rbac.identity_of(parts.extensions.get::<Identity>());
    let answer = answer(
        shared,
        parts,
        body,
        group,
        &pairs,
        &target,
        &resource,
        verb,
        user.as_deref(),
    )
    .await;
    shared.audit.record(AuditRecord {
        user,
        verb: verb.to_owned(),
        group: group.to_owned(),
        resource: if target.subresource.is_empty() {
            resource.plural.clone()
        } else {
            format!("{}/{}", resource.plural, target.subresource)
        },
        namespace: target.namespace.to_owned(),
        name: target.name.to_owned(),
        dry_run: query::param(&pairs, "dryRun") == Some("All"),
        code: answer.as_ref().map_or_else(
            |rejection| rejection.code,
            |response| response.status().as_u16(),
        ),
    });
    answer
}

/// Authorizes, injects faults and answers one resource request.
#[allow(clippy::too_many_arguments)]
async fn answer(
    shared: &Shared,
    parts: &Parts,
    body: Bytes,
    group: &str,
    pairs: &[(String, String)],
    target: &Target<'_>,
    resource: &ResourceType,
    verb: &str,
    user: Option<&str>,
) -> Result<Response, Rejection> {
    let store = &shared.store;
    if let Some(user) = user {
        shared.rbac.authorize(&Attributes {
            user,
            verb,
            group,
            resource: &resource.plural,
            subresource: target.subresource,
            namespace: target.namespace,
            name: target.name,
        })?;
    }
    let fault_resource = if target.subresource.is_empty() {
        resource.plural.clone()
    } else {
        format!("{}/{}", resource.plural, target.subresource)
    };
    let verdict = shared.faults.decide(verb, &fault_resource);
    if !verdict.latency.is_zero() {
        tokio::time::sleep(verdict.latency).await;
    }
    if let Some(refusal) = verdict.refusal.clone() {
        return Err(refusal);
    }
    let namespace = (!target.namespace.is_empty()).then(|| target.namespace.to_owned());
    let (id, ns, name, sub) = (target.id, target.namespace, target.name, target.subresource);
    match verb {
        "watch" => {
            let options = WatchOptions::from_query(pairs, resource, namespace)?;
            let shape = if wants_table(parts) {
                watch::Shape::Table(table::Include::parse(query::param(pairs, "includeObject")))
            } else if wants_metadata(parts) {
                watch::Shape::Metadata
            } else {
                watch::Shape::Whole
            };
            watch::respond(store.clone(), id, options, &verdict, shape)
        }
        "list" => {
            let options = ListOptions::from_query(pairs, resource, namespace)?;
            if verdict.gone
                && (options.resource_version.is_some() || options.continue_token.is_some())
            {
                return Err(Rejection::too_old(0, store.oldest_resource_version()));
            }
            let page = store.list(id, &options)?;
            if wants_table(parts) {
                let include = table::Include::parse(query::param(pairs, "includeObject"));
                let rendered = table::render(
                    resource,
                    &page.items,
                    page.resource_version,
                    page.continue_token.as_deref(),
                    include,
                    store.clock().now(),
                );
                return Ok(json_response(200, &rendered));
            }
            if wants_metadata(parts) {
                let items: Vec<Value> = page
                    .items
                    .iter()
                    .map(|o| partial_metadata(o))
                    .collect::<Result<_, _>>()?;
                let mut metadata = json!({"resourceVersion": page.resource_version.to_string()});
                if let Some(token) = &page.continue_token {
                    metadata["continue"] = json!(token);
                }
                return Ok(json_response(
                    200,
                    &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                            "metadata": metadata, "items": items}),
                ));
            }
            Ok(list_response(resource, &page))
        }
        "get" => {
            let object = store.get(id, ns, name)?;
            match sub {
                "" | "status" => {}
                "scale" if resource.scale => {
                    return Ok(json_response(200, &scale_of(&object.value()?)));
                }
                _ => return Err(not_found_path()),
            }
            if wants_table(parts) {
                let include = table::Include::parse(query::param(pairs, "includeObject"));
                let rendered = table::render(
                    resource,
                    std::slice::from_ref(&object),
                    object.header.resource_version,
                    None,
                    include,
                    store.clock().now(),
                );
                return Ok(json_response(200, &rendered));
            }
            if wants_metadata(parts) {
                return Ok(json_response(200, &partial_metadata(&object)?));
            }
            Ok(object_response(200, object.json.clone()))
        }
        "create" => {
            let value = parse_body(&body)?;
            let options = write_options(parts, pairs);
            match sub {
                "" => {
                    let checked = checked_body(shared, pairs, resource, &body, value)?;
                    let created = store.create(id, ns, checked.value, &options)?;
                    Ok(with_warnings(
                        object_response(201, created.json.clone()),
                        &checked.warnings,
                    ))
                }
                "eviction" if resource.is_pod() => {
                    let status = store.evict(ns, name, &value, options.dry_run)?;
                    Ok(json_response(201, &status))
                }
                "binding" if resource.is_pod() => {
                    bind(store, ns, name, &value)?;
                    Ok(json_response(201, &super::rejection::success_status(201)))
                }
                _ => Err(not_found_path()),
            }
        }
        "update" => {
            let value = parse_body(&body)?;
            let options = write_options(parts, pairs);
            let (updated, warnings) = match sub {
                "" | "status" if sub.is_empty() || resource.status => {
                    let checked = checked_body(shared, pairs, resource, &body, value)?;
                    let part = if sub.is_empty() {
                        Subresource::Main
                    } else {
                        Subresource::Status
                    };
                    let updated = store.update(id, ns, name, checked.value, part, &options)?;
                    (updated, checked.warnings)
                }
                "scale" if resource.scale => {
                    let replicas = value
                        .pointer("/spec/replicas")
                        .cloned()
                        .unwrap_or(Value::Null);
                    let mut patch = json!({"spec": {"replicas": replicas}});
                    if let Some(rv) = value.pointer("/metadata/resourceVersion") {
                        patch["metadata"] = json!({"resourceVersion": rv});
                    }
                    let updated = store.patch(
                        id,
                        ns,
                        name,
                        &PatchBody::Merge(patch),
                        Subresource::Main,
                        &options,
                    )?;
                    return Ok(json_response(200, &scale_of(&updated.value()?)));
                }
                _ => return Err(not_found_path()),
            };
            Ok(with_warnings(
                object_response(200, updated.json.clone()),
                &warnings,
            ))
        }
        "patch" => patch(shared, parts, pairs, resource, target, &body),
        "delete" => {
            let mut options = match parse_body(&body)? {
                Value::Null => DeleteOptions::default(),
                value => DeleteOptions::from_value(&value),
            };
            if let Some(grace) =
                query::param(pairs, "gracePeriodSeconds").and_then(|g| g.parse().ok())
            {
                options.grace_period_seconds = Some(grace);
            }
            options.dry_run |= query::param(pairs, "dryRun") == Some("All");
            match store.delete(id, ns, name, &options)? {
                // Pod storage returns the deleted object; the others a Status naming it.
                Deletion::Gone(object) if !resource.is_pod() => Ok(json_response(
                    200,
                    &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                            "details": {"name": object.header.name.as_ref(), "group": resource.group,
                                        "kind": resource.plural, "uid": object.header.uid.as_ref()}}),
                )),
                Deletion::Gone(object) | Deletion::Terminating(object) => {
                    Ok(object_response(200, object.json.clone()))
                }
            }
        }
        "deletecollection" => {
            let options = ListOptions::from_query(pairs, resource, namespace)?;
            let page = store.list(id, &options)?;
            let delete = match parse_body(&body)? {
                Value::Null => DeleteOptions::default(),
                value => DeleteOptions::from_value(&value),
            };
            let mut deleted = Vec::new();
            for object in &page.items {
                match store.delete(id, &object.header.namespace, &object.header.name, &delete) {
                    Ok(outcome) => deleted.push(outcome.object().clone()),
                    Err(rejection) if rejection.code == 404 => {}
                    Err(rejection) => return Err(rejection),
                }
            }
            let page = Page {
                items: deleted,
                resource_version: store.resource_version(),
                continue_token: None,
            };
            Ok(list_response(resource, &page))
        }
        _ => Err(not_found_path()),
    }
}

fn patch(
    shared: &Shared,
    parts: &Parts,
    pairs: &[(String, String)],
    resource: &ResourceType,
    target: &Target<'_>,
    body: &Bytes,
) -> Result<Response, Rejection> {
    let content_type = header(parts, http::header::CONTENT_TYPE);
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let store = &shared.store;
    let value = parse_body(body)?;
    let options = write_options(parts, pairs);
    let (id, ns, name) = (target.id, target.namespace, target.name);
    let sub = match target.subresource {
        "" => Subresource::Main,
        "status" if resource.status => Subresource::Status,
        "scale" if resource.scale => {
            let current = store.get(id, ns, name)?;
            let body = patch_body(media, value)?;
            let scale = super::patch::apply_patch(
                &super::shape::Schema::of(resource),
                &scale_of(&current.value()?),
                &body,
            )?;
            let replicas = scale
                .pointer("/spec/replicas")
                .cloned()
                .unwrap_or(Value::Null);
            let merge = PatchBody::Merge(json!({"spec": {"replicas": replicas}}));
            let updated = store.patch(id, ns, name, &merge, Subresource::Main, &options)?;
            return Ok(json_response(200, &scale_of(&updated.value()?)));
        }
        _ => return Err(not_found_path()),
    };
    // A JSON patch is a list of operations, not an object: only the others are checked, and
    // they are checked as sent (upstream checks the patched object, which differs only for
    // unknown fields the stored object already had, and it never has any).
    let Checked { value, warnings } = if media == "application/json-patch+json" {
        Checked {
            value,
            warnings: Vec::new(),
        }
    } else {
        checked_body(shared, pairs, resource, body, value)?
    };
    let updated = if media == "application/apply-patch+yaml" {
        store.apply(id, ns, name, value, sub, &options)?
    } else {
        store.patch(id, ns, name, &patch_body(media, value)?, sub, &options)?
    };
    Ok(with_warnings(
        object_response(200, updated.json.clone()),
        &warnings,
    ))
}

fn patch_body(media: &str, value: Value) -> Result<PatchBody, Rejection> {
    match media {
        "application/merge-patch+json" => Ok(PatchBody::Merge(value)),
        "application/json-patch+json" => Ok(PatchBody::Json(value)),
        "application/strategic-merge-patch+json" => Ok(PatchBody::Strategic(value)),
        other => Err(Rejection::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"
        ))),
    }
}

/// The autoscaling/v1 Scale of a workload.
fn scale_of(object: &Value) -> Value {
    let metadata = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let pick = |field: &str| metadata.get(field).cloned().unwrap_or(Value::Null);
    let selector = object
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": pick("name"),
            "namespace": pick("namespace"),
            "uid": pick("uid"),
            "resourceVersion": pick("resourceVersion"),
            "creationTimestamp": pick("creationTimestamp"),
        },
        "spec": {"replicas": object.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": object.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

/// `pods/binding`: assigns an unbound pod to a node and marks it scheduled.
fn bind(store: &Store, namespace: &str, name: &str, binding: &Value) -> Result<(), Rejection> {
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Rejection::bad_request("a Binding needs target.name"))?;
    store.bind(namespace, name, node)?;
    Ok(())
}
