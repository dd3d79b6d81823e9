//! The OpenAPI documents kubectl downloads to validate, patch and explain: v3 per group-version
//! and one v2 document, generated once per API from k8s-openapi's schemars schemas (built-in
//! kinds) and the CRD's openAPIV3Schema (custom kinds). Holds no hand-written schema.

use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};

use bytes::Bytes;
use k8s_openapi::api::{apps, coordination, core, events, policy};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::catalog::{Catalog, ResourceType};
use super::shape::Schema;

/// Every document, rendered once.
#[derive(Debug)]
pub struct Documents {
    v3_index: Bytes,
    v3: BTreeMap<String, Bytes>,
    v2: Bytes,
    /// Every v3 schema of every group-version, for field validation.
    definitions: Map<String, Value>,
    /// Each served kind's schema, by group, version and kind.
    roots: BTreeMap<(String, String, String), Value>,
}

impl Documents {
    /// The documents of every type in `catalog`.
    pub fn of(catalog: &Catalog) -> Self {
        let mut v3 = BTreeMap::new();
        let mut index = Map::new();
        let mut definitions = Map::new();
        let mut roots = BTreeMap::new();
        for (group, version) in catalog.groups() {
            let types: Vec<&ResourceType> = catalog
                .types()
                .map(|(_, t)| t)
                .filter(|t| t.group == group && t.version == version)
                .collect();
            let path = if group.is_empty() {
                format!("api/{version}")
            } else {
                format!("apis/{group}/{version}")
            };
            let (schemas, names) = schemas(&types, Flavour::V3);
            for (resource, name) in types.iter().zip(&names) {
                if !name.is_empty() {
                    let key = (
                        resource.group.clone(),
                        resource.version.clone(),
                        resource.kind.clone(),
                    );
                    roots.insert(key, json!({"$ref": Flavour::V3.reference(name)}));
                }
            }
            let text = v3_document(&types, &names, &schemas).to_string();
            definitions.extend(schemas);
            index.insert(
                path.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", digest(&text))}),
            );
            v3.insert(path, Bytes::from(text));
        }
        let all: Vec<&ResourceType> = catalog.types().map(|(_, t)| t).collect();
        Self {
            v3_index: Bytes::from(json!({"paths": index}).to_string()),
            v3,
            v2: Bytes::from(v2_document(&all).to_string()),
            definitions,
            roots,
        }
    }

    /// `/openapi/v3`: each group-version's document path with its content hash.
    pub fn v3_index(&self) -> Bytes {
        self.v3_index.clone()
    }

    /// `/openapi/v3/{path}`, e.g. `apis/apps/v1`.
    pub fn v3(&self, path: &str) -> Option<Bytes> {
        self.v3.get(path).cloned()
    }

    /// The schema of a served kind and the definitions its references resolve in.
    pub fn schema_of(&self, resource: &ResourceType) -> Option<(&Map<String, Value>, &Value)> {
        let key = (
            resource.group.clone(),
            resource.version.clone(),
            resource.kind.clone(),
        );
        self.roots.get(&key).map(|root| (&self.definitions, root))
    }

    /// `/openapi/v2`, in JSON.
    pub fn v2(&self) -> Bytes {
        self.v2.clone()
    }
}

/// A stable hash of a document, so clients cache a group-version's document until it changes.
fn digest(text: &str) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    text.hash(&mut hasher);
    format!("{:016X}", hasher.finish())
}

/// Where schemas live and how a reference to one reads, per OpenAPI version.
#[derive(Clone, Copy)]
enum Flavour {
    V2,
    V3,
}

impl Flavour {
    fn generator(self) -> SchemaGenerator {
        match self {
            Self::V3 => SchemaSettings::openapi3().into_generator(),
            Self::V2 => SchemaSettings::draft07()
                .with(|settings| {
                    settings.definitions_path = "/definitions".into();
                    settings.meta_schema = None;
                })
                .into_generator(),
        }
    }

    fn reference(self, name: &str) -> String {
        match self {
            Self::V3 => format!("#/components/schemas/{name}"),
            Self::V2 => format!("#/definitions/{name}"),
        }
    }
}

/// Adds a built-in kind's schema (and all it refers to) to `generator`; its name if known.
fn builtin_schema(generator: &mut SchemaGenerator, resource: &ResourceType) -> Option<String> {
    use schemars::JsonSchema;
    fn add<T: JsonSchema>(generator: &mut SchemaGenerator) -> Option<String> {
        generator.subschema_for::<T>();
        Some(T::schema_name().into_owned())
    }
    match (resource.group.as_str(), resource.kind.as_str()) {
        ("", "Namespace") => add::<core::v1::Namespace>(generator),
        ("", "Node") => add::<core::v1::Node>(generator),
        ("", "Pod") => add::<core::v1::Pod>(generator),
        ("", "PersistentVolumeClaim") => add::<core::v1::PersistentVolumeClaim>(generator),
        ("", "PersistentVolume") => add::<core::v1::PersistentVolume>(generator),
        ("", "Event") => add::<core::v1::Event>(generator),
        ("apps", "Deployment") => add::<apps::v1::Deployment>(generator),
        ("apps", "ReplicaSet") => add::<apps::v1::ReplicaSet>(generator),
        ("apps", "StatefulSet") => add::<apps::v1::StatefulSet>(generator),
        ("apps", "DaemonSet") => add::<apps::v1::DaemonSet>(generator),
        ("policy", "PodDisruptionBudget") => add::<policy::v1::PodDisruptionBudget>(generator),
        ("coordination.k8s.io", "Lease") => add::<coordination::v1::Lease>(generator),
        ("events.k8s.io", "Event") => add::<events::v1::Event>(generator),
        _ => None,
    }
}

/// A custom kind's schema name as kube-apiserver spells it: the group reversed, then the
/// version and kind (`io.kubespread.v1alpha1.SpreadPolicy`).
fn custom_name(resource: &ResourceType) -> String {
    let reversed: Vec<&str> = resource.group.split('.').rev().collect();
    format!(
        "{}.{}.{}",
        reversed.join("."),
        resource.version,
        resource.kind
    )
}

/// A custom kind's schema: the CRD's, with `apiVersion`, `kind` and `metadata` (referring to
/// ObjectMeta) as kube-apiserver publishes it.
fn custom_schema(
    generator: &mut SchemaGenerator,
    flavour: Flavour,
    resource: &ResourceType,
) -> Value {
    generator.subschema_for::<ObjectMeta>();
    let mut schema = resource
        .schema
        .clone()
        .unwrap_or_else(|| json!({"type": "object"}));
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        use schemars::JsonSchema;
        let meta = flavour.reference(&ObjectMeta::schema_name());
        properties.insert(
            "apiVersion".to_owned(),
            json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"}),
        );
        properties.insert(
            "kind".to_owned(),
            json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"}),
        );
        properties.insert(
            "metadata".to_owned(),
            json!({
                "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
                "allOf": [{"$ref": meta}],
            }),
        );
    }
    schema
}

/// The schemas of `types`: every definition they need, each served kind's marked with its
/// group, version and kind (how kubectl finds a kind's schema).
fn schemas(types: &[&ResourceType], flavour: Flavour) -> (Map<String, Value>, Vec<String>) {
    let mut generator = flavour.generator();
    let mut custom = Vec::new();
    let mut names = Vec::new();
    for resource in types {
        if resource.custom {
            let name = custom_name(resource);
            custom.push((
                name.clone(),
                custom_schema(&mut generator, flavour, resource),
            ));
            names.push(name);
        } else if let Some(name) = builtin_schema(&mut generator, resource) {
            names.push(name);
        } else {
            names.push(String::new());
        }
    }
    let mut definitions = generator.take_definitions(true);
    for (resource, name) in types.iter().zip(&names) {
        if !resource.custom && !name.is_empty() {
            let mut walk = ListWalk {
                shape: Schema::of(resource),
                visited: HashSet::new(),
            };
            walk.annotate(&mut definitions, name, &mut Vec::new());
        }
    }
    definitions.extend(custom);
    for (resource, name) in types.iter().zip(&names) {
        if let Some(Value::Object(schema)) = definitions.get_mut(name) {
            schema.insert(
                "x-kubernetes-group-version-kind".to_owned(),
                json!([{"group": resource.group, "version": resource.version, "kind": resource.kind}]),
            );
        }
    }
    (definitions, names)
}

/// The definition a property schema refers to, directly or through a one-entry `allOf`.
fn referenced(schema: &Value) -> Option<String> {
    let reference = schema.get("$ref").or_else(|| {
        schema
            .get("allOf")
            .and_then(Value::as_array)
            .and_then(|all| all.first())
            .and_then(|first| first.get("$ref"))
    })?;
    reference
        .as_str()
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_owned)
}

/// A walk from a kind's schema down its properties that marks each list with how it merges
/// (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`), as kube-apiserver
/// publishes the Go struct tags, so kubectl's client-side apply computes its strategic merge
/// patches (deletions and `$setElementOrder`) as against a real server.
struct ListWalk<'a> {
    shape: Schema<'a>,
    visited: HashSet<String>,
}

impl ListWalk<'_> {
    fn annotate(
        &mut self,
        definitions: &mut Map<String, Value>,
        name: &str,
        path: &mut Vec<String>,
    ) {
        if !self.visited.insert(name.to_owned()) || path.len() > 16 {
            return;
        }
        let Some(properties) = definitions
            .get(name)
            .and_then(|d| d.get("properties"))
            .and_then(Value::as_object)
            .cloned()
        else {
            return;
        };
        for (field, schema) in properties {
            path.push(field.clone());
            let items = schema.get("items");
            if items.is_some()
                && let Some(key) = self.shape.patch_merge_key(path)
                && let Some(Value::Object(property)) = definitions
                    .get_mut(name)
                    .and_then(|d| d.get_mut("properties"))
                    .and_then(|p| p.get_mut(&field))
            {
                property.insert("x-kubernetes-patch-strategy".to_owned(), json!("merge"));
                if !key.is_empty() {
                    property.insert("x-kubernetes-patch-merge-key".to_owned(), json!(key));
                }
            }
            if let Some(inner) = items.and_then(referenced).or_else(|| referenced(&schema)) {
                self.annotate(definitions, &inner, path);
            }
            path.pop();
        }
    }
}

/// The query parameters of one operation, as kube-apiserver declares them.
fn parameters(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|name| {
            json!({"name": name, "in": "query", "description": query_description(name),
                   "schema": {"type": "string", "uniqueItems": true}})
        })
        .collect()
}

fn query_description(name: &str) -> &'static str {
    match name {
        "dryRun" => {
            "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed"
        }
        "fieldManager" => {
            "fieldManager is a name associated with the actor or entity that is making these changes."
        }
        "fieldValidation" => {
            "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn (the default) and Strict."
        }
        "force" => {
            "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people."
        }
        "labelSelector" => "A selector to restrict the list of returned objects by their labels.",
        "fieldSelector" => "A selector to restrict the list of returned objects by their fields.",
        "watch" => "Watch for changes to the described resources.",
        _ => "",
    }
}

/// The operations served on one path.
struct Operations<'a> {
    flavour: Flavour,
    resource: &'a ResourceType,
    schema: String,
}

impl Operations<'_> {
    fn gvk(&self) -> Value {
        json!({"group": self.resource.group, "version": self.resource.version, "kind": self.resource.kind})
    }

    fn response(&self) -> Value {
        let reference = json!({"$ref": self.flavour.reference(&self.schema)});
        match self.flavour {
            Flavour::V3 => json!({"200": {"description": "OK",
                "content": {"application/json": {"schema": reference}}}}),
            Flavour::V2 => json!({"200": {"description": "OK", "schema": reference}}),
        }
    }

    fn operation(&self, action: &str, query: &[&str], body: &[&str]) -> Value {
        let id = format!(
            "{action}{}{}",
            self.resource.group.replace('.', ""),
            self.resource.kind
        );
        let mut parameters = parameters(query);
        let mut operation = json!({
            "operationId": id,
            "responses": self.response(),
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": self.gvk(),
        });
        if !body.is_empty() {
            let schema = if action == "patch" {
                json!({"type": "object"})
            } else {
                json!({"$ref": self.flavour.reference(&self.schema)})
            };
            match self.flavour {
                Flavour::V3 => {
                    let content: Map<String, Value> = body
                        .iter()
                        .map(|media| ((*media).to_owned(), json!({"schema": schema})))
                        .collect();
                    operation["requestBody"] = json!({"required": true, "content": content});
                }
                Flavour::V2 => {
                    parameters.push(
                        json!({"name": "body", "in": "body", "required": true, "schema": schema}),
                    );
                    operation["consumes"] = json!(body);
                }
            }
        }
        operation["parameters"] = json!(parameters);
        operation
    }

    /// The collection path's operations and the named object's.
    fn paths(&self) -> (Value, Value) {
        const WRITE: [&str; 3] = ["dryRun", "fieldManager", "fieldValidation"];
        let patch_media: &[&str] = if self.resource.custom {
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
            ]
        } else {
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
                "application/apply-patch+yaml",
            ]
        };
        let collection = json!({
            "get": self.operation("list", &["labelSelector", "fieldSelector", "watch"], &[]),
            "post": self.operation("post", &WRITE, &["application/json", "application/yaml"]),
        });
        let mut patch_query = WRITE.to_vec();
        patch_query.push("force");
        let object = json!({
            "get": self.operation("get", &[], &[]),
            "put": self.operation("put", &WRITE, &["application/json", "application/yaml"]),
            "patch": self.operation("patch", &patch_query, patch_media),
            "delete": self.operation("delete", &["dryRun"], &[]),
        });
        (collection, object)
    }
}

/// The paths of `types`, collection and object, as kube-apiserver lays them out.
fn paths(types: &[&ResourceType], names: &[String], flavour: Flavour) -> Map<String, Value> {
    let mut paths = Map::new();
    for (resource, name) in types.iter().zip(names) {
        if name.is_empty() {
            continue;
        }
        let prefix = if resource.group.is_empty() {
            format!("/api/{}", resource.version)
        } else {
            format!("/apis/{}/{}", resource.group, resource.version)
        };
        let scope = if resource.namespaced {
            "/namespaces/{namespace}"
        } else {
            ""
        };
        let operations = Operations {
            flavour,
            resource,
            schema: name.clone(),
        };
        let (collection, object) = operations.paths();
        let base = format!("{prefix}{scope}/{}", resource.plural);
        paths.insert(base.clone(), collection);
        paths.insert(format!("{base}/{{name}}"), object);
    }
    paths
}

fn info() -> Value {
    json!({"title": "Kubernetes", "version": "v1.33.0"})
}

fn v3_document(types: &[&ResourceType], names: &[String], schemas: &Map<String, Value>) -> Value {
    json!({
        "openapi": "3.0.0",
        "info": info(),
        "paths": paths(types, names, Flavour::V3),
        "components": {"schemas": schemas},
    })
}

fn v2_document(types: &[&ResourceType]) -> Value {
    let (definitions, names) = schemas(types, Flavour::V2);
    json!({
        "swagger": "2.0",
        "info": info(),
        "paths": paths(types, &names, Flavour::V2),
        "definitions": definitions,
    })
}
