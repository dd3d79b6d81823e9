//! The simulated cluster's storage: every object as compact JSON bytes with a parsed header,
//! one global resourceVersion counter as etcd's, and a bounded history of changes that watches
//! and in-process subscribers read from. It applies kube-apiserver's write semantics
//! (create, update, status, patch, apply, graceful delete, finalizers, eviction); it knows
//! nothing of HTTP.

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
use super::prng::Prng;
use super::query::{ListOptions, VersionMatch};
use super::rejection::{FieldCause, Rejection};
use super::shape::Schema;
use crate::clock::Clock;

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
    qualified: super::rejection::Qualified<'_>,
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

    fn admit(
        &self,
        id: ResourceId,
        resource: &ResourceType,
        object: Value,
    ) -> Result<Value, Rejection> {
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

    /// A subscription to every change after `resource_version` (0: after the current one).
    pub fn subscribe(&self, resource_version: Option<u64>) -> Cursor {
        Cursor {
            store: self.clone(),
            position: resource_version.unwrap_or_else(|| self.resource_version()),
            latest: self.inner.latest.subscribe(),
        }
    }

    /// The changes after `resource_version`, oldest first, and the newest version scanned;
    /// 410 Gone when the history no longer reaches back that far.
    pub fn changes_after(
        &self,
        resource_version: u64,
    ) -> Result<(Vec<Arc<Change>>, u64), Rejection> {
        let state = self.read();
        if resource_version < state.oldest {
            return Err(Rejection::too_old(resource_version, state.oldest));
        }
        let start = state
            .history
            .partition_point(|c| c.resource_version <= resource_version);
        let changes: Vec<Arc<Change>> = state.history.range(start..).cloned().collect();
        Ok((changes, state.resource_version.max(resource_version)))
    }

    /// Waits until the resourceVersion moves past `resource_version`.
    pub async fn wait_past(&self, resource_version: u64) {
        let mut latest = self.inner.latest.subscribe();
        // The sender lives as long as the store, so `changed` only ends with a change.
        let _ = latest.wait_for(|rv| *rv > resource_version).await;
    }

    /// A receiver of the latest resourceVersion.
    pub fn latest(&self) -> watch::Receiver<u64> {
        self.inner.latest.subscribe()
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

    /// Creates an object: name or generateName, uid, creationTimestamp, generation,
    /// resourceVersion, status as kube-apiserver resets it, managedFields.
    pub fn create(
        &self,
        id: ResourceId,
        namespace: &str,
        object: Value,
        options: &WriteOptions,
    ) -> Result<Arc<Object>, Rejection> {
        if let (stored, Some(conversion)) = self.catalog().storage_of(id) {
            let object = self.create(stored, namespace, conversion.to_storage(object), options)?;
            return present(id, conversion, &object);
        }
        let resource = self.resource(id)?;
        require_object(&object)?;
        let object = self.admit(id, resource, object)?;
        let mut state = self.write();
        let mut prepared = self.prepare_create(&mut state, id, resource, namespace, object)?;
        let (now, api_version) = (self.now(), resource.api_version());
        let write = self.write_context(resource, options, Subresource::Main, &now, &api_version);
        managed::record_update(&write, None, &mut prepared);
        self.commit(
            &mut state,
            id,
            ChangeKind::Added,
            prepared,
            None,
            options.dry_run,
        )
    }

    fn prepare_create(
        &self,
        state: &mut State,
        id: ResourceId,
        resource: &ResourceType,
        namespace: &str,
        mut object: Value,
    ) -> Result<Value, Rejection> {
        let kind = resource.kind.clone();
        let api_version = resource.api_version();
        if let Value::Object(root) = &mut object {
            root.insert("kind".into(), json!(kind));
            root.insert("apiVersion".into(), json!(api_version));
        }
        let body_namespace = meta_str(&object, "namespace")
            .unwrap_or_default()
            .to_owned();
        let namespace = if resource.namespaced {
            if !body_namespace.is_empty() && !namespace.is_empty() && body_namespace != namespace {
                return Err(Rejection::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            let ns = if namespace.is_empty() {
                body_namespace
            } else {
                namespace.to_owned()
            };
            if ns.is_empty() {
                return Err(Rejection::bad_request(
                    "the namespace of the object is required",
                ));
            }
            let namespaces = self.inner.catalog.find("", "v1", "namespaces");
            let exists = namespaces
                .and_then(|n| state.tables.get(n.0))
                .is_some_and(|t| t.contains_key(&key("", &ns)));
            if !exists {
                return Err(Rejection::not_found(
                    super::rejection::Qualified {
                        group: "",
                        resource: "namespaces",
                    },
                    &ns,
                ));
            }
            ns
        } else {
            String::new()
        };
        let mut name = meta_str(&object, "name").unwrap_or_default().to_owned();
        if name.is_empty() {
            let prefix = meta_str(&object, "generateName")
                .unwrap_or_default()
                .to_owned();
            if prefix.is_empty() {
                return Err(Rejection::invalid(
                    &resource.group,
                    &resource.kind,
                    "",
                    vec![super::rejection::Cause::new(
                        "FieldValueRequired",
                        "Required value: name or generateName is required",
                        "metadata.name",
                    )],
                ));
            }
            name = format!("{prefix}{}", state.random.name_suffix());
        }
        let exists = state
            .tables
            .get(id.0)
            .is_some_and(|t| t.contains_key(&key(&namespace, &name)));
        if exists {
            return Err(Rejection::already_exists(resource.qualified(), &name));
        }
        let uid = state.random.uuid();
        let now = self.now();
        let Some(metadata) = metadata_mut(&mut object) else {
            return Err(Rejection::bad_request(
                "the request body must be a JSON object",
            ));
        };
        metadata.insert("name".into(), json!(name));
        if resource.namespaced {
            metadata.insert("namespace".into(), json!(namespace));
        } else {
            metadata.remove("namespace");
        }
        metadata.insert("uid".into(), json!(uid));
        metadata.insert("creationTimestamp".into(), json!(now));
        for field in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            metadata.remove(field);
        }
        if resource.generation {
            metadata.insert("generation".into(), json!(1));
        } else {
            metadata.remove("generation");
        }
        reset_status_on_create(resource, &mut object);
        Ok(object)
    }

    fn write_context<'a>(
        &self,
        resource: &'a ResourceType,
        options: &'a WriteOptions,
        sub: Subresource,
        now: &'a str,
        api_version: &'a str,
    ) -> Write<'a> {
        let part = match (resource.status, sub) {
            (_, Subresource::Status) => Part::Status,
            (true, Subresource::Main) => Part::Main,
            (false, Subresource::Main) => Part::Whole,
        };
        Write {
            schema: Schema::of(resource),
            manager: options
                .field_manager
                .as_deref()
                .filter(|m| !m.is_empty())
                .unwrap_or("unknown"),
            api_version,
            part,
            now,
        }
    }

    fn commit(
        &self,
        state: &mut State,
        id: ResourceId,
        kind: ChangeKind,
        mut object: Value,
        previous: Option<Arc<Object>>,
        dry_run: bool,
    ) -> Result<Arc<Object>, Rejection> {
        let rv = state.resource_version + 1;
        set_metadata(&mut object, "resourceVersion", json!(rv.to_string()));
        let stored = Arc::new(Object::from_value(id, &object)?);
        if dry_run {
            return Ok(stored);
        }
        state.resource_version = rv;
        let k = key(&stored.header.namespace, &stored.header.name);
        if let Some(table) = state.tables.get_mut(id.0) {
            if kind == ChangeKind::Deleted {
                table.remove(&k);
            } else {
                table.insert(k, stored.clone());
            }
        }
        state.history.push_back(Arc::new(Change {
            resource_version: rv,
            resource: id,
            kind,
            object: stored.clone(),
            previous,
        }));
        trim_history(state);
        self.inner.latest.send_replace(rv);
        Ok(stored)
    }

    /// Replaces an object (PUT): resourceVersion conflicts, immutable metadata, status
    /// subresource rules, generation, managedFields.
    pub fn update(
        &self,
        id: ResourceId,
        namespace: &str,
        name: &str,
        object: Value,
        sub: Subresource,
        options: &WriteOptions,
    ) -> Result<Arc<Object>, Rejection> {
        if let (stored, Some(conversion)) = self.catalog().storage_of(id) {
            let object = conversion.to_storage(object);
            let object = self.update(stored, namespace, name, object, sub, options)?;
            return present(id, conversion, &object);
        }
        let resource = self.resource(id)?;
        require_object(&object)?;
        let body_name = meta_str(&object, "name").unwrap_or_default();
        if !body_name.is_empty() && body_name != name {
            return Err(Rejection::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        let mut state = self.write();
        let old = self.current(&state, id, resource, namespace, name)?;
        if let Some(rv) = meta_str(&object, "resourceVersion").filter(|rv| !rv.is_empty())
            && rv != old.header.resource_version.to_string()
        {
            return Err(Rejection::modified(resource.qualified(), name));
        }
        let old_value = old.value()?;
        let now = self.now();
        let api_version = resource.api_version();
        let write = self.write_context(resource, options, sub, &now, &api_version);
        let mut new = prepare_update(resource, &old_value, object, write.part);
        check_pod_update(resource, &old_value, &new)?;
        managed::record_update(&write, Some(&old_value), &mut new);
        let new = self.admit(id, resource, new)?;
        self.finish(
            &mut state,
            id,
            resource,
            old,
            &old_value,
            new,
            options.dry_run,
        )
    }

    /// Replaces an object's status (PUT /status).
    pub fn update_status(
        &self,
        id: ResourceId,
        namespace: &str,
        name: &str,
        object: Value,
        options: &WriteOptions,
    ) -> Result<Arc<Object>, Rejection> {
        self.update(id, namespace, name, object, Subresource::Status, options)
    }

    /// Patches an object with a merge, JSON or strategic merge patch.
    pub fn patch(
        &self,
        id: ResourceId,
        namespace: &str,
        name: &str,
        body: &PatchBody,
        sub: Subresource,
        options: &WriteOptions,
    ) -> Result<Arc<Object>, Rejection> {
        if let (stored, Some(conversion)) = self.catalog().storage_of(id) {
            // Patch the object as this API shows it, then store the result as an update
            // conditional on the version patched.
            let current = self.get(stored, namespace, name)?;
            let shown = conversion.from_storage(current.value()?);
            let resource = self.resource(id)?;
            let mut patched = apply_patch(&Schema::of(resource), &shown, body)?;
            if meta_str(&patched, "resourceVersion").is_none_or(str::is_empty) {
                set_metadata(
                    &mut patched,
                    "resourceVersion",
                    json!(current.header.resource_version.to_string()),
                );
            }
            let object = conversion.to_storage(patched);
            let object = self.update(stored, namespace, name, object, sub, options)?;
            return present(id, conversion, &object);
        }
        let resource = self.resource(id)?;
        if resource.custom && matches!(body, PatchBody::Strategic(_)) {
            return Err(Rejection::unsupported_media_type(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        let mut state = self.write();
        let old = self.current(&state, id, resource, namespace, name)?;
        let old_value = old.value()?;
        let patched = apply_patch(&Schema::of(resource), &old_value, body)?;
        if let Some(rv) = meta_str(&patched, "resourceVersion").filter(|rv| !rv.is_empty())
            && rv != old.header.resource_version.to_string()
        {
            return Err(Rejection::modified(resource.qualified(), name));
        }
        let now = self.now();
        let api_version = resource.api_version();
        let write = self.write_context(resource, options, sub, &now, &api_version);
        let mut new = prepare_update(resource, &old_value, patched, write.part);
        check_pod_update(resource, &old_value, &new)?;
        managed::record_update(&write, Some(&old_value), &mut new);
        let new = self.admit(id, resource, new)?;
        self.finish(
            &mut state,
            id,
            resource,
            old,
            &old_value,
            new,
            options.dry_run,
        )
    }

    /// Server-side apply: creates the object if absent (main resource only).
    pub fn apply(
        &self,
        id: ResourceId,
        namespace: &str,
        name: &str,
        config: Value,
        sub: Subresource,
        options: &WriteOptions,
    ) -> Result<Arc<Object>, Rejection> {
        if let (stored, Some(conversion)) = self.catalog().storage_of(id) {
            let config = conversion.to_storage(config);
            let object = self.apply(stored, namespace, name, config, sub, options)?;
            return present(id, conversion, &object);
        }
        let resource = self.resource(id)?;
        let Some(manager) = options.field_manager.as_deref().filter(|m| !m.is_empty()) else {
            return Err(Rejection::bad_request("PATCH /apply requires fieldManager"));
        };
        if !config.is_object() {
            return Err(Rejection::bad_request(
                "an applied configuration must be an object",
            ));
        }
        for field in ["apiVersion", "kind"] {
            if config
                .get(field)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(Rejection::bad_request(format!(
                    "{field} must be set in an applied configuration"
                )));
            }
        }
        if let Some(body_name) = meta_str(&config, "name")
            && body_name != name
        {
            return Err(Rejection::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        let now = self.now();
        let api_version = resource.api_version();
        let write = Write {
            manager,
            ..self.write_context(resource, options, sub, &now, &api_version)
        };
        let mut state = self.write();
        let table_namespace = if resource.namespaced { namespace } else { "" };
        let existing = state
            .tables
            .get(id.0)
            .and_then(|t| t.get(&key(table_namespace, name)))
            .cloned();
        match existing {
            None => {
                if sub == Subresource::Status {
                    return Err(Rejection::not_found(resource.qualified(), name));
                }
                let mut config = config;
                set_metadata(&mut config, "name", json!(name));
                let created = managed::apply(&write, None, &config, options.force)?;
                let created = self.admit(id, resource, created)?;
                let prepared = self.prepare_create(&mut state, id, resource, namespace, created)?;
                self.commit(
                    &mut state,
                    id,
                    ChangeKind::Added,
                    prepared,
                    None,
                    options.dry_run,
                )
            }
            Some(old) => {
                let old_value = old.value()?;
                if let Some(rv) = meta_str(&config, "resourceVersion").filter(|rv| !rv.is_empty())
                    && rv != old.header.resource_version.to_string()
                {
                    return Err(Rejection::modified(resource.qualified(), name));
                }
                let applied = managed::apply(&write, Some(&old_value), &config, options.force)?;
                let new = prepare_update(resource, &old_value, applied, write.part);
                check_pod_update(resource, &old_value, &new)?;
                let new = self.admit(id, resource, new)?;
                self.finish(
                    &mut state,
                    id,
                    resource,
                    old,
                    &old_value,
                    new,
                    options.dry_run,
                )
            }
        }
    }

    fn current(
        &self,
        state: &State,
        id: ResourceId,
        resource: &ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Object>, Rejection> {
        let namespace = if resource.namespaced { namespace } else { "" };
        state
            .tables
            .get(id.0)
            .and_then(|t| t.get(&key(namespace, name)))
            .cloned()
            .ok_or_else(|| Rejection::not_found(resource.qualified(), name))
    }

    /// Stores an updated object unless nothing changed; completes a deletion whose last
    /// finalizer went.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        state: &mut State,
        id: ResourceId,
        resource: &ResourceType,
        old: Arc<Object>,
        old_value: &Value,
        mut new: Value,
        dry_run: bool,
    ) -> Result<Arc<Object>, Rejection> {
        set_metadata(
            &mut new,
            "resourceVersion",
            json!(old.header.resource_version.to_string()),
        );
        if resource.generation && spec_changed(old_value, &new) {
            let generation = old_value
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            set_metadata(&mut new, "generation", json!(generation + 1));
        }
        if &new == old_value {
            return Ok(old);
        }
        if deletion_complete(&new) {
            return self.commit(state, id, ChangeKind::Deleted, new, Some(old), dry_run);
        }
        self.commit(state, id, ChangeKind::Modified, new, Some(old), dry_run)
    }

    /// Deletes an object as kube-apiserver does: preconditions, graceful deletion of bound,
    /// running pods, finalizers; a namespace takes its objects with it.
    pub fn delete(
        &self,
        id: ResourceId,
        namespace: &str,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<Deletion, Rejection> {
        if let (stored, Some(conversion)) = self.catalog().storage_of(id) {
            return Ok(match self.delete(stored, namespace, name, options)? {
                Deletion::Gone(o) => Deletion::Gone(present(id, conversion, &o)?),
                Deletion::Terminating(o) => Deletion::Terminating(present(id, conversion, &o)?),
            });
        }
        let resource = self.resource(id)?;
        let mut state = self.write();
        let old = self.current(&state, id, resource, namespace, name)?;
        self.delete_locked(&mut state, id, resource, old, options)
    }

    fn delete_locked(
        &self,
        state: &mut State,
        id: ResourceId,
        resource: &ResourceType,
        old: Arc<Object>,
        options: &DeleteOptions,
    ) -> Result<Deletion, Rejection> {
        check_preconditions(resource.qualified(), &old, options)?;
        let mut value = old.value()?;
        let finalizers = value
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        let now = self.inner.clock.now();
        if resource.is_pod() {
            let phase = old.header.phase.as_deref().unwrap_or("");
            let graceful =
                old.header.node_name.is_some() && !matches!(phase, "Succeeded" | "Failed");
            let default_grace = value
                .pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(30);
            let mut grace = options.grace_period_seconds.unwrap_or(default_grace).max(0);
            if !graceful {
                grace = 0;
            }
            let current_grace = value
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64);
            if old.header.deleting && current_grace.is_some_and(|c| c <= grace) && grace > 0 {
                return Ok(Deletion::Terminating(old));
            }
            if grace > 0 {
                let at = now
                    .checked_add(jiff::SignedDuration::from_secs(grace))
                    .unwrap_or(now);
                set_metadata(&mut value, "deletionTimestamp", json!(timestamp(at)));
                set_metadata(&mut value, "deletionGracePeriodSeconds", json!(grace));
                let stored = self.commit(
                    state,
                    id,
                    ChangeKind::Modified,
                    value,
                    Some(old),
                    options.dry_run,
                )?;
                return Ok(Deletion::Terminating(stored));
            }
        }
        if finalizers {
            if old.header.deleting
                && value
                    .pointer("/metadata/deletionGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    == Some(0)
            {
                return Ok(Deletion::Terminating(old));
            }
            if !old.header.deleting {
                set_metadata(&mut value, "deletionTimestamp", json!(timestamp(now)));
                bump_generation(&mut value);
            }
            set_metadata(&mut value, "deletionGracePeriodSeconds", json!(0));
            let stored = self.commit(
                state,
                id,
                ChangeKind::Modified,
                value,
                Some(old),
                options.dry_run,
            )?;
            return Ok(Deletion::Terminating(stored));
        }
        if resource.is_namespace() && !options.dry_run {
            let namespace = old.header.name.to_string();
            for (other, other_type) in self.inner.catalog.types() {
                if !other_type.namespaced {
                    continue;
                }
                let doomed: Vec<Arc<Object>> = state
                    .tables
                    .get(other.0)
                    .map(|t| {
                        t.range(key(&namespace, "")..)
                            .take_while(|(k, _)| k.0.as_ref() == namespace)
                            .map(|(_, v)| v.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                for object in doomed {
                    let value = object.value()?;
                    self.commit(
                        state,
                        other,
                        ChangeKind::Deleted,
                        value,
                        Some(object),
                        false,
                    )?;
                }
            }
        }
        let stored = self.commit(
            state,
            id,
            ChangeKind::Deleted,
            value,
            Some(old),
            options.dry_run,
        )?;
        Ok(Deletion::Gone(stored))
    }

    /// Binds a pod to a node (`pods/binding`, what the scheduler does): sets `spec.nodeName`
    /// and the PodScheduled condition in one write. Refuses a bound or terminating pod.
    pub fn bind(&self, namespace: &str, name: &str, node: &str) -> Result<Arc<Object>, Rejection> {
        let pods = self
            .inner
            .catalog
            .find("", "v1", "pods")
            .ok_or_else(|| Rejection::internal("pods are not served"))?;
        let binding = super::rejection::Qualified {
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

/// Status on create, as each type's strategy leaves it.
fn reset_status_on_create(resource: &ResourceType, object: &mut Value) {
    if !resource.status {
        return;
    }
    let Value::Object(root) = object else { return };
    match (resource.group.as_str(), resource.plural.as_str()) {
        ("", "nodes") => {}
        ("", "pods") => {
            let qos = qos_class(root.get("spec"));
            root.insert(
                "status".into(),
                json!({"phase": "Pending", "qosClass": qos}),
            );
        }
        ("", "namespaces") => {
            root.insert("status".into(), json!({"phase": "Active"}));
        }
        ("", "persistentvolumes") | ("", "persistentvolumeclaims") => {
            root.insert("status".into(), json!({"phase": "Pending"}));
        }
        _ => {
            root.remove("status");
        }
    }
}

/// The pod's QoS class from its containers' requests and limits.
fn qos_class(spec: Option<&Value>) -> &'static str {
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

/// The new object of an update: status per subresource, immutable metadata from the old one.
fn prepare_update(resource: &ResourceType, old: &Value, new: Value, part: Part) -> Value {
    let mut result = match part {
        Part::Status => {
            let mut result = old.clone();
            if let Value::Object(root) = &mut result {
                match new.get("status") {
                    Some(status) => root.insert("status".into(), status.clone()),
                    None => root.remove("status"),
                };
            }
            if let Some(fields) = new.pointer("/metadata/managedFields") {
                set_metadata(&mut result, "managedFields", fields.clone());
            }
            result
        }
        Part::Main => {
            let mut result = new;
            if let Value::Object(root) = &mut result {
                match old.get("status") {
                    Some(status) => root.insert("status".into(), status.clone()),
                    None => root.remove("status"),
                };
            }
            result
        }
        Part::Whole => new,
    };
    if let Value::Object(root) = &mut result {
        root.insert("kind".into(), json!(resource.kind));
        root.insert("apiVersion".into(), json!(resource.api_version()));
    }
    let old_metadata = old
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let Some(metadata) = metadata_mut(&mut result) else {
        return result;
    };
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        match old_metadata.get(field) {
            Some(v) => metadata.insert(field.into(), v.clone()),
            None => metadata.remove(field),
        };
    }
    metadata.remove("selfLink");
    result
}

/// The pod spec fields an update may change (ValidatePodUpdate); the rest is immutable.
const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Refuses a pod update that changes an immutable part of the spec, as kube-apiserver does.
fn check_pod_update(resource: &ResourceType, old: &Value, new: &Value) -> Result<(), Rejection> {
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
        vec![super::rejection::Cause::new(
            "FieldValueForbidden",
            format!("Forbidden: {POD_UPDATE_FORBIDDEN}"),
            "spec",
        )],
    ))
}

/// kube-apiserver bumps the generation of an object whose deletion starts but cannot finish.
fn bump_generation(object: &mut Value) {
    let generation = object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if generation > 0 {
        set_metadata(object, "generation", json!(generation + 1));
    }
}

/// Whether anything but metadata and status differs.
fn spec_changed(old: &Value, new: &Value) -> bool {
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        return old != new;
    };
    let outside = |key: &String| key != "metadata" && key != "status";
    old.keys()
        .chain(new.keys())
        .filter(|k| outside(k))
        .any(|k| old.get(k) != new.get(k))
}

/// A terminating object whose finalizers are gone and whose grace period is over.
fn deletion_complete(object: &Value) -> bool {
    let deleting = object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null());
    let finalizers = object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    let grace = object
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    deleting && !finalizers && grace == 0
}

/// A subscription to the store's changes, for in-process caches: each call returns the
/// changes since the last, waiting for at least one.
#[derive(Debug)]
pub struct Cursor {
    store: Store,
    position: u64,
    latest: watch::Receiver<u64>,
}

impl Cursor {
    /// The resourceVersion the cursor has read up to.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next changes (at least one), or 410 Gone when the cursor fell behind the history.
    pub async fn next(&mut self) -> Result<Vec<Arc<Change>>, Rejection> {
        loop {
            let (changes, newest) = self.store.changes_after(self.position)?;
            self.position = newest;
            if !changes.is_empty() {
                return Ok(changes);
            }
            let position = self.position;
            if self.latest.wait_for(|rv| *rv > position).await.is_err() {
                return Ok(Vec::new());
            }
        }
    }

    /// The changes available now, without waiting.
    pub fn poll(&mut self) -> Result<Vec<Arc<Change>>, Rejection> {
        let (changes, newest) = self.store.changes_after(self.position)?;
        self.position = newest;
        Ok(changes)
    }
}
