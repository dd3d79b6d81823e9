//! Reads Kubernetes objects into the planner's cluster model: what `kubectl get -o json` prints
//! (a `v1 List`), a single object, or multi-document YAML. Each malformed item gives one error
//! that names it. No I/O beyond the text it is handed, and no panics on any input.

pub mod convert;
mod document;
mod kinds;
pub mod live;
pub mod quantity;
pub mod selector;

use std::{collections::BTreeMap, fmt};

use crate::planner::model::Cluster;

/// A field of an object that could not be read, with the JSON path to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FieldError {
    /// The path to the field, e.g. `spec.containers[0].resources.requests.cpu`; empty for the
    /// object as a whole.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl FieldError {
    /// An error at a field path.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error, its path placed under `parent` (`spec` + `replicas` = `spec.replicas`).
    #[must_use]
    pub fn under(self, parent: &str) -> Self {
        let field = match (parent.is_empty(), self.field.is_empty()) {
            (true, _) => self.field,
            (false, true) => parent.to_owned(),
            (false, false) if self.field.starts_with('[') => format!("{parent}{}", self.field),
            (false, false) => format!("{parent}.{}", self.field),
        };
        Self { field, ..self }
    }
}

/// What a snapshot held: the cluster, and how many objects of each kind were read or skipped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// The objects the planner reads.
    pub cluster: Cluster,
    /// Objects read, by kind (DaemonSets are counted here; their pods name them as owner).
    pub read: BTreeMap<String, usize>,
    /// Objects of kinds the planner does not read, by kind.
    pub skipped: BTreeMap<String, usize>,
}

/// Where an object sits in the snapshot: its 0-based index within its list or document, and
/// the document's index when the text holds several YAML documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// The YAML document, when there are several, counting from 0 and skipping empty ones
    /// (a `---` followed by nothing or only comments).
    pub document: Option<usize>,
    /// The index within the list, or 0 for a document that is a single object.
    pub index: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.document {
            Some(document) => write!(f, "document {document} item {}", self.index),
            None => write!(f, "item {}", self.index),
        }
    }
}

/// An object named as well as it can be: where it is, its kind, and `namespace/name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemRef {
    /// Where it is.
    pub location: Location,
    /// Its kind.
    pub kind: String,
    /// `namespace/name`, `name`, or None when the metadata is unreadable.
    pub name: Option<String>,
}

impl fmt::Display for ItemRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{} ({} {name})", self.location, self.kind),
            None => write!(f, "{} ({})", self.location, self.kind),
        }
    }
}

/// Why a snapshot could not be read. Reading stops at the first malformed item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The text is empty, or holds only `null`s.
    #[error("the snapshot is empty: expected what `kubectl get nodes,pods,... -A -o json` prints")]
    Empty,
    /// The text is not JSON (it looked like JSON) or not YAML.
    #[error("the snapshot is not valid {format}: {message}")]
    Syntax {
        /// `JSON` or `YAML`.
        format: &'static str,
        /// What the parser said, with the line and column.
        message: String,
    },
    /// An item is a string, number, list or null rather than an object.
    #[error("{location}: is {found}, not a Kubernetes object")]
    NotAnObject {
        /// Where it is.
        location: Location,
        /// What it is instead (`a string`, `an array`, ...).
        found: &'static str,
    },
    /// An item has no `kind` (and its list does not say it either).
    #[error("{location}{}: has no kind", name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default())]
    MissingKind {
        /// Where it is.
        location: Location,
        /// `namespace/name`, when readable.
        name: Option<String>,
    },
    /// An object appears twice (same kind, namespace and name): a plan would count it twice.
    #[error("{item}: appears again after {first}; each object may appear only once")]
    Duplicate {
        /// The second occurrence.
        item: ItemRef,
        /// Where the first one is.
        first: Location,
    },
    /// An item of a known kind has a field that cannot be read.
    #[error("{item}: {source}")]
    Malformed {
        /// The item.
        item: ItemRef,
        /// The field and what is wrong with it.
        source: FieldError,
    },
}

/// Reads a snapshot: a `v1 List` or any `<Kind>List` (JSON, streamed item by item), a single
/// object, or YAML documents each holding an object or a List. Unknown kinds are skipped and
/// counted; the first malformed item stops reading with an error that names it.
///
/// A top-level object with an `items` array is read as a list whatever its kind says. Items
/// without `kind` take it from a typed list (`PodList` items are Pods).
pub fn read(text: &str) -> Result<Snapshot, SnapshotError> {
    document::read(text)
}
