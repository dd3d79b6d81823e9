//! Creates, updates, status writes, patches and server-side apply: the write path every
//! change but a delete takes, with kube-apiserver's metadata, status and generation rules.

use super::pod::{check_pod_update, qos_class};
use super::*;

impl Store {
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
        let object = self.admit(id, resource, namespace, object)?;
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

    pub(super) fn prepare_create(
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
                    crate::sim::apiserver::rejection::Qualified {
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
                    vec![crate::sim::apiserver::rejection::Cause::new(
                        "FieldValueRequired",
                        "Required value: name or generateName is required",
                        "metadata.name",
                    )],
                ));
            }
            name = format!("{prefix}{}", state.random.name_suffix());
        }
        if let Some(message) = invalid_name(resource, &name) {
            return Err(Rejection::invalid(
                &resource.group,
                &resource.kind,
                &name,
                vec![crate::sim::apiserver::rejection::Cause::new(
                    "FieldValueInvalid",
                    format!("Invalid value: {name:?}: {message}"),
                    "metadata.name",
                )],
            ));
        }
        check_annotations(resource, &name, &object)?;
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

    pub(super) fn write_context<'a>(
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

    pub(super) fn commit(
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
        let new = self.admit(id, resource, namespace, new)?;
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
        let new = self.admit(id, resource, namespace, new)?;
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
                let created = self.admit(id, resource, namespace, created)?;
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
                let new = self.admit(id, resource, namespace, new)?;
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

    pub(super) fn current(
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
    pub(super) fn finish(
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
        check_annotations(resource, &old.header.name, &new)?;
        if deletion_complete(&new) {
            return self.commit(state, id, ChangeKind::Deleted, new, Some(old), dry_run);
        }
        self.commit(state, id, ChangeKind::Modified, new, Some(old), dry_run)
    }
}

/// Status on create, as each type's strategy leaves it.
pub(super) fn reset_status_on_create(resource: &ResourceType, object: &mut Value) {
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
/// The new object of an update: status per subresource, immutable metadata from the old one.
pub(super) fn prepare_update(
    resource: &ResourceType,
    old: &Value,
    new: Value,
    part: Part,
) -> Value {
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
/// Whether anything but metadata and status differs.
pub(super) fn spec_changed(old: &Value, new: &Value) -> bool {
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
pub(super) fn deletion_complete(object: &Value) -> bool {
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

/// apimachinery's `TotalAnnotationSizeLimitB`: keys and values of all annotations together.
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Refuses an object whose annotations exceed [`TOTAL_ANNOTATION_SIZE_LIMIT`], as
/// `ValidateAnnotations` does.
fn check_annotations(resource: &ResourceType, name: &str, object: &Value) -> Result<(), Rejection> {
    let size: usize = object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|annotations| {
            annotations
                .iter()
                .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
                .sum()
        })
        .unwrap_or(0);
    if size <= TOTAL_ANNOTATION_SIZE_LIMIT {
        return Ok(());
    }
    Err(Rejection::invalid(
        &resource.group,
        &resource.kind,
        name,
        vec![crate::sim::apiserver::rejection::Cause::new(
            "FieldValueTooLong",
            format!("Too long: may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"),
            "metadata.annotations",
        )],
    ))
}

/// Why a name is not valid for a resource, as apimachinery's name validation says it: RFC 1123
/// labels for namespaces, RFC 1123 subdomains for the rest.
pub(super) fn invalid_name(resource: &ResourceType, name: &str) -> Option<String> {
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    // A subdomain's parts have no length limit of their own (IsDNS1123Subdomain checks only
    // the whole name's 253), so a 100-character name without dots is valid.
    let label_ok = |part: &str| {
        !part.is_empty()
            && part.starts_with(alphanumeric)
            && part.ends_with(alphanumeric)
            && part.chars().all(|c| alphanumeric(c) || c == '-')
    };
    if resource.is_namespace() {
        if name.len() > 63 {
            return Some("must be no more than 63 characters".to_owned());
        }
        if !label_ok(name) {
            return Some("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_owned());
        }
        return None;
    }
    if name.len() > 253 {
        return Some("must be no more than 253 characters".to_owned());
    }
    if !name.split('.').all(label_ok) {
        return Some("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_owned());
    }
    None
}
