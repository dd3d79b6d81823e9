//! Deletes as kube-apiserver performs them: preconditions, graceful deletion of bound,
//! running pods, finalizers that hold an object, and a namespace taking its objects along.

use super::*;

impl Store {
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

    pub(super) fn delete_locked(
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
}

/// kube-apiserver bumps the generation of an object whose deletion starts but cannot finish.
pub(super) fn bump_generation(object: &mut Value) {
    let generation = object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if generation > 0 {
        set_metadata(object, "generation", json!(generation + 1));
    }
}
