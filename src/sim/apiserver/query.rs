//! List and watch queries: label selectors in apimachinery's string syntax (matched with the
//! planner's selector rules), field selectors, and the paging and resourceVersion options.
//! Parses and matches; reads no store.

use serde_json::Value;

use super::catalog::ResourceType;
use super::object::{Header, Object};
use super::rejection::Rejection;
use crate::planner::model::Labels;
use crate::planner::selector::{LabelSelector, Operator, Requirement};

/// A parsed `labelSelector` query parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelQuery(LabelSelector);

impl Default for LabelQuery {
    fn default() -> Self {
        Self(LabelSelector::everything())
    }
}

impl LabelQuery {
    /// Parses `app=web,tier!=db,zone in (a,b),!legacy,gpu`.
    pub fn parse(text: &str) -> Result<Self, Rejection> {
        let mut requirements = Vec::new();
        for term in split_top_level(text) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(term).ok_or_else(|| {
                Rejection::bad_request(format!("unable to parse requirement: {term:?}"))
            })?);
        }
        Ok(Self(LabelSelector::from_requirements(requirements)))
    }

    /// From a compiled selector (`LabelSelector::Nothing` matches nothing).
    pub fn from_selector(selector: LabelSelector) -> Self {
        Self(selector)
    }

    /// Whether an object's labels match.
    pub fn matches(&self, header: &Header) -> bool {
        match &self.0 {
            LabelSelector::Nothing => false,
            LabelSelector::Requirements(requirements) => {
                let relevant: Labels = requirements
                    .iter()
                    .filter_map(|r| header.label(&r.key).map(|v| (r.key.clone(), v.to_owned())))
                    .collect();
                self.0.matches(&relevant)
            }
        }
    }

    /// Whether it matches everything.
    pub fn is_everything(&self) -> bool {
        self.0.is_empty()
    }
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn values_in(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

fn parse_requirement(term: &str) -> Option<Requirement> {
    if let Some(key) = term.strip_prefix('!') {
        return Some(Requirement::new(key.trim(), Operator::DoesNotExist, vec![]));
    }
    if let Some((key, values)) = term.split_once(" notin ") {
        return Some(Requirement::new(
            key.trim(),
            Operator::NotIn,
            values_in(values)?,
        ));
    }
    if let Some((key, values)) = term.split_once(" in ") {
        return Some(Requirement::new(
            key.trim(),
            Operator::In,
            values_in(values)?,
        ));
    }
    for (separator, operator) in [
        ("!=", Operator::NotIn),
        ("==", Operator::In),
        ("=", Operator::In),
        (">", Operator::Gt),
        ("<", Operator::Lt),
    ] {
        if let Some((key, value)) = term.split_once(separator) {
            return Some(Requirement::new(
                key.trim(),
                operator,
                vec![value.trim().to_owned()],
            ));
        }
    }
    let key = term.trim();
    let valid = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    valid.then(|| Requirement::new(key, Operator::Exists, vec![]))
}

/// One `field=value` or `field!=value` term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldTerm {
    /// The field path, e.g. `spec.nodeName`.
    pub field: String,
    /// The value compared with.
    pub value: String,
    /// Whether the term requires inequality.
    pub negated: bool,
}

/// A parsed `fieldSelector` query parameter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldQuery {
    terms: Vec<FieldTerm>,
}

impl FieldQuery {
    /// Parses `spec.nodeName=n1,status.phase!=Failed` and checks each field is supported for
    /// the resource, as kube-apiserver does.
    pub fn parse(text: &str, resource: &ResourceType) -> Result<Self, Rejection> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, value, negated) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, v, false)
            } else {
                return Err(Rejection::bad_request(format!(
                    "invalid selector: '{text}'; can't understand '{term}'"
                )));
            };
            let field = field.trim().to_owned();
            if !supported(resource, &field) {
                return Err(Rejection::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            terms.push(FieldTerm {
                field,
                value: value.trim().to_owned(),
                negated,
            });
        }
        Ok(Self { terms })
    }

    /// Whether it has no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The same query with its fields named as the stored form names them.
    #[must_use]
    pub fn stored(&self, conversion: super::conversion::Conversion) -> Self {
        Self {
            terms: self
                .terms
                .iter()
                .map(|t| FieldTerm {
                    field: conversion.stored_field(&t.field),
                    ..t.clone()
                })
                .collect(),
        }
    }

    /// Whether an object matches every term.
    pub fn matches(&self, object: &Object) -> bool {
        let mut parsed: Option<Option<Value>> = None;
        self.terms.iter().all(|term| {
            let header = &object.header;
            let from_header = match term.field.as_str() {
                "metadata.name" => Some(header.name.to_string()),
                "metadata.namespace" => Some(header.namespace.to_string()),
                "spec.nodeName" => Some(header.node_name.as_deref().unwrap_or("").to_owned()),
                "status.phase" => Some(header.phase.as_deref().unwrap_or("").to_owned()),
                _ => None,
            };
            let actual = from_header.unwrap_or_else(|| {
                let value = parsed.get_or_insert_with(|| object.value().ok());
                let pointer = format!("/{}", term.field.replace('.', "/"));
                match value.as_ref().and_then(|v| v.pointer(&pointer)) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                }
            });
            (actual == term.value) != term.negated
        })
    }
}

fn supported(resource: &ResourceType, field: &str) -> bool {
    if matches!(field, "metadata.name" | "metadata.namespace") {
        return true;
    }
    match (resource.group.as_str(), resource.plural.as_str()) {
        ("", "pods") => matches!(
            field,
            "spec.nodeName"
                | "spec.restartPolicy"
                | "spec.schedulerName"
                | "spec.serviceAccountName"
                | "spec.hostNetwork"
                | "status.phase"
                | "status.podIP"
                | "status.nominatedNodeName"
        ),
        ("", "nodes") => field == "spec.unschedulable",
        ("", "namespaces") | ("", "persistentvolumes") | ("", "persistentvolumeclaims") => {
            field == "status.phase"
        }
        ("", "events") => {
            field.starts_with("involvedObject.")
                || matches!(field, "reason" | "type" | "source" | "reportingComponent")
        }
        ("events.k8s.io", "events") => {
            field.starts_with("regarding.")
                || matches!(field, "reason" | "type" | "reportingController")
        }
        _ => false,
    }
}

/// A `resourceVersionMatch` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionMatch {
    /// At least this resourceVersion.
    NotOlderThan,
    /// Exactly this resourceVersion.
    Exact,
}

/// The query options of a list or watch request.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// The namespace, None for all namespaces or cluster-scoped types.
    pub namespace: Option<String>,
    /// The label selector.
    pub labels: LabelQuery,
    /// The field selector.
    pub fields: FieldQuery,
    /// The page size, None for everything.
    pub limit: Option<usize>,
    /// The continue token of the previous page.
    pub continue_token: Option<String>,
    /// The `resourceVersion` parameter as given.
    pub resource_version: Option<String>,
    /// The `resourceVersionMatch` parameter.
    pub version_match: Option<VersionMatch>,
}

/// The query options of a watch.
#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    /// Selectors and the starting resourceVersion.
    pub list: ListOptions,
    /// Whether BOOKMARK events may be sent.
    pub bookmarks: bool,
    /// Close the stream after this many seconds.
    pub timeout_seconds: Option<u64>,
    /// Send the current state as ADDED events first, then an initial-events-end bookmark.
    pub send_initial_events: bool,
}

/// The query string parsed into pairs.
pub fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A query parameter's value.
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn flag(pairs: &[(String, String)], name: &str) -> bool {
    matches!(param(pairs, name), Some("true" | "1"))
}

impl ListOptions {
    /// Reads list options from query pairs.
    pub fn from_query(
        pairs: &[(String, String)],
        resource: &ResourceType,
        namespace: Option<String>,
    ) -> Result<Self, Rejection> {
        let labels = match param(pairs, "labelSelector") {
            Some(text) => LabelQuery::parse(text)?,
            None => LabelQuery::default(),
        };
        let fields = match param(pairs, "fieldSelector") {
            Some(text) => FieldQuery::parse(text, resource)?,
            None => FieldQuery::default(),
        };
        let limit = match param(pairs, "limit") {
            Some(text) => {
                let limit: i64 = text
                    .parse()
                    .map_err(|_| Rejection::bad_request(format!("invalid limit {text:?}")))?;
                usize::try_from(limit).ok().filter(|l| *l > 0)
            }
            None => None,
        };
        let version_match = match param(pairs, "resourceVersionMatch") {
            None | Some("") => None,
            Some("NotOlderThan") => Some(VersionMatch::NotOlderThan),
            Some("Exact") => Some(VersionMatch::Exact),
            Some(other) => {
                return Err(Rejection::bad_request(format!(
                    "invalid resourceVersionMatch {other:?}"
                )));
            }
        };
        Ok(Self {
            namespace,
            labels,
            fields,
            limit,
            continue_token: param(pairs, "continue")
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
            resource_version: param(pairs, "resourceVersion")
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
            version_match,
        })
    }

    /// Whether an object passes the namespace and both selectors.
    pub fn admits(&self, object: &Object) -> bool {
        if let Some(namespace) = &self.namespace
            && object.header.namespace.as_ref() != namespace.as_str()
        {
            return false;
        }
        self.labels.matches(&object.header)
            && (self.fields.is_empty() || self.fields.matches(object))
    }
}

impl WatchOptions {
    /// Reads watch options from query pairs.
    pub fn from_query(
        pairs: &[(String, String)],
        resource: &ResourceType,
        namespace: Option<String>,
    ) -> Result<Self, Rejection> {
        let list = ListOptions::from_query(pairs, resource, namespace)?;
        let send_initial_events = flag(pairs, "sendInitialEvents");
        let bookmarks = flag(pairs, "allowWatchBookmarks");
        if send_initial_events
            && (list.version_match != Some(VersionMatch::NotOlderThan) || !bookmarks)
        {
            return Err(Rejection::invalid(
                "",
                "ListOptions",
                "",
                vec![super::rejection::Cause::new(
                    "FieldValueInvalid",
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan and allowWatchBookmarks",
                    "sendInitialEvents",
                )],
            ));
        }
        Ok(Self {
            list,
            bookmarks,
            timeout_seconds: param(pairs, "timeoutSeconds").and_then(|t| t.parse().ok()),
            send_initial_events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(labels: &[(&str, &str)]) -> Header {
        let value = serde_json::json!({"metadata": {"name": "p", "labels":
            labels.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect::<serde_json::Map<_, _>>()}});
        super::super::object::header_of(super::super::catalog::ResourceId(0), &value)
    }

    #[test]
    fn label_queries_parse_every_apimachinery_operator() {
        let web = header(&[("app", "web"), ("tier", "front")]);
        let cases = [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app in (db, web)", true),
            ("app notin (web)", false),
            ("tier,app=web", true),
            ("!tier", false),
            ("!zone", true),
            ("zone", false),
            ("app in (a,b),tier=front", false),
            ("", true),
        ];
        for (text, expected) in cases {
            let query = LabelQuery::parse(text).expect(text);
            assert_eq!(query.matches(&web), expected, "{text}");
        }
    }
}
