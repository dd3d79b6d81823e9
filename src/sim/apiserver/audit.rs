//! The audit log of the simulated API: one record per resource request a client made, with the
//! identity, the verb, the resource and the answer's status code, so a test can count a
//! controller's API calls, its refusals (403) and its writes.

use std::sync::{Mutex, PoisonError};

/// One request, as kube-apiserver's audit log would name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// The identity (None: the admin).
    pub user: Option<String>,
    /// get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: String,
    /// The API group ("" for core).
    pub group: String,
    /// The plural resource, with its subresource: `pods/eviction`.
    pub resource: String,
    /// The namespace, empty for cluster scope.
    pub namespace: String,
    /// The object name, empty for collections.
    pub name: String,
    /// Whether the request asked for `dryRun=All`.
    pub dry_run: bool,
    /// The answer's status code.
    pub code: u16,
}

impl AuditRecord {
    /// Whether the request could change an object (dry runs change nothing).
    pub fn writes(&self) -> bool {
        !self.dry_run
            && matches!(
                self.verb.as_str(),
                "create" | "update" | "patch" | "delete" | "deletecollection"
            )
    }
}

/// The records of every resource request served.
#[derive(Debug, Default)]
pub struct Audit {
    records: Mutex<Vec<AuditRecord>>,
}

impl Audit {
    /// Adds a record.
    pub fn record(&self, record: AuditRecord) {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
    }

    /// The records so far, oldest first.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The records of one identity.
    pub fn of(&self, user: &str) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|r| r.user.as_deref() == Some(user))
            .cloned()
            .collect()
    }

    /// Forgets every record.
    pub fn clear(&self) {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
