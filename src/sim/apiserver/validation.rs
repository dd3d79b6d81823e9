//! Validates custom resources against their CRD's structural schema the way kube-apiserver does
//! on create: prune unknown fields, apply `default`s, check the OpenAPI schema, then evaluate the
//! CEL rules (`x-kubernetes-validations`). Pure: no client and no I/O, so the simulated API
//! server can answer 422 Invalid with the same causes a real one gives.
//!
//! Unknown fields: kube-apiserver prunes them (and warns `unknown field "spec.x"`, or refuses
//! them under `fieldValidation=Strict`, which kubectl sends by default). [`UnknownFields::Reject`]
//! reports them as causes, and is what our own tooling uses; [`UnknownFields::Prune`] drops them
//! and returns the apiserver's warnings.

use std::{
    collections::{BTreeSet, HashMap},
    fmt,
    sync::LazyLock,
};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::cel::{CompiledSchema, ErrorKind, compile_schema, validate_compiled};
use regex::Regex;
use serde_json::{Map, Value, json};

use crate::api::{cluster_crd, crd};

/// Why a CRD could not be turned into a validator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadSchema {
    /// The CRD does not serve the asked version.
    #[error("the CRD {crd} has no version {version}")]
    NoVersion {
        /// The CRD's name.
        crd: String,
        /// The version asked for.
        version: String,
    },
    /// The version has no `openAPIV3Schema`.
    #[error("version {version} of the CRD {crd} has no openAPIV3Schema")]
    NoSchema {
        /// The CRD's name.
        crd: String,
        /// The version.
        version: String,
    },
    /// The schema could not be read as JSON.
    #[error("the schema of the CRD {crd} is not JSON: {message}")]
    NotJson {
        /// The CRD's name.
        crd: String,
        /// What serde said.
        message: String,
    },
}

/// What to do with fields the schema does not declare.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UnknownFields {
    /// Refuse the object, one cause per unknown field (our tooling's choice: a typo such as
    /// `maxskew` must not silently become "use the default").
    #[default]
    Reject,
    /// Drop them and return the warnings kube-apiserver sends (`unknown field "spec.x"`).
    Prune,
}

/// A valid object, defaulted and pruned, with the warnings the apiserver would send.
#[derive(Clone, Debug, PartialEq)]
pub struct Validated {
    /// The object as it would be stored: defaults applied, unknown fields dropped.
    pub object: Value,
    /// `unknown field "spec.x"` for each pruned field (only with [`UnknownFields::Prune`]).
    pub warnings: Vec<String>,
}

/// The kind of a cause, as `field.ErrorType` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A required field is missing.
    Required,
    /// A value breaks a rule (minimum, pattern, a CEL rule, ...).
    Invalid,
    /// A value has the wrong JSON type.
    TypeInvalid,
    /// A value is not one of the enum's.
    NotSupported,
    /// A set or map list repeats an item.
    Duplicate,
    /// A string is longer than maxLength.
    TooLong,
    /// A list or map has more than maxItems or maxProperties.
    TooMany,
    /// A value is not allowed at all.
    Forbidden,
    /// The schema itself could not be applied (a CEL rule that does not compile).
    Internal,
    /// A field the schema does not declare (only with [`UnknownFields::Reject`]).
    UnknownField,
}

impl Reason {
    /// The `StatusCause.reason` kube-apiserver sends. An unknown field has no 422 cause in
    /// Kubernetes (strict field validation answers 400); it is sent as `FieldValueInvalid`.
    pub const fn cause_type(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid | Self::UnknownField => "FieldValueInvalid",
            Self::TypeInvalid => "FieldValueTypeInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Duplicate => "FieldValueDuplicate",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::Forbidden => "FieldValueForbidden",
            Self::Internal => "InternalError",
        }
    }

    /// Schema errors after which kube-apiserver does not evaluate CEL rules (`hasBlockingErr`).
    const fn blocks_rules(self) -> bool {
        matches!(
            self,
            Self::NotSupported | Self::Required | Self::TooLong | Self::TooMany | Self::TypeInvalid
        )
    }
}

/// One thing wrong with an object, shaped like a `metav1.StatusCause`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cause {
    /// What kind of error.
    pub reason: Reason,
    /// The field path, e.g. `spec.constraints[0].maxSkew`.
    pub field: String,
    /// The message after the path, e.g. `Invalid value: 0: ...`.
    pub message: String,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl Cause {
    fn new(reason: Reason, field: &str, message: String) -> Self {
        Self {
            reason,
            field: field.to_owned(),
            message,
        }
    }

    fn required(field: &str, detail: &str) -> Self {
        let message = if detail.is_empty() {
            "Required value".to_owned()
        } else {
            format!("Required value: {detail}")
        };
        Self::new(Reason::Required, field, message)
    }

    fn invalid(field: &str, value: &str, detail: &str) -> Self {
        Self::new(
            Reason::Invalid,
            field,
            format!("Invalid value: {value}: {detail}"),
        )
    }
}

/// An object the API server would refuse with 422 Invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Invalid {
    /// The kind qualified by its group, e.g. `SpreadPolicy.kubespread.io`.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// Everything wrong with it, in the order found.
    pub causes: Vec<Cause>,
}

impl fmt::Display for Invalid {
    /// `SpreadPolicy.kubespread.io "apps" is invalid: spec.x: ...`, or `[a, b]` for several
    /// causes, as apimachinery's `NewInvalid` writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?} is invalid", self.kind, self.name)?;
        let mut seen = BTreeSet::new();
        let messages: Vec<String> = self
            .causes
            .iter()
            .map(ToString::to_string)
            .filter(|message| seen.insert(message.clone()))
            .collect();
        match messages.as_slice() {
            [] => Ok(()),
            [only] => write!(f, ": {only}"),
            many => write!(f, ": [{}]", many.join(", ")),
        }
    }
}

/// One version of a CRD: its schema, with the CEL rules compiled once.
pub struct CrdSchema {
    kind: String,
    group: String,
    api_version: String,
    namespaced: bool,
    schema: Value,
    rules: HashMap<String, CompiledSchema>,
    patterns: HashMap<String, Result<Regex, String>>,
}

impl fmt::Debug for CrdSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrdSchema")
            .field("kind", &self.kind)
            .field("api_version", &self.api_version)
            .field("namespaced", &self.namespaced)
            .field("rule_nodes", &self.rules.len())
            .finish_non_exhaustive()
    }
}

impl CrdSchema {
    /// A validator for objects of `kind` in `api_version` (`group/version`) with this
    /// `openAPIV3Schema`. With `status_subresource`, `status` is neither pruned nor checked, as
    /// the apiserver drops it on create.
    pub fn new(
        kind: &str,
        api_version: &str,
        namespaced: bool,
        status_subresource: bool,
        schema: Value,
    ) -> Self {
        let group = api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
            .to_owned();
        let schema = root_schema(schema, status_subresource);
        let mut rules = HashMap::new();
        let mut patterns = HashMap::new();
        collect(&schema, String::new(), &mut rules, &mut patterns);
        Self {
            kind: kind.to_owned(),
            group,
            api_version: api_version.to_owned(),
            namespaced,
            schema,
            rules,
            patterns,
        }
    }

    /// A validator for one served version of a CRD.
    pub fn from_crd(crd: &CustomResourceDefinition, version: &str) -> Result<Self, LoadSchema> {
        let crd_name = crd.metadata.name.clone().unwrap_or_default();
        let served = crd
            .spec
            .versions
            .iter()
            .find(|v| v.name == version)
            .ok_or_else(|| LoadSchema::NoVersion {
                crd: crd_name.clone(),
                version: version.to_owned(),
            })?;
        let schema = served
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .ok_or_else(|| LoadSchema::NoSchema {
                crd: crd_name.clone(),
                version: version.to_owned(),
            })?;
        let schema = serde_json::to_value(schema).map_err(|error| LoadSchema::NotJson {
            crd: crd_name,
            message: error.to_string(),
        })?;
        let status_subresource = served
            .subresources
            .as_ref()
            .is_some_and(|s| s.status.is_some());
        Ok(Self::new(
            &crd.spec.names.kind,
            &format!("{}/{}", crd.spec.group, version),
            crd.spec.scope == "Namespaced",
            status_subresource,
            schema,
        ))
    }

    /// `Kind.group`, as the apiserver names the kind in its messages.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// Validates an object as a create would, refusing unknown fields; returns it defaulted.
    pub fn validate(&self, object: &Value) -> Result<Value, Invalid> {
        self.validate_with(object, UnknownFields::Reject)
            .map(|validated| validated.object)
    }

    /// Validates an object as a create would: prune, default, schema checks, then CEL rules
    /// (skipped, as the apiserver skips them, after a type, enum, required, length or count
    /// error).
    pub fn validate_with(
        &self,
        object: &Value,
        unknown_fields: UnknownFields,
    ) -> Result<Validated, Invalid> {
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let invalid = |causes| Invalid {
            kind: self.qualified_kind(),
            name: name.clone(),
            causes,
        };
        if !object.is_object() {
            return Err(invalid(vec![Cause::new(
                Reason::TypeInvalid,
                "<nil>",
                format!(
                    "Invalid value: {:?}: the object must be of type object",
                    type_name(object)
                ),
            )]));
        }
        let mut object = object.clone();
        let mut walk = Walk {
            crd: self,
            causes: Vec::new(),
            unknown: Vec::new(),
        };
        walk.normalize(&self.schema, &mut object, "");
        if unknown_fields == UnknownFields::Reject {
            for field in &walk.unknown {
                walk.causes.push(Cause::new(
                    Reason::UnknownField,
                    field,
                    "Unknown field: not declared in the schema".to_owned(),
                ));
            }
        }
        walk.metadata(&object);
        walk.check(&self.schema, &object, "");
        if walk.causes.iter().any(|cause| cause.reason.blocks_rules()) {
            walk.causes.push(Cause::invalid(
                "<nil>",
                "\"null\"",
                "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
            ));
        } else {
            walk.rules(&self.schema, "", &object, "");
        }
        if !walk.causes.is_empty() {
            return Err(invalid(walk.causes));
        }
        let warnings = walk
            .unknown
            .iter()
            .map(|field| format!("unknown field {field:?}"))
            .collect();
        Ok(Validated { object, warnings })
    }
}

/// The SpreadPolicy CRD's validator, built once.
static SPREAD_POLICY: LazyLock<Result<CrdSchema, LoadSchema>> =
    LazyLock::new(|| CrdSchema::from_crd(&crd(), "v1alpha1"));

/// The ClusterSpreadPolicy CRD's validator, built once.
static CLUSTER_SPREAD_POLICY: LazyLock<Result<CrdSchema, LoadSchema>> =
    LazyLock::new(|| CrdSchema::from_crd(&cluster_crd(), "v1alpha1"));

/// The validator of the SpreadPolicy CRD (`kubespread.io/v1alpha1`).
pub fn spread_policy_schema() -> Result<&'static CrdSchema, LoadSchema> {
    SPREAD_POLICY.as_ref().map_err(Clone::clone)
}

/// The validator of the ClusterSpreadPolicy CRD (`kubespread.io/v1alpha1`).
pub fn cluster_spread_policy_schema() -> Result<&'static CrdSchema, LoadSchema> {
    CLUSTER_SPREAD_POLICY.as_ref().map_err(Clone::clone)
}

/// Validates a whole SpreadPolicy object (apiVersion, kind, metadata, spec) as kube-apiserver
/// would on create, refusing unknown fields; returns it with the schema's defaults applied.
pub fn validate_policy(object: &Value) -> Result<Value, Invalid> {
    validate_with(spread_policy_schema(), "SpreadPolicy.kubespread.io", object)
}

/// [`validate_policy`] for a ClusterSpreadPolicy.
pub fn validate_cluster_policy(object: &Value) -> Result<Value, Invalid> {
    validate_with(
        cluster_spread_policy_schema(),
        "ClusterSpreadPolicy.kubespread.io",
        object,
    )
}

fn validate_with(
    schema: Result<&'static CrdSchema, LoadSchema>,
    kind: &str,
    object: &Value,
) -> Result<Value, Invalid> {
    match schema {
        Ok(schema) => schema.validate(object),
        Err(error) => Err(Invalid {
            kind: kind.to_owned(),
            name: object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            causes: vec![Cause::new(
                Reason::Internal,
                "<nil>",
                format!("Internal error: {error}"),
            )],
        }),
    }
}

/// The root schema as the apiserver applies it: `apiVersion`, `kind` and `metadata` are always
/// allowed, and `status` is left alone when it is a subresource.
fn root_schema(mut schema: Value, status_subresource: bool) -> Value {
    let Some(root) = schema.as_object_mut() else {
        return schema;
    };
    let properties = root
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(properties) = properties.as_object_mut() {
        properties.insert("apiVersion".to_owned(), json!({"type": "string"}));
        properties.insert("kind".to_owned(), json!({"type": "string"}));
        let metadata = properties
            .entry("metadata")
            .or_insert_with(|| json!({"type": "object"}));
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.insert(
                "x-kubernetes-preserve-unknown-fields".to_owned(),
                Value::Bool(true),
            );
        }
        if status_subresource && properties.contains_key("status") {
            properties.insert(
                "status".to_owned(),
                json!({"x-kubernetes-preserve-unknown-fields": true}),
            );
        }
    }
    schema
}

/// Compiles each node's CEL rules on their own (its descendants' rules stripped, so that one
/// evaluation checks one node), keyed by the node's JSON pointer; and compiles every pattern.
fn collect(
    schema: &Value,
    pointer: String,
    rules: &mut HashMap<String, CompiledSchema>,
    patterns: &mut HashMap<String, Result<Regex, String>>,
) {
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        patterns
            .entry(pattern.to_owned())
            .or_insert_with(|| Regex::new(pattern).map_err(|error| error.to_string()));
    }
    if schema.get("x-kubernetes-validations").is_some() {
        let mut own = schema.clone();
        for child in children_mut(&mut own) {
            strip_rules(child);
        }
        rules.insert(pointer.clone(), compile_schema(&own));
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (key, child) in properties {
            collect(
                child,
                format!("{pointer}/properties/{}", escape(key)),
                rules,
                patterns,
            );
        }
    }
    if let Some(items) = schema.get("items") {
        collect(items, format!("{pointer}/items"), rules, patterns);
    }
    if let Some(additional) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        collect(
            additional,
            format!("{pointer}/additionalProperties"),
            rules,
            patterns,
        );
    }
}

fn children_mut(schema: &mut Value) -> Vec<&mut Value> {
    let Some(object) = schema.as_object_mut() else {
        return Vec::new();
    };
    let mut children = Vec::new();
    for (key, value) in object.iter_mut() {
        match key.as_str() {
            "properties" => {
                if let Some(properties) = value.as_object_mut() {
                    children.extend(properties.values_mut());
                }
            }
            "items" | "additionalProperties" => children.push(value),
            _ => {}
        }
    }
    children
}

fn strip_rules(schema: &mut Value) {
    if let Some(object) = schema.as_object_mut() {
        object.remove("x-kubernetes-validations");
    }
    for child in children_mut(schema) {
        strip_rules(child);
    }
}

/// JSON pointer escaping of one key.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn index_path(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

fn schema_type(schema: &Value) -> Option<&str> {
    schema.get("type").and_then(Value::as_str)
}

fn is_true(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

/// A JSON value's type as go-openapi names it: an integral number is an integer.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if integral(number).is_some() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The number as an integer, if it is one (go-openapi accepts `2.0` as an integer).
fn integral(number: &serde_json::Number) -> Option<i64> {
    if let Some(int) = number.as_i64() {
        return Some(int);
    }
    if number.is_u64() {
        return None;
    }
    let float = number.as_f64()?;
    let limit = 9_007_199_254_740_992.0; // 2^53: beyond it a float is no reliable integer
    (float.fract() == 0.0 && float.abs() < limit).then_some(float as i64)
}

/// A value as `field.Error` prints a bad value: numbers and booleans bare, strings quoted.
fn shown(value: &Value) -> String {
    match value {
        Value::Null => "\"null\"".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.as_f64().map_or_else(
            || number.to_string(),
            |float| {
                if number.is_f64() {
                    go_float(float)
                } else {
                    number.to_string()
                }
            },
        ),
        Value::String(text) => format!("{text:?}"),
        Value::Array(_) | Value::Object(_) => value.to_string(),
    }
}

/// A float as Go's `%v` prints it for the values schemas hold (`1`, `0.5`).
fn go_float(float: f64) -> String {
    if float.fract() == 0.0 && float.abs() < 1e21 {
        format!("{}", float as i64)
    } else {
        format!("{float}")
    }
}

/// Go's `%#v` of a `map[string]interface{}` with string values, as a Duplicate cause shows a
/// list-map key.
fn go_map(entries: &[(&str, &Value)]) -> String {
    let shown: Vec<String> = entries
        .iter()
        .map(|(key, value)| format!("{key:?}:{}", shown(value)))
        .collect();
    format!("map[string]interface {{}}{{{}}}", shown.join(", "))
}

struct Walk<'s> {
    crd: &'s CrdSchema,
    causes: Vec<Cause>,
    unknown: Vec<String>,
}

impl Walk<'_> {
    /// Structural pruning and defaulting: unknown fields and nulls of non-nullable fields are
    /// dropped, then missing fields with a default get it (and the default's own defaults).
    fn normalize(&mut self, schema: &Value, value: &mut Value, path: &str) {
        match value {
            Value::Object(object) => {
                if schema_type(schema).is_some_and(|t| t != "object") {
                    return;
                }
                let preserve = is_true(schema, "x-kubernetes-preserve-unknown-fields");
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                let keys: Vec<String> = object.keys().cloned().collect();
                for key in keys {
                    let field = child_path(path, &key);
                    let child_schema = properties
                        .and_then(|p| p.get(&key))
                        .or_else(|| additional.filter(|a| a.is_object()));
                    match child_schema {
                        Some(child_schema) => {
                            let drop = object
                                .get(&key)
                                .is_some_and(|v| v.is_null() && !is_true(child_schema, "nullable"));
                            if drop {
                                object.remove(&key);
                            } else if let Some(child) = object.get_mut(&key) {
                                self.normalize(child_schema, child, &field);
                            }
                        }
                        None if preserve || additional == Some(&Value::Bool(true)) => {}
                        None => {
                            self.unknown.push(field);
                            object.remove(&key);
                        }
                    }
                }
                for (key, child_schema) in properties.into_iter().flatten() {
                    if object.contains_key(key) {
                        continue;
                    }
                    if let Some(default) = child_schema.get("default") {
                        let mut default = default.clone();
                        self.normalize(child_schema, &mut default, &child_path(path, key));
                        object.insert(key.clone(), default);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(items_schema) = schema.get("items") {
                    for (index, item) in items.iter_mut().enumerate() {
                        self.normalize(items_schema, item, &index_path(path, index));
                    }
                }
            }
            Value::Number(number) if schema_type(schema) == Some("integer") => {
                if let Some(int) = integral(number) {
                    *number = int.into();
                }
            }
            _ => {}
        }
    }

    /// `metadata.name` and `metadata.namespace`, as `ValidateObjectMeta` checks them.
    fn metadata(&mut self, object: &Value) {
        let metadata = object.get("metadata");
        let text = |key: &str| metadata.and_then(|m| m.get(key)).and_then(Value::as_str);
        match (text("name"), text("generateName")) {
            (Some(name), _) if !name.is_empty() => {
                if let Err(detail) = dns_subdomain(name) {
                    self.causes.push(Cause::invalid(
                        "metadata.name",
                        &format!("{name:?}"),
                        &detail,
                    ));
                }
            }
            (_, Some(prefix)) if !prefix.is_empty() => {}
            _ => self.causes.push(Cause::required(
                "metadata.name",
                "name or generateName is required",
            )),
        }
        match text("namespace") {
            Some(namespace) if !namespace.is_empty() => {
                if !self.crd.namespaced {
                    self.causes.push(Cause::new(
                        Reason::Forbidden,
                        "metadata.namespace",
                        "Forbidden: not allowed on this type".to_owned(),
                    ));
                } else if let Err(detail) = dns_label(namespace) {
                    self.causes.push(Cause::invalid(
                        "metadata.namespace",
                        &format!("{namespace:?}"),
                        &detail,
                    ));
                }
            }
            _ if self.crd.namespaced => self.causes.push(Cause::required("metadata.namespace", "")),
            _ => {}
        }
        for (key, expected) in [
            ("kind", self.crd.kind.as_str()),
            ("apiVersion", self.crd.api_version.as_str()),
        ] {
            if let Some(found) = object.get(key).and_then(Value::as_str)
                && found != expected
            {
                self.causes.push(Cause::invalid(
                    key,
                    &format!("{found:?}"),
                    &format!("must be {expected}"),
                ));
            }
        }
    }

    /// The OpenAPI schema checks, in the messages of kube-openapi and apiextensions.
    fn check(&mut self, schema: &Value, value: &Value, path: &str) {
        if value.is_null() && (is_true(schema, "nullable") || schema_type(schema).is_none()) {
            return;
        }
        if is_true(schema, "x-kubernetes-int-or-string") {
            if !matches!(type_name(value), "integer" | "string") {
                self.type_error(path, "integer|string", value);
                return;
            }
        } else if let Some(expected) = schema_type(schema) {
            let found = type_name(value);
            let matches = found == expected || (expected == "number" && found == "integer");
            if !matches {
                self.type_error(path, expected, value);
                return;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            let supported: Vec<String> = allowed
                .iter()
                .map(|v| match v {
                    Value::String(text) => format!("{text:?}"),
                    other => format!("{:?}", other.to_string()),
                })
                .collect();
            self.causes.push(Cause::new(
                Reason::NotSupported,
                path,
                format!(
                    "Unsupported value: {}: supported values: {}",
                    shown(value),
                    supported.join(", ")
                ),
            ));
        }
        match value {
            Value::Number(number) => self.check_number(schema, number, value, path),
            Value::String(text) => self.check_string(schema, text, value, path),
            Value::Array(items) => self.check_array(schema, items, path),
            Value::Object(object) => self.check_object(schema, object, path),
            Value::Null | Value::Bool(_) => {}
        }
    }

    fn type_error(&mut self, path: &str, expected: &str, value: &Value) {
        let found = type_name(value);
        self.causes.push(Cause::new(
            Reason::TypeInvalid,
            path,
            format!(
                "Invalid value: {found:?}: {path} in body must be of type {expected}: {found:?}"
            ),
        ));
    }

    fn check_number(
        &mut self,
        schema: &Value,
        number: &serde_json::Number,
        value: &Value,
        path: &str,
    ) {
        let Some(actual) = number.as_f64() else {
            return;
        };
        let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
        if let Some(minimum) = bound("minimum") {
            let exclusive = is_true(schema, "exclusiveMinimum");
            if actual < minimum || (exclusive && actual == minimum) {
                let relation = if exclusive {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                self.causes.push(Cause::invalid(
                    path,
                    &shown(value),
                    &format!("{path} in body should be {relation} {}", go_float(minimum)),
                ));
            }
        }
        if let Some(maximum) = bound("maximum") {
            let exclusive = is_true(schema, "exclusiveMaximum");
            if actual > maximum || (exclusive && actual == maximum) {
                let relation = if exclusive {
                    "less than"
                } else {
                    "less than or equal to"
                };
                self.causes.push(Cause::invalid(
                    path,
                    &shown(value),
                    &format!("{path} in body should be {relation} {}", go_float(maximum)),
                ));
            }
        }
        if let Some(factor) = bound("multipleOf")
            && factor != 0.0
            && (actual / factor).fract() != 0.0
        {
            self.causes.push(Cause::invalid(
                path,
                &shown(value),
                &format!(
                    "{path} in body should be a multiple of {}",
                    go_float(factor)
                ),
            ));
        }
    }

    fn check_string(&mut self, schema: &Value, text: &str, value: &Value, path: &str) {
        let length = text.chars().count() as u64;
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && length > max
        {
            let unit = if max == 1 { "byte" } else { "bytes" };
            self.causes.push(Cause::new(
                Reason::TooLong,
                path,
                format!("Too long: may not be more than {max} {unit}"),
            ));
        }
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && length < min
        {
            self.causes.push(Cause::invalid(
                path,
                &shown(value),
                &format!("{path} in body should be at least {min} chars long"),
            ));
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            match self.crd.patterns.get(pattern) {
                Some(Ok(regex)) if regex.is_match(text) => {}
                Some(Ok(_)) => self.causes.push(Cause::invalid(
                    path,
                    &shown(value),
                    &format!("{path} in body should match '{pattern}'"),
                )),
                Some(Err(error)) => self.causes.push(Cause::new(
                    Reason::Internal,
                    path,
                    format!("Internal error: the pattern {pattern:?} does not compile: {error}"),
                )),
                None => {}
            }
        }
    }

    fn check_array(&mut self, schema: &Value, items: &[Value], path: &str) {
        let count = items.len() as u64;
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && count > max
        {
            self.causes.push(Cause::new(
                Reason::TooMany,
                path,
                format!("Too many: {count}: must have at most {max} items"),
            ));
        }
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && count < min
        {
            self.causes.push(Cause::invalid(
                path,
                &count.to_string(),
                &format!("{path} in body should have at least {min} items"),
            ));
        }
        if let Some(items_schema) = schema.get("items") {
            for (index, item) in items.iter().enumerate() {
                self.check(items_schema, item, &index_path(path, index));
            }
        }
        match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => {
                for (index, item) in items.iter().enumerate() {
                    if items[..index].contains(item) {
                        self.causes.push(Cause::new(
                            Reason::Duplicate,
                            &index_path(path, index),
                            format!("Duplicate value: {}", shown(item)),
                        ));
                    }
                }
            }
            Some("map") => {
                let keys: Vec<&str> = schema
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let key_of = |item: &Value| -> Vec<Value> {
                    keys.iter()
                        .map(|key| item.get(*key).cloned().unwrap_or(Value::Null))
                        .collect()
                };
                for (index, item) in items.iter().enumerate() {
                    let key = key_of(item);
                    if items[..index].iter().any(|earlier| key_of(earlier) == key) {
                        let entries: Vec<(&str, &Value)> =
                            keys.iter().copied().zip(key.iter()).collect();
                        self.causes.push(Cause::new(
                            Reason::Duplicate,
                            &index_path(path, index),
                            format!("Duplicate value: {}", go_map(&entries)),
                        ));
                    }
                }
            }
            _ => {}
        }
    }

    fn check_object(&mut self, schema: &Value, object: &Map<String, Value>, path: &str) {
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(required) {
                self.causes
                    .push(Cause::required(&child_path(path, required), ""));
            }
        }
        let count = object.len() as u64;
        if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
            && count > max
        {
            self.causes.push(Cause::new(
                Reason::TooMany,
                path,
                format!("Too many: {count}: must have at most {max} items"),
            ));
        }
        if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
            && count < min
        {
            self.causes.push(Cause::invalid(
                path,
                &count.to_string(),
                &format!("{path} in body should have at least {min} properties"),
            ));
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties").filter(|a| a.is_object());
        for (key, child) in object {
            let child_schema = properties.and_then(|p| p.get(key)).or(additional);
            if let Some(child_schema) = child_schema {
                self.check(child_schema, child, &child_path(path, key));
            }
        }
    }

    /// The CEL rules of every node present in the object, each node evaluated on its own.
    fn rules(&mut self, schema: &Value, pointer: &str, value: &Value, path: &str) {
        if value.is_null() {
            return;
        }
        if let Some(cause) = unparsable_duration(schema, value, path) {
            // cel-go's duration() fails on a duration Go cannot hold, and kube-apiserver refuses
            // the field with that evaluation error; the interpreter here would not fail.
            self.causes.push(cause);
        } else if let Some(compiled) = self.crd.rules.get(pointer)
            && let Err(errors) = validate_compiled(compiled, value, None)
        {
            let node_type = schema_type(schema).unwrap_or("object");
            for error in errors {
                let field = match error.field_path.as_str() {
                    "" => path.to_owned(),
                    relative if relative.starts_with('.') || relative.starts_with('[') => {
                        format!("{path}{relative}")
                    }
                    relative => child_path(path, relative),
                };
                let cause = match error.kind {
                    ErrorKind::ValidationFailure => match error.reason.as_deref() {
                        Some("FieldValueRequired") => Cause::required(&field, &error.message),
                        Some("FieldValueForbidden") => Cause::new(
                            Reason::Forbidden,
                            &field,
                            format!("Forbidden: {}", error.message),
                        ),
                        Some("FieldValueDuplicate") => Cause::new(
                            Reason::Duplicate,
                            &field,
                            format!("Duplicate value: {:?}", error.message),
                        ),
                        _ => Cause::invalid(&field, &format!("{node_type:?}"), &error.message),
                    },
                    ErrorKind::EvaluationError
                    | ErrorKind::InvalidResult
                    | ErrorKind::UnsupportedReference => {
                        Cause::invalid(&field, &format!("{node_type:?}"), &error.message)
                    }
                    _ => Cause::new(
                        Reason::Internal,
                        &field,
                        format!("Internal error: {}", error.message),
                    ),
                };
                self.causes.push(cause);
            }
        }
        match value {
            Value::Object(object) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties").filter(|a| a.is_object());
                for (key, child) in object {
                    if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
                        let pointer = format!("{pointer}/properties/{}", escape(key));
                        self.rules(child_schema, &pointer, child, &child_path(path, key));
                    } else if let Some(child_schema) = additional {
                        let pointer = format!("{pointer}/additionalProperties");
                        self.rules(child_schema, &pointer, child, &child_path(path, key));
                    }
                }
            }
            Value::Array(items) => {
                if let Some(items_schema) = schema.get("items") {
                    let pointer = format!("{pointer}/items");
                    for (index, item) in items.iter().enumerate() {
                        self.rules(items_schema, &pointer, item, &index_path(path, index));
                    }
                }
            }
            _ => {}
        }
    }
}

const DNS_LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS_SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn label_part(part: &str) -> bool {
    let bytes = part.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes.iter().all(|b| alnum(b) || *b == b'-')
}

/// apimachinery's `IsDNS1123Label`.
fn dns_label(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err("must be no more than 63 characters".to_owned());
    }
    if !label_part(value) {
        return Err(DNS_LABEL_MESSAGE.to_owned());
    }
    Ok(())
}

/// apimachinery's `IsDNS1123Subdomain`.
fn dns_subdomain(value: &str) -> Result<(), String> {
    if value.len() > 253 {
        return Err("must be no more than 253 characters".to_owned());
    }
    if !value.split('.').all(label_part) {
        return Err(DNS_SUBDOMAIN_MESSAGE.to_owned());
    }
    Ok(())
}

/// A string whose rules call `duration(self)` but that Go's `time.ParseDuration` refuses (it
/// matched the schema's pattern, yet is longer than 2^63-1 ns): the evaluation error
/// kube-apiserver reports for it.
fn unparsable_duration(schema: &Value, value: &Value, path: &str) -> Option<Cause> {
    let text = value.as_str()?;
    let uses_duration = schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(|rule| rule.get("rule").and_then(Value::as_str))
        .any(|rule| rule.contains("duration(self)"));
    if !uses_duration || text.parse::<crate::api::Duration>().is_ok() {
        return None;
    }
    Some(Cause::invalid(
        path,
        "\"string\"",
        &format!("evaluation error: time: invalid duration \"{text}\""),
    ))
}
