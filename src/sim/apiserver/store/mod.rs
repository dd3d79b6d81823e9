//! The simulated cluster's storage: every object as compact JSON bytes with a parsed header,
//! one global resourceVersion counter as etcd's, and a bounded history of changes that watches
//! and in-process subscribers read from. It applies kube-apiserver's write semantics
//! (create, update, status, patch, apply, graceful delete, finalizers, eviction); it knows
//! nothing of HTTP.

mod cursor;
mod deletion;
mod pod;
mod write;

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine as _;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::catalog::{Catalog, ResourceId, ResourceType};
use super::conversion::Conversion;
use super::managed::{self, Part, Write};
use super::object::Object;
use super::patch::{PatchBody, apply_patch};
use super::query::{ListOptions, VersionMatch};
use super::shape::Schema;
use crate::clock::Clock;
use crate::sim::apiserver::rejection::{FieldCause, Rejection};
use crate::sim::prng::Prng;

pub use cursor::Cursor;

/// An admission hook: validates (and may default) an object before it is stored; its field
/// causes are answered as 422 Invalid. It must not call back into the store.
pub type Admission = Arc<dyn Fn(&Value) -> Result<Value, Vec<FieldCause>> + Send + Sync>;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

impl ChangeKind {
    /// The watch event type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, as it entered the history.
#[derive(Clone, Debug)]
pub struct Change {
    /// The resourceVersion the change was written at.
    pub resource_version: u64,
    /// The resource type.
    pub resource: ResourceId,
    /// What happened.
    pub kind: ChangeKind,
    /// The object after the change (for a deletion: its last state, at the deletion's version).
    pub object: Arc<Object>,
    /// The object before the change (None for a creation).
    pub previous: Option<Arc<Object>>,
}

/// One page of a list.
#[derive(Clone, Debug)]
pub struct Page {
    /// The objects, in key order.
    pub items: Vec<Arc<Object>>,
    /// The resourceVersion the list is consistent at.
    pub resource_version: u64,
    /// The token for the next page.
    pub continue_token: Option<String>,
}

/// Which part of an object a write addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    /// The object itself.
    Main,
    /// `/status`.
    Status,
}

/// Options of a create, update, patch or apply.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// The field manager; empty falls back to the request's user agent, then `unknown`.
    pub field_manager: Option<String>,
    /// Check everything, write nothing.
    pub dry_run: bool,
    /// Apply only: take fields other managers own.
    pub force: bool,
}

impl WriteOptions {
    /// Options with a field manager.
    pub fn manager(name: &str) -> Self {
        Self {
            field_manager: Some(name.to_owned()),
            ..Self::default()
        }
    }
}

/// Options of a delete (`metav1.DeleteOptions`).
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// `gracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
    /// `dryRun: [All]`.
    pub dry_run: bool,
    /// `propagationPolicy` (accepted; there is no garbage collector).
    pub propagation_policy: Option<String>,
}

/// Checks a delete's preconditions (uid, resourceVersion) against the stored object.
pub fn check_preconditions(
    qualified: crate::sim::apiserver::rejection::Qualified<'_>,
    object: &Object,
    options: &DeleteOptions,
) -> Result<(), Rejection> {
    let name = &object.header.name;
    if let Some(uid) = &options.uid
        && uid.as_str() != object.header.uid.as_ref()
    {
        return Err(Rejection::conflict(
            qualified,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                object.header.uid
            ),
        ));
    }
    if let Some(rv) = &options.resource_version
        && *rv != object.header.resource_version.to_string()
    {
        return Err(Rejection::conflict(
            qualified,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                object.header.resource_version
            ),
        ));
    }
    Ok(())
}

impl DeleteOptions {
    /// Reads `metav1.DeleteOptions` JSON.
    pub fn from_value(value: &Value) -> Self {
        Self {
            grace_period_seconds: value.get("gracePeriodSeconds").and_then(Value::as_i64),
            uid: value
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_owned),
            resource_version: value
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_owned),
            dry_run: value
                .get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|d| d.iter().any(|v| v == "All")),
            propagation_policy: value
                .get("propagationPolicy")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }
}

/// The outcome of a delete.
#[derive(Clone, Debug)]
pub enum Deletion {
    /// The object is gone; its last state.
    Gone(Arc<Object>),
    /// The object is terminating (grace period or finalizers); its new state.
    Terminating(Arc<Object>),
}

impl Deletion {
    /// The object either way.
    pub fn object(&self) -> &Arc<Object> {
        match self {
            Self::Gone(o) | Self::Terminating(o) => o,
        }
    }
}

/// Sizes and seeds of a store.
#[derive(Clone, Copy, Debug)]
pub struct StoreConfig {
    /// Changes kept for watches; older resourceVersions get 410 Gone.
    pub history: usize,
    /// Seed of uids and generated names.
    pub seed: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            history: 10_000,
            seed: 0x6b75_6265_2d73_7072,
        }
    }
}

type Key = (Box<str>, Box<str>);

struct State {
    resource_version: u64,
    tables: Vec<BTreeMap<Key, Arc<Object>>>,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    /// Watches from a resourceVersion below this are too old.
    oldest: u64,
    random: Prng,
}

struct Inner {
    catalog: Catalog,
    clock: Clock,
    state: RwLock<State>,
    latest: watch::Sender<u64>,
    admission: RwLock<BTreeMap<ResourceId, Admission>>,
}

/// The store: cheap to clone, shared by the HTTP layer and the in-process control plane.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("resource_version", &self.resource_version())
            .finish_non_exhaustive()
    }
}

fn key(namespace: &str, name: &str) -> Key {
    (Box::from(namespace), Box::from(name))
}

/// A metav1.Time string: RFC 3339 in whole seconds.
pub fn timestamp(at: jiff::Timestamp) -> String {
    jiff::Timestamp::from_second(at.as_second())
        .unwrap_or(at)
        .to_string()
}

fn meta_str<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value.get("metadata")?.get(field)?.as_str()
}

fn metadata_mut(value: &mut Value) -> Option<&mut Map<String, Value>> {
    let root = value.as_object_mut()?;
    let metadata = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    metadata.as_object_mut()
}

fn set_metadata(value: &mut Value, field: &str, content: Value) {
    if let Some(metadata) = metadata_mut(value) {
        metadata.insert(field.to_owned(), content);
    }
}

fn require_object(value: &Value) -> Result<(), Rejection> {
    if value.is_object() {
        Ok(())
    } else {
        Err(Rejection::bad_request(
            "the request body must be a JSON object",
        ))
    }
}

impl Store {
    /// A store with the standard catalog and `default`, `kube-system` and `kube-node-lease`
    /// namespaces.
    pub fn new(clock: Clock, config: StoreConfig) -> Self {
        let catalog = Catalog::standard();
        let tables = (0..catalog.len()).map(|_| BTreeMap::new()).collect();
        let (latest, _) = watch::channel(0);
        let store = Self {
            inner: Arc::new(Inner {
                catalog,
                clock,
                state: RwLock::new(State {
                    resource_version: 0,
                    tables,
                    history: VecDeque::new(),
                    history_limit: config.history.max(1),
                    oldest: 0,
                    random: Prng::new(config.seed),
                }),
                latest,
                admission: RwLock::new(BTreeMap::new()),
            }),
        };
        if let Some(namespaces) = store.catalog().find("", "v1", "namespaces") {
            for name in ["default", "kube-system", "kube-node-lease", "kube-public"] {
                let namespace =
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
                // A fresh store has no namespaces, so these creates cannot conflict.
                let _ = store.create(
                    namespaces,
                    "",
                    namespace,
                    &WriteOptions::manager("kube-apiserver"),
                );
            }
        }
        store
    }

    /// The resource types served.
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// The clock every timestamp comes from.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// `now` as a metav1.Time string.
    pub fn now(&self) -> String {
        timestamp(self.inner.clock.now())
    }

    /// The latest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.read().resource_version
    }

    /// The oldest resourceVersion a watch may start from.
    pub fn oldest_resource_version(&self) -> u64 {
        self.read().oldest
    }

    /// Installs (or replaces) the admission hook of a resource type.
    pub fn set_admission(&self, resource: ResourceId, hook: Admission) {
        self.inner
            .admission
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(resource, hook);
    }

    /// Forgets all history: every watch from an earlier resourceVersion gets 410 Gone.
    pub fn compact(&self) {
        let mut state = self.write();
        state.history.clear();
        state.oldest = state.resource_version;
    }

    /// Changes the number of changes kept.
    pub fn set_history_limit(&self, limit: usize) {
        let mut state = self.write();
        state.history_limit = limit.max(1);
        trim_history(&mut state);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn resource(&self, id: ResourceId) -> Result<&ResourceType, Rejection> {
        self.inner
            .catalog
            .get(id)
            .ok_or_else(|| Rejection::internal("unknown resource type"))
    }

    /// Runs a resource's admission hook on an object, which (as in kube-apiserver) already
    /// carries the namespace of the request path.
    fn admit(
        &self,
        id: ResourceId,
        resource: &ResourceType,
        namespace: &str,
        mut object: Value,
    ) -> Result<Value, Rejection> {
        if resource.namespaced
            && !namespace.is_empty()
            && let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut)
        {
            metadata
                .entry("namespace")
                .or_insert_with(|| Value::String(namespace.to_owned()));
        }
        let hook = self
            .inner
            .admission
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned();
        match hook {
            None => Ok(object),
            Some(hook) => hook(&object).map_err(|causes| {
                let name = meta_str(&object, "name").unwrap_or_default();
                Rejection::invalid(&resource.group, &resource.kind, name, causes)
            }),
        }
    }

    /// One object.
    pub fn get(
        &self,
        id: ResourceId,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Object>, Rejection> {
        if let (stored, Some(conversion)) = self.catalog().storage_of(id) {
            let object = self.get(stored, namespace, name)?;
            return present(id, conversion, &object);
        }
        let resource = self.resource(id)?;
        let namespace = if resource.namespaced { namespace } else { "" };
        self.read()
            .tables
            .get(id.0)
            .and_then(|t| t.get(&key(namespace, name)))
            .cloned()
            .ok_or_else(|| Rejection::not_found(resource.qualified(), name))
    }

    /// One page of a list, with kube-apiserver's resourceVersion and continue semantics.
    pub fn list(&self, id: ResourceId, options: &ListOptions) -> Result<Page, Rejection> {
        if let (stored, Some(conversion)) = self.catalog().storage_of(id) {
            let stored_options = ListOptions {
                fields: options.fields.stored(conversion),
                ..options.clone()
            };
            let mut page = self.list(stored, &stored_options)?;
            page.items = page
                .items
                .iter()
                .map(|o| present(id, conversion, o))
                .collect::<Result<_, _>>()?;
            return Ok(page);
        }
        let resource = self.resource(id)?;
        let state = self.read();
        let (at, after) = match &options.continue_token {
            Some(token) => {
                let (rv, start) = decode_continue(token)?;
                if rv < state.oldest {
                    return Err(Rejection::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                    ));
                }
                (rv, Some(start))
            }
            None => match (&options.resource_version, options.version_match) {
                (Some(rv), Some(VersionMatch::Exact)) => {
                    let rv: u64 = rv.parse().map_err(|_| {
                        Rejection::bad_request(format!("invalid resourceVersion {rv:?}"))
                    })?;
                    if rv < state.oldest {
                        return Err(Rejection::too_old(rv, state.oldest));
                    }
                    (rv.min(state.resource_version), None)
                }
                _ => (state.resource_version, None),
            },
        };
        let Some(table) = state.tables.get(id.0) else {
            return Err(Rejection::internal("unknown resource type"));
        };
        // Objects changed after `at` are shown as they were at `at`.
        let mut past: BTreeMap<Key, Option<Arc<Object>>> = BTreeMap::new();
        if at < state.resource_version {
            let start = state.history.partition_point(|c| c.resource_version <= at);
            for change in state.history.range(start..) {
                if change.resource != id {
                    continue;
                }
                let (ns, name) = change.object.key();
                past.entry(key(ns, name))
                    .or_insert_with(|| change.previous.clone());
            }
        }
        let namespace = options.namespace.as_deref().filter(|_| resource.namespaced);
        let lower: Bound<Key> = match (&after, namespace) {
            (Some(start), _) => Bound::Excluded(start.clone()),
            (None, Some(ns)) => Bound::Included(key(ns, "")),
            (None, None) => Bound::Unbounded,
        };
        let current = table
            .range((lower.clone(), Bound::Unbounded))
            .filter(|(k, _)| !past.contains_key(*k));
        let historic = past
            .range((lower, Bound::Unbounded))
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)));
        let limit = options.limit.unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut last: Option<&Key> = None;
        let mut more = false;
        for (k, object) in merge_sorted(current, historic) {
            if let Some(ns) = namespace
                && k.0.as_ref() != ns
            {
                break;
            }
            if !options.admits(object) {
                continue;
            }
            if items.len() >= limit {
                more = true;
                break;
            }
            last = Some(k);
            items.push(object.clone());
        }
        let continue_token = if more {
            last.map(|k| encode_continue(at, k))
        } else {
            None
        };
        Ok(Page {
            items,
            resource_version: at,
            continue_token,
        })
    }

    /// Every object of a type, in key order (no selectors, no paging).
    pub fn all(&self, id: ResourceId) -> Vec<Arc<Object>> {
        self.read()
            .tables
            .get(id.0)
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The number of objects of a type.
    pub fn count(&self, id: ResourceId) -> usize {
        self.read().tables.get(id.0).map_or(0, BTreeMap::len)
    }

    /// Runs `f` with exclusive access to the store, for multi-object decisions (eviction).
    pub(super) fn with_state<T>(&self, f: impl FnOnce(&mut Transaction<'_>) -> T) -> T {
        let mut state = self.write();
        let mut transaction = Transaction {
            store: self,
            state: &mut state,
        };
        f(&mut transaction)
    }
}

/// Exclusive access to the store for a decision spanning objects.
pub(super) struct Transaction<'a> {
    store: &'a Store,
    state: &'a mut State,
}

impl Transaction<'_> {
    /// One object, if present.
    pub(super) fn find(&self, id: ResourceId, namespace: &str, name: &str) -> Option<Arc<Object>> {
        self.state
            .tables
            .get(id.0)
            .and_then(|t| t.get(&key(namespace, name)))
            .cloned()
    }

    /// Every object of a type in a namespace.
    pub(super) fn in_namespace(&self, id: ResourceId, namespace: &str) -> Vec<Arc<Object>> {
        self.state
            .tables
            .get(id.0)
            .map(|t| {
                t.range(key(namespace, "")..)
                    .take_while(|(k, _)| k.0.as_ref() == namespace)
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Stores a new state of an existing object (no ownership recording, no admission).
    pub(super) fn replace(
        &mut self,
        id: ResourceId,
        old: Arc<Object>,
        new: Value,
        dry_run: bool,
    ) -> Result<Arc<Object>, Rejection> {
        let resource = self.store.resource(id)?.clone();
        let old_value = old.value()?;
        self.store
            .finish(self.state, id, &resource, old, &old_value, new, dry_run)
    }

    /// Deletes an object with options.
    pub(super) fn delete(
        &mut self,
        id: ResourceId,
        old: Arc<Object>,
        options: &DeleteOptions,
    ) -> Result<Deletion, Rejection> {
        let resource = self.store.resource(id)?.clone();
        self.store
            .delete_locked(self.state, id, &resource, old, options)
    }

    /// The store's clock.
    pub(super) fn now(&self) -> String {
        self.store.now()
    }
}

/// A stored object as the API `id` serves it.
pub fn present(
    id: ResourceId,
    conversion: Conversion,
    object: &Arc<Object>,
) -> Result<Arc<Object>, Rejection> {
    let shown = conversion.from_storage(object.value()?);
    Ok(Arc::new(Object::from_value(id, &shown)?))
}

fn trim_history(state: &mut State) {
    while state.history.len() > state.history_limit {
        if let Some(dropped) = state.history.pop_front() {
            state.oldest = dropped.resource_version;
        }
    }
}

fn merge_sorted<'a>(
    a: impl Iterator<Item = (&'a Key, &'a Arc<Object>)>,
    b: impl Iterator<Item = (&'a Key, &'a Arc<Object>)>,
) -> impl Iterator<Item = (&'a Key, &'a Arc<Object>)> {
    let mut a = a.peekable();
    let mut b = b.peekable();
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some((ka, _)), Some((kb, _))) => {
            if ka <= kb {
                a.next()
            } else {
                b.next()
            }
        }
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
    })
}

fn encode_continue(rv: u64, last: &Key) -> String {
    let token =
        json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{}/{}\u{0}", last.0, last.1)});
    base64::engine::general_purpose::STANDARD.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(u64, Key), Rejection> {
    let invalid = || Rejection::bad_request("continue key is not valid: illegal base64 data");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let rv = value
        .get("rv")
        .and_then(Value::as_u64)
        .ok_or_else(invalid)?;
    let start = value
        .get("start")
        .and_then(Value::as_str)
        .ok_or_else(invalid)?
        .trim_end_matches('\u{0}');
    let (ns, name) = start.split_once('/').ok_or_else(invalid)?;
    Ok((rv, key(ns, name)))
}
