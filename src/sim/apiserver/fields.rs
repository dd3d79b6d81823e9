//! kube-apiserver's field validation of a request body: unknown fields (found against the served
//! OpenAPI schemas) and duplicate JSON keys, refused under `fieldValidation=Strict`, answered
//! with `Warning` headers under `Warn` (the default) and dropped silently under `Ignore`.
//! Judges bodies only; the store never sees the fields it drops.

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::catalog::ResourceType;
use super::rejection::Rejection;

/// What the client asked the server to do with unknown and duplicate fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and say so in `Warning` headers (kube-apiserver's default).
    #[default]
    Warn,
    /// Refuse the request.
    Strict,
}

impl FieldValidation {
    /// The `fieldValidation` query parameter's value; absent means [`FieldValidation::Warn`].
    pub fn from_query(value: Option<&str>) -> Result<Self, Rejection> {
        match value {
            None | Some("") | Some("Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(Rejection::bad_request(format!(
                "fieldValidation parameter unsupported: {other:?}; must be one of Ignore, Warn, Strict"
            ))),
        }
    }
}

/// One field a body should not have carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// A field the schema does not declare, by path (`spec.template.spec.containers[0].x`).
    Unknown(String),
    /// A key given twice in one JSON object, by path.
    Duplicate(String),
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(path) => write!(f, "unknown field {path:?}"),
            Self::Duplicate(path) => write!(f, "duplicate field {path:?}"),
        }
    }
}

/// What field validation made of a body: the body without its unknown fields, and the
/// warnings to send.
#[derive(Debug)]
pub struct Checked {
    /// The body, unknown fields removed.
    pub value: Value,
    /// One `Warning` text per finding (empty unless [`FieldValidation::Warn`]).
    pub warnings: Vec<String>,
}

/// Applies `mode` to a body: finds unknown fields against `schema` (the kind's OpenAPI schema,
/// resolved in `definitions`) and duplicate keys in the raw JSON, then refuses, warns or drops.
pub fn check(
    mode: FieldValidation,
    resource: &ResourceType,
    schema: Option<(&Map<String, Value>, &Value)>,
    raw: &[u8],
    mut value: Value,
) -> Result<Checked, Rejection> {
    let mut findings = Vec::new();
    if let Some((definitions, schema)) = schema {
        let walk = Walk { definitions };
        walk.prune(schema, &mut value, "", &mut findings);
    }
    if mode != FieldValidation::Ignore {
        findings.extend(duplicate_fields(raw).into_iter().map(Finding::Duplicate));
    }
    match mode {
        FieldValidation::Strict if !findings.is_empty() => {
            let listed: Vec<String> = findings.iter().map(ToString::to_string).collect();
            Err(Rejection::bad_request(format!(
                "{kind} in version {version:?} cannot be handled as a {kind}: strict decoding error: {}",
                listed.join(", "),
                kind = resource.kind,
                version = resource.version,
            )))
        }
        FieldValidation::Warn => Ok(Checked {
            value,
            warnings: findings.iter().map(ToString::to_string).collect(),
        }),
        _ => Ok(Checked {
            value,
            warnings: Vec::new(),
        }),
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A walk of a value along its OpenAPI v3 schema.
struct Walk<'a> {
    definitions: &'a Map<String, Value>,
}

impl<'a> Walk<'a> {
    /// The schema itself, past `$ref`s and single-entry `allOf`s.
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..32 {
            if let Some(name) = schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.rsplit('/').next())
                && let Some(target) = self.definitions.get(name)
            {
                schema = target;
            } else if let Some([only]) = schema
                .get("allOf")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                && schema.get("properties").is_none()
            {
                schema = only;
            } else {
                break;
            }
        }
        schema
    }

    /// Removes what `schema` does not declare from `value`, recording each removal.
    fn prune(&self, schema: &'a Value, value: &mut Value, path: &str, found: &mut Vec<Finding>) {
        let schema = self.resolve(schema);
        if schema
            .get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            == Some(true)
        {
            return;
        }
        match value {
            Value::Object(object) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties").filter(|a| a.is_object());
                if properties.is_none() && additional.is_none() {
                    return;
                }
                let mut unknown = Vec::new();
                for (key, item) in object.iter_mut() {
                    // Strategic merge patch directives are not fields.
                    if key.starts_with('$') {
                        continue;
                    }
                    match properties.and_then(|p| p.get(key)).or(additional) {
                        Some(inner) => self.prune(inner, item, &child(path, key), found),
                        None => {
                            found.push(Finding::Unknown(child(path, key)));
                            unknown.push(key.clone());
                        }
                    }
                }
                for key in unknown {
                    object.remove(&key);
                }
            }
            Value::Array(items) => {
                if let Some(inner) = schema.get("items") {
                    for (i, item) in items.iter_mut().enumerate() {
                        self.prune(inner, item, &format!("{path}[{i}]"), found);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The paths of keys given twice in one object of a JSON body (none if it is not JSON).
pub fn duplicate_fields(raw: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(raw);
    let walk = Keys {
        path: String::new(),
        found: &mut found,
    };
    if walk.deserialize(&mut deserializer).is_err() {
        return Vec::new();
    }
    found
}

/// A pass over JSON that keeps no values, only the path of every repeated key.
struct Keys<'a> {
    path: String,
    found: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Keys<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Keys<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = child(&self.path, &key);
            if !seen.insert(key) {
                self.found.push(path.clone());
            }
            map.next_value_seed(Keys {
                path,
                found: self.found,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(Keys {
                path: format!("{}[{index}]", self.path),
                found: self.found,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_found_by_their_path() {
        let raw = br#"{"spec": {"replicas": 1, "replicas": 2, "list": [{"a": 1, "a": 2}]}}"#;
        assert_eq!(
            duplicate_fields(raw),
            vec!["spec.replicas".to_owned(), "spec.list[0].a".to_owned()]
        );
    }

    #[test]
    fn a_body_that_is_not_json_has_no_duplicates() {
        assert!(duplicate_fields(b"a: 1\na: 2\n").is_empty());
    }
}
