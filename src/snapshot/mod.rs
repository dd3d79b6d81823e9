//! Reads Kubernetes objects into the planner's cluster model: what `kubectl get -o json` prints
//! (a `v1 List`) or multi-document YAML. Each malformed item gives one error that names it.
//! No I/O beyond the text it is handed, and no panics on any input.

pub mod selector;

/// A field of an object that could not be read, with the JSON path to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The path to the field, e.g. `spec.containers[0].resources.requests.cpu`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
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
