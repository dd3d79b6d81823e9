//! Reads Kubernetes objects into the planner's cluster model: what `kubectl get -o json` prints
//! (a `v1 List`), a single object, or multi-document YAML. Each malformed item gives one error
//! that names it. No I/O beyond the text it is handed, and no panics on any input.

pub mod convert;
pub mod quantity;
pub mod selector;

use std::fmt;

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
