//! Field ownership as kube-apiserver's field manager keeps it in `metadata.managedFields`:
//! fieldsV1 sets per manager and operation, server-side apply (merge by list-map keys, removal
//! of fields a manager stopped applying, conflicts unless forced), and ownership of what
//! updates and patches change. Pure functions on JSON values.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::rejection::{Cause, Rejection};
use super::shape::{Schema, Shape};

/// A set of field paths, in the tree form fieldsV1 serializes (`f:name`, `k:{...}`, `v:...`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    member: bool,
    children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    /// Reads a fieldsV1 object.
    pub fn from_fields_v1(value: &Value) -> Self {
        let mut set = Self::default();
        if let Value::Object(map) = value {
            if map.is_empty() {
                set.member = true;
            }
            for (key, child) in map {
                if key == "." {
                    set.member = true;
                } else {
                    set.children
                        .insert(key.clone(), Self::from_fields_v1(child));
                }
            }
        }
        set
    }

    /// The fieldsV1 object.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".to_owned(), json!({}));
        }
        for (key, child) in &self.children {
            map.insert(key.clone(), child.to_fields_v1());
        }
        Value::Object(map)
    }

    /// Whether no path is a member.
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(Self::is_empty)
    }

    fn child(&mut self, key: String) -> &mut Self {
        self.children.entry(key).or_default()
    }

    /// Whether `path` (of fieldsV1 keys) is a member.
    pub fn contains(&self, path: &[&str]) -> bool {
        match path.split_first() {
            None => self.member,
            Some((head, rest)) => self.children.get(*head).is_some_and(|c| c.contains(rest)),
        }
    }

    fn union_with(&mut self, other: &Self) {
        self.member |= other.member;
        for (key, child) in &other.children {
            self.child(key.clone()).union_with(child);
        }
    }

    fn difference(&self, other: &Self) -> Self {
        let mut result = Self {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (key, child) in &self.children {
            let rest = match other.children.get(key) {
                Some(o) => child.difference(o),
                None => child.clone(),
            };
            if !rest.is_empty() {
                result.children.insert(key.clone(), rest);
            }
        }
        result
    }

    fn intersection(&self, other: &Self) -> Self {
        let mut result = Self {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (key, child) in &self.children {
            if let Some(o) = other.children.get(key) {
                let both = child.intersection(o);
                if !both.is_empty() {
                    result.children.insert(key.clone(), both);
                }
            }
        }
        result
    }

    /// Removes every member of `removed` together with everything beneath it.
    fn remove_subtrees(&mut self, removed: &Self) {
        for (key, gone) in &removed.children {
            if gone.member {
                self.children.remove(key);
            } else if let Some(child) = self.children.get_mut(key) {
                child.remove_subtrees(gone);
                if child.is_empty() {
                    self.children.remove(key);
                }
            }
        }
    }

    /// Every member path.
    fn members(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.member && !prefix.is_empty() {
            out.push(prefix.clone());
        }
        for (key, child) in &self.children {
            prefix.push(key.clone());
            child.members(prefix, out);
            prefix.pop();
        }
    }

    fn without(mut self, keys: &[&str]) -> Self {
        for key in keys {
            self.children.remove(*key);
        }
        self
    }
}

/// Which part of an object a write addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The whole object (no status subresource).
    Whole,
    /// The main resource of a type with a status subresource: everything but status.
    Main,
    /// The status subresource: status only.
    Status,
}

impl Part {
    fn subresource(self) -> Option<&'static str> {
        match self {
            Self::Status => Some("status"),
            _ => None,
        }
    }
}

/// The fields kube-apiserver never tracks.
fn strip(set: FieldSet, part: Part) -> FieldSet {
    let mut set = set.without(&["f:apiVersion", "f:kind"]);
    if let Some(metadata) = set.children.get_mut("f:metadata") {
        let cleaned = std::mem::take(metadata).without(&[
            "f:name",
            "f:namespace",
            "f:creationTimestamp",
            "f:selfLink",
            "f:uid",
            "f:generation",
            "f:managedFields",
            "f:resourceVersion",
            "f:deletionTimestamp",
            "f:deletionGracePeriodSeconds",
        ]);
        *metadata = FieldSet {
            member: false,
            ..cleaned
        };
        if metadata.is_empty() {
            set.children.remove("f:metadata");
        }
    }
    set.member = false;
    match part {
        Part::Whole => set,
        Part::Main => set.without(&["f:status"]),
        Part::Status => {
            let status = set.children.remove("f:status");
            let mut only = FieldSet::default();
            if let Some(status) = status {
                only.children.insert("f:status".to_owned(), status);
            }
            only
        }
    }
}

/// The fieldsV1 key of a list item.
fn item_key(shape: &Shape, item: &Value) -> String {
    match shape {
        Shape::ListMap(keys) => {
            let mut key = Map::new();
            for name in keys {
                if let Some(v) = item.get(*name) {
                    key.insert((*name).to_owned(), v.clone());
                }
            }
            format!("k:{}", Value::Object(key))
        }
        _ => format!("v:{item}"),
    }
}

/// The paths a value sets (server-side apply's `ToFieldSet`).
fn set_of(schema: &Schema<'_>, value: &Value, names: &mut Vec<String>, out: &mut FieldSet) {
    let Value::Object(map) = value else {
        out.member = true;
        return;
    };
    if map.is_empty() {
        out.member = true;
    }
    for (key, child) in map {
        if child.is_null() {
            continue;
        }
        names.push(key.clone());
        let node = out.child(format!("f:{key}"));
        set_of_field(schema, child, names, node);
        names.pop();
    }
}

fn set_of_field(schema: &Schema<'_>, value: &Value, names: &mut Vec<String>, node: &mut FieldSet) {
    fields_of(schema, value, names, node, false);
}

/// The paths a value sets; `added` also marks each non-empty map (as a Compare of an added
/// subtree does), except those Go always serializes.
fn fields_of(
    schema: &Schema<'_>,
    value: &Value,
    names: &mut Vec<String>,
    node: &mut FieldSet,
    added: bool,
) {
    let shape = schema.shape(names, value);
    match (&shape, value) {
        (Shape::Granular, Value::Object(map)) if added => {
            if !always_present(names) {
                node.member = true;
            }
            if map.is_empty() {
                node.member = true;
            }
            for (key, child) in map {
                if child.is_null() {
                    continue;
                }
                names.push(key.clone());
                fields_of(schema, child, names, node.child(format!("f:{key}")), true);
                names.pop();
            }
        }
        (Shape::Granular, _) => set_of(schema, value, names, node),
        (Shape::ListMap(_) | Shape::ListSet, Value::Array(items)) if !items.is_empty() => {
            if added {
                node.member = true;
            }
            for item in items {
                let item_node = node.child(item_key(&shape, item));
                item_node.member = true;
                if matches!(shape, Shape::ListMap(_)) {
                    item_fields(schema, item, names, item_node, added);
                }
            }
        }
        _ => node.member = true,
    }
}

/// The fields of one list-map item.
fn item_fields(
    schema: &Schema<'_>,
    item: &Value,
    names: &mut Vec<String>,
    node: &mut FieldSet,
    added: bool,
) {
    let Value::Object(fields) = item else { return };
    for (key, child) in fields {
        if child.is_null() {
            continue;
        }
        names.push(key.clone());
        fields_of(schema, child, names, node.child(format!("f:{key}")), added);
        names.pop();
    }
}

/// What changed between two values: paths added, modified (leaf or atomic values) and removed.
#[derive(Debug, Default)]
struct Comparison {
    added: FieldSet,
    modified: FieldSet,
    removed: FieldSet,
}

/// Maps whose own path is never marked added: those Go always serializes.
fn always_present(names: &[String]) -> bool {
    match names {
        [] | [_] => true,
        [spec, template] => spec == "spec" && template == "template",
        [spec, template, part] => {
            spec == "spec" && template == "template" && (part == "metadata" || part == "spec")
        }
        _ => false,
    }
}

/// Walks two objects side by side, collecting what changed.
struct Comparer<'a> {
    schema: &'a Schema<'a>,
    part: Part,
    names: Vec<String>,
    path: Vec<String>,
    out: Comparison,
}

/// Compares two objects within the part a write addresses, ignoring managedFields.
fn compare(schema: &Schema<'_>, old: &Value, new: &Value, part: Part) -> Comparison {
    let mut comparer = Comparer {
        schema,
        part,
        names: Vec::new(),
        path: Vec::new(),
        out: Comparison::default(),
    };
    comparer.values(Some(old), Some(new));
    comparer.out
}

fn node_at<'a>(set: &'a mut FieldSet, path: &[String]) -> &'a mut FieldSet {
    let mut node = set;
    for key in path {
        node = node.child(key.clone());
    }
    node
}

impl Comparer<'_> {
    fn skipped(&self, key: &str) -> bool {
        match self.names.as_slice() {
            [] => match self.part {
                Part::Whole => false,
                Part::Main => key == "status",
                Part::Status => key != "status",
            },
            [metadata] => metadata == "metadata" && key == "managedFields",
            _ => false,
        }
    }

    fn maps(&mut self, old: &Map<String, Value>, new: &Map<String, Value>) {
        let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            if self.skipped(key) {
                continue;
            }
            let o = old.get(key).filter(|v| !v.is_null());
            let n = new.get(key).filter(|v| !v.is_null());
            self.path.push(format!("f:{key}"));
            self.names.push(key.clone());
            self.values(o, n);
            self.names.pop();
            self.path.pop();
        }
    }

    fn values(&mut self, old: Option<&Value>, new: Option<&Value>) {
        let schema = self.schema;
        match (old, new) {
            (None, None) => {}
            (Some(_), None) => node_at(&mut self.out.removed, &self.path).member = true,
            (None, Some(n)) => {
                let node = node_at(&mut self.out.added, &self.path);
                fields_of(schema, n, &mut self.names, node, true);
                if !n.is_object() {
                    node.member = true;
                }
            }
            (Some(o), Some(n)) => {
                let shape = schema.shape(&self.names, n);
                match (&shape, o, n) {
                    (Shape::Granular, Value::Object(om), Value::Object(nm)) => self.maps(om, nm),
                    (Shape::ListMap(_) | Shape::ListSet, Value::Array(oi), Value::Array(ni))
                        if shape == schema.shape(&self.names, o) =>
                    {
                        self.lists(&shape, oi, ni);
                    }
                    _ => {
                        if o != n {
                            node_at(&mut self.out.modified, &self.path).member = true;
                        }
                    }
                }
            }
        }
    }

    fn lists(&mut self, shape: &Shape, old: &[Value], new: &[Value]) {
        let index = |items: &'_ [Value]| -> Vec<(String, usize)> {
            let mut keyed: Vec<(String, usize)> = items
                .iter()
                .enumerate()
                .map(|(i, item)| (item_key(shape, item), i))
                .collect();
            keyed.sort();
            keyed
        };
        let (old_keys, new_keys) = (index(old), index(new));
        let find = |keys: &[(String, usize)], key: &str| {
            keys.binary_search_by(|(k, _)| k.as_str().cmp(key))
                .ok()
                .and_then(|i| keys.get(i))
                .map(|(_, i)| *i)
        };
        let mut keys: Vec<&String> = old_keys
            .iter()
            .chain(new_keys.iter())
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let o = find(&old_keys, key).and_then(|i| old.get(i));
            let n = find(&new_keys, key).and_then(|i| new.get(i));
            self.path.push(key.clone());
            match (o, n) {
                (Some(_), None) => node_at(&mut self.out.removed, &self.path).member = true,
                (None, Some(item)) => {
                    let node = node_at(&mut self.out.added, &self.path);
                    node.member = true;
                    if matches!(shape, Shape::ListMap(_)) {
                        item_fields(self.schema, item, &mut self.names, node, true);
                    }
                }
                (Some(Value::Object(a)), Some(Value::Object(b))) => self.maps(a, b),
                _ => {}
            }
            self.path.pop();
        }
    }
}

/// Merges an applied configuration into the live object (lists by their keys).
fn merge_applied(schema: &Schema<'_>, live: &mut Value, config: &Value, names: &mut Vec<String>) {
    let Value::Object(config) = config else {
        *live = config.clone();
        return;
    };
    if !live.is_object() {
        *live = Value::Object(Map::new());
    }
    let Value::Object(object) = live else {
        return;
    };
    for (key, value) in config {
        if value.is_null() {
            object.remove(key);
            continue;
        }
        names.push(key.clone());
        let shape = schema.shape(names, value);
        match (&shape, value) {
            (Shape::Granular, Value::Object(_)) => {
                let slot = object.entry(key.clone()).or_insert(Value::Null);
                merge_applied(schema, slot, value, names);
            }
            (Shape::ListMap(_) | Shape::ListSet, Value::Array(items)) => {
                let slot = object
                    .entry(key.clone())
                    .or_insert(Value::Array(Vec::new()));
                if !slot.is_array() {
                    *slot = Value::Array(Vec::new());
                }
                if let Value::Array(list) = slot {
                    for item in items {
                        let key = item_key(&shape, item);
                        match list.iter_mut().find(|e| item_key(&shape, e) == key) {
                            Some(existing) if matches!(shape, Shape::ListMap(_)) => {
                                merge_applied(schema, existing, item, names);
                            }
                            Some(_) => {}
                            None => list.push(item.clone()),
                        }
                    }
                }
            }
            _ => {
                object.insert(key.clone(), value.clone());
            }
        }
        names.pop();
    }
}

/// Removes the members of `removal` from the object, keeping what `kept` still owns beneath.
fn remove_fields(value: &mut Value, removal: &FieldSet, kept: Option<&FieldSet>) {
    for (key, gone) in &removal.children {
        let kept_child = kept.and_then(|k| k.children.get(key));
        let owned_beneath = kept_child.is_some_and(|k| !k.is_empty());
        if let Some(field) = key.strip_prefix("f:") {
            let Value::Object(map) = value else { continue };
            if gone.member && !owned_beneath {
                map.remove(field);
            } else if let Some(child) = map.get_mut(field) {
                remove_fields(child, gone, kept_child);
            }
        } else if let Value::Array(items) = value {
            let position = items.iter().position(|item| key_matches(key, item));
            if let Some(position) = position {
                if gone.member && !owned_beneath {
                    items.remove(position);
                } else if let Some(item) = items.get_mut(position) {
                    remove_fields(item, gone, kept_child);
                }
            }
        }
    }
}

fn key_matches(key: &str, item: &Value) -> bool {
    if let Some(json) = key.strip_prefix("k:") {
        let Ok(Value::Object(wanted)) = serde_json::from_str::<Value>(json) else {
            return false;
        };
        wanted.iter().all(|(k, v)| item.get(k) == Some(v))
    } else if let Some(json) = key.strip_prefix("v:") {
        serde_json::from_str::<Value>(json).is_ok_and(|v| &v == item)
    } else {
        false
    }
}

/// One managedFields entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The field manager.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// The apiVersion the manager used.
    pub api_version: String,
    /// When its fields last changed.
    pub time: Option<String>,
    /// `status` for writes to the status subresource.
    pub subresource: Option<String>,
    /// The fields it owns.
    pub fields: FieldSet,
}

impl Entry {
    fn is(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }

    /// How conflict messages name the manager.
    fn printed(&self) -> String {
        if self.operation == "Update" {
            format!("{:?} using {}", self.manager, self.api_version)
        } else {
            format!("{:?}", self.manager)
        }
    }

    fn to_value(&self) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_fields_v1(),
        });
        if let Some(time) = &self.time {
            entry["time"] = json!(time);
        }
        if let Some(sub) = &self.subresource {
            entry["subresource"] = json!(sub);
        }
        entry
    }
}

/// The managedFields of an object.
pub fn entries_of(object: &Value) -> Vec<Entry> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|e| Entry {
                    manager: text(e, "manager"),
                    operation: text(e, "operation"),
                    api_version: text(e, "apiVersion"),
                    time: e.get("time").and_then(Value::as_str).map(str::to_owned),
                    subresource: e
                        .get("subresource")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                    fields: e
                        .get("fieldsV1")
                        .map(FieldSet::from_fields_v1)
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn without_managed_fields(object: &Value) -> Value {
    let mut clean = object.clone();
    if let Some(Value::Object(metadata)) = clean.get_mut("metadata") {
        metadata.remove("managedFields");
    }
    clean
}

fn write_entries(object: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(Entry::to_value)
        .collect();
    if let Value::Object(root) = object {
        let metadata = root
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(metadata) = metadata {
            if list.is_empty() {
                metadata.remove("managedFields");
            } else {
                metadata.insert("managedFields".to_owned(), Value::Array(list));
            }
        }
    }
}

/// The common context of an ownership-recording write.
#[derive(Clone, Copy, Debug)]
pub struct Write<'a> {
    /// The field shapes of the resource.
    pub schema: Schema<'a>,
    /// The field manager.
    pub manager: &'a str,
    /// The apiVersion of the request.
    pub api_version: &'a str,
    /// Which part of the object the write addresses.
    pub part: Part,
    /// The time to stamp on entries whose fields changed.
    pub now: &'a str,
}

fn path_string(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(field) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(field);
        } else if let Some(json) = element.strip_prefix("k:") {
            let pairs = match serde_json::from_str::<Value>(json) {
                Ok(Value::Object(map)) => map
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
                _ => json.to_owned(),
            };
            out.push_str(&format!("[{pairs}]"));
        } else if let Some(value) = element.strip_prefix("v:") {
            out.push_str(&format!("[={value}]"));
        } else if let Some(index) = element.strip_prefix("i:") {
            out.push_str(&format!("[{index}]"));
        }
    }
    out
}

/// Server-side apply: the live object (None when the apply creates it) with the configuration
/// merged in, fields the manager no longer applies removed, and ownership updated. Refuses
/// with kube-apiserver's 409 when another manager owns a field the apply would change,
/// unless `force`.
pub fn apply(
    write: &Write<'_>,
    live: Option<&Value>,
    config: &Value,
    force: bool,
) -> Result<Value, Rejection> {
    let schema = write.schema;
    let live_clean = live
        .map(without_managed_fields)
        .unwrap_or_else(|| json!({}));
    let mut entries = live.map(entries_of).unwrap_or_default();
    let sub = write.part.subresource();

    let mut config_set = FieldSet::default();
    let config_scoped = scoped(config, write.part);
    set_of(&schema, &config_scoped, &mut Vec::new(), &mut config_set);
    let config_set = strip(config_set, write.part);

    let mut merged = live_clean.clone();
    merge_applied(&schema, &mut merged, &config_scoped, &mut Vec::new());

    let own = entries
        .iter()
        .position(|e| e.is(write.manager, "Apply", sub));
    let last_set = own
        .and_then(|i| entries.get(i))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut kept = config_set.clone();
    for (i, entry) in entries.iter().enumerate() {
        if Some(i) != own {
            kept.union_with(&entry.fields);
        }
    }
    let removal = last_set.difference(&kept);
    remove_fields(&mut merged, &removal, Some(&kept));

    let comparison = compare(&schema, &live_clean, &merged, write.part);
    let mut changed = comparison.added.clone();
    changed.union_with(&comparison.modified);

    let mut conflicts: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        if Some(i) == own {
            continue;
        }
        let mut paths = Vec::new();
        entry
            .fields
            .intersection(&changed)
            .members(&mut Vec::new(), &mut paths);
        conflicts.extend(paths.into_iter().map(|p| (i, p)));
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_rejection(&entries, &conflicts));
    }
    for (i, entry) in entries.iter_mut().enumerate() {
        if Some(i) == own {
            continue;
        }
        entry.fields = entry.fields.difference(&changed);
        entry.fields.remove_subtrees(&comparison.removed);
    }
    match own.and_then(|i| entries.get_mut(i)) {
        Some(entry) => {
            if entry.fields != config_set {
                entry.time = Some(write.now.to_owned());
            }
            entry.fields = config_set;
            entry.api_version = write.api_version.to_owned();
        }
        None => entries.push(Entry {
            manager: write.manager.to_owned(),
            operation: "Apply".to_owned(),
            api_version: write.api_version.to_owned(),
            time: Some(write.now.to_owned()),
            subresource: sub.map(str::to_owned),
            fields: config_set,
        }),
    }
    write_entries(&mut merged, &entries);
    Ok(merged)
}

/// The part of a configuration a write may set.
fn scoped(config: &Value, part: Part) -> Value {
    let mut scoped = config.clone();
    if let Value::Object(map) = &mut scoped {
        match part {
            Part::Whole => {}
            Part::Main => {
                map.remove("status");
            }
            Part::Status => map
                .retain(|k, _| matches!(k.as_str(), "status" | "apiVersion" | "kind" | "metadata")),
        }
    }
    scoped
}

fn conflict_rejection(entries: &[Entry], conflicts: &[(usize, Vec<String>)]) -> Rejection {
    let causes: Vec<Cause> = conflicts
        .iter()
        .filter_map(|(i, path)| {
            entries.get(*i).map(|e| {
                Cause::new(
                    "FieldManagerConflict",
                    format!("conflict with {}", e.printed()),
                    path_string(path),
                )
            })
        })
        .collect();
    let message = match causes.as_slice() {
        [one] => format!(
            "Apply failed with 1 conflict: {}: {}",
            one.message, one.field
        ),
        many => {
            let mut by_manager: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (i, path) in conflicts {
                if let Some(e) = entries.get(*i) {
                    by_manager
                        .entry(e.printed())
                        .or_default()
                        .push(path_string(path));
                }
            }
            let mut lines = Vec::new();
            for (manager, paths) in by_manager {
                lines.push(format!("conflicts with {manager}:"));
                lines.extend(paths.into_iter().map(|p| format!("- {p}")));
            }
            format!(
                "Apply failed with {} conflicts: {}",
                many.len(),
                lines.join("\n")
            )
        }
    };
    Rejection::apply_conflict(message, causes)
}

/// Records the ownership an update or a non-apply patch takes: the manager owns what it
/// added or changed (taken from others), and removed fields leave every manager's set.
/// `new` is the object as it will be stored; its managedFields are rewritten.
pub fn record_update(write: &Write<'_>, old: Option<&Value>, new: &mut Value) {
    let schema = write.schema;
    let sub = write.part.subresource();
    let mut entries = match new.pointer("/metadata/managedFields") {
        Some(_) => entries_of(new),
        None => old.map(entries_of).unwrap_or_default(),
    };
    let empty = json!({});
    let comparison = compare(&schema, old.unwrap_or(&empty), new, write.part);
    let mut changed = strip(comparison.added, write.part);
    changed.union_with(&strip(comparison.modified, write.part));
    let removed = comparison.removed;
    let own = entries
        .iter()
        .position(|e| e.is(write.manager, "Update", sub));
    for (i, entry) in entries.iter_mut().enumerate() {
        if Some(i) == own {
            continue;
        }
        entry.fields = entry.fields.difference(&changed);
        entry.fields.remove_subtrees(&removed);
    }
    match own.and_then(|i| entries.get_mut(i)) {
        Some(entry) => {
            let mut fields = entry.fields.clone();
            fields.remove_subtrees(&removed);
            fields.union_with(&changed);
            if fields != entry.fields {
                entry.time = Some(write.now.to_owned());
            }
            entry.fields = fields;
        }
        None if !changed.is_empty() => entries.push(Entry {
            manager: write.manager.to_owned(),
            operation: "Update".to_owned(),
            api_version: write.api_version.to_owned(),
            time: Some(write.now.to_owned()),
            subresource: sub.map(str::to_owned),
            fields: changed,
        }),
        None => {}
    }
    write_entries(new, &entries);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::apiserver::catalog::Catalog;

    fn deployments() -> crate::sim::apiserver::catalog::ResourceType {
        let catalog = Catalog::standard();
        let id = catalog
            .find("apps", "v1", "deployments")
            .expect("deployments");
        catalog.get(id).expect("type").clone()
    }

    fn write<'a>(
        resource: &'a crate::sim::apiserver::catalog::ResourceType,
        manager: &'a str,
    ) -> Write<'a> {
        Write {
            schema: Schema::of(resource),
            manager,
            api_version: "apps/v1",
            part: Part::Main,
            now: "2025-10-20T08:00:00Z",
        }
    }

    fn tsc(key: &str, when: &str, skew: i64) -> Value {
        json!({"topologyKey": key, "whenUnsatisfiable": when, "maxSkew": skew})
    }

    fn with_tscs(items: Vec<Value>) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"template": {"spec": {"topologySpreadConstraints": items}}}})
    }

    #[test]
    fn fields_v1_round_trips_members_and_their_children() {
        let v = json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:replicas": {}}});
        assert_eq!(FieldSet::from_fields_v1(&v).to_fields_v1(), v);
    }

    #[test]
    fn applies_of_two_managers_keep_each_others_list_map_entries() {
        let resource = deployments();
        let first = apply(
            &write(&resource, "a"),
            None,
            &with_tscs(vec![tsc("zone", "ScheduleAnyway", 1)]),
            false,
        )
        .expect("first");
        let second = apply(
            &write(&resource, "b"),
            Some(&first),
            &with_tscs(vec![tsc("host", "ScheduleAnyway", 1)]),
            false,
        )
        .expect("second");
        let list = second
            .pointer("/spec/template/spec/topologySpreadConstraints")
            .expect("list");
        assert_eq!(list.as_array().map(Vec::len), Some(2));
        // a drops its entry: only its entry goes.
        let third = apply(
            &write(&resource, "a"),
            Some(&second),
            &with_tscs(vec![]),
            false,
        )
        .expect("third");
        let list = third
            .pointer("/spec/template/spec/topologySpreadConstraints")
            .expect("list");
        assert_eq!(list, &json!([tsc("host", "ScheduleAnyway", 1)]));
    }

    #[test]
    fn a_changed_value_owned_by_another_manager_conflicts_unless_forced() {
        let resource = deployments();
        let first = apply(
            &write(&resource, "a"),
            None,
            &with_tscs(vec![tsc("zone", "ScheduleAnyway", 1)]),
            false,
        )
        .expect("first");
        let error = apply(
            &write(&resource, "b"),
            Some(&first),
            &with_tscs(vec![tsc("zone", "ScheduleAnyway", 2)]),
            false,
        )
        .expect_err("conflict");
        assert_eq!(error.code, 409);
        assert_eq!(
            error.message,
            "Apply failed with 1 conflict: conflict with \"a\": .spec.template.spec.topologySpreadConstraints[topologyKey=\"zone\",whenUnsatisfiable=\"ScheduleAnyway\"].maxSkew"
        );
        // The same value is shared, not a conflict.
        assert!(
            apply(
                &write(&resource, "b"),
                Some(&first),
                &with_tscs(vec![tsc("zone", "ScheduleAnyway", 1)]),
                false
            )
            .is_ok()
        );
        let forced = apply(
            &write(&resource, "b"),
            Some(&first),
            &with_tscs(vec![tsc("zone", "ScheduleAnyway", 2)]),
            true,
        )
        .expect("forced");
        let entries = entries_of(&forced);
        let a = entries
            .iter()
            .find(|e| e.manager == "a")
            .expect("a keeps the rest");
        assert!(!a.fields.to_fields_v1().to_string().contains("maxSkew"));
    }
}
