//! Why the simulated API server refused a request, as kube-apiserver says it: a `metav1.Status`
//! with the same code, reason, message and causes. Builds the refusals; never decides them.

use serde_json::{Value, json};

/// One cause of a refusal (`metav1.StatusCause`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// The cause type, e.g. `FieldValueInvalid`, `FieldManagerConflict`, `DisruptionBudget`.
    pub kind: String,
    /// A human-readable message.
    pub message: String,
    /// The field it concerns, empty when none.
    pub field: String,
}

impl Cause {
    /// A cause of a type, with a message and a field.
    pub fn new(
        kind: impl Into<String>,
        message: impl Into<String>,
        field: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
            field: field.into(),
        }
    }
}

/// An admission hook's finding on one field; it becomes a cause of a 422 Invalid.
pub type FieldCause = Cause;

/// A refused request: the `metav1.Status` kube-apiserver would answer with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct Rejection {
    /// The HTTP status code.
    pub code: u16,
    /// The `StatusReason` (`NotFound`, `Conflict`, ...), empty for a bare failure.
    pub reason: String,
    /// The message.
    pub message: String,
    /// `details`, boxed to keep results small.
    pub details: Box<Details>,
}

/// The `details` of a Status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Details {
    /// `details.name`.
    pub name: String,
    /// `details.group`.
    pub group: String,
    /// `details.kind` (kube-apiserver puts the resource there for most errors).
    pub kind: String,
    /// `details.causes`.
    pub causes: Vec<Cause>,
    /// `details.retryAfterSeconds`, also sent as a `Retry-After` header.
    pub retry_after_seconds: Option<u32>,
}

/// The resource an error is about, as kube-apiserver qualifies it: `pods`, `deployments.apps`.
#[derive(Clone, Copy, Debug)]
pub struct Qualified<'a> {
    /// The API group, empty for core.
    pub group: &'a str,
    /// The plural resource name.
    pub resource: &'a str,
}

impl Qualified<'_> {
    fn render(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

impl Rejection {
    fn base(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.to_owned(),
            message: message.into(),
            details: Box::default(),
        }
    }

    fn about(mut self, what: Qualified<'_>, name: &str) -> Self {
        self.details.group = what.group.to_owned();
        self.details.kind = what.resource.to_owned();
        self.details.name = name.to_owned();
        self
    }

    /// 404 `pods "x" not found`.
    pub fn not_found(what: Qualified<'_>, name: &str) -> Self {
        Self::base(
            404,
            "NotFound",
            format!("{} {name:?} not found", what.render()),
        )
        .about(what, name)
    }

    /// 409 `pods "x" already exists`.
    pub fn already_exists(what: Qualified<'_>, name: &str) -> Self {
        Self::base(
            409,
            "AlreadyExists",
            format!("{} {name:?} already exists", what.render()),
        )
        .about(what, name)
    }

    /// 409 `Operation cannot be fulfilled on pods "x": <why>`.
    pub fn conflict(what: Qualified<'_>, name: &str, why: &str) -> Self {
        Self::base(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} {name:?}: {why}",
                what.render()
            ),
        )
        .about(what, name)
    }

    /// 409 for an update whose resourceVersion is not the stored one.
    pub fn modified(what: Qualified<'_>, name: &str) -> Self {
        Self::conflict(
            what,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 409 for an apply that would take fields other managers own.
    pub fn apply_conflict(message: String, causes: Vec<Cause>) -> Self {
        let mut rejection = Self::base(409, "Conflict", message);
        rejection.details.causes = causes;
        rejection
    }

    /// 422 `SpreadPolicy.kubespread.io "x" is invalid: ...` with one cause per field.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> Self {
        let qualified = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}.{group}")
        };
        let errors: Vec<String> = causes
            .iter()
            .map(|cause| {
                if cause.field.is_empty() {
                    cause.message.clone()
                } else {
                    format!("{}: {}", cause.field, cause.message)
                }
            })
            .collect();
        let aggregate = match errors.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let mut rejection = Self::base(
            422,
            "Invalid",
            format!("{qualified} {name:?} is invalid: {aggregate}"),
        );
        rejection.details.group = group.to_owned();
        rejection.details.kind = kind.to_owned();
        rejection.details.name = name.to_owned();
        rejection.details.causes = causes;
        rejection
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::base(400, "BadRequest", message)
    }

    /// 403 `<resource> "x" is forbidden: <why>`.
    pub fn forbidden(what: Qualified<'_>, name: &str, why: &str) -> Self {
        let message = if name.is_empty() {
            format!("{} is forbidden: {why}", what.render())
        } else {
            format!("{} {name:?} is forbidden: {why}", what.render())
        };
        Self::base(403, "Forbidden", message).about(what, name)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::base(405, "MethodNotAllowed", message)
    }

    /// 410 Expired: the resourceVersion is older than the retained history.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::base(410, "Expired", message)
    }

    /// 410 `too old resource version: N (M)`.
    pub fn too_old(requested: u64, oldest: u64) -> Self {
        Self::expired(format!("too old resource version: {requested} ({oldest})"))
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::base(415, "UnsupportedMediaType", message)
    }

    /// 429 TooManyRequests, with a suggested delay.
    pub fn too_many_requests(message: impl Into<String>, retry_after: u32) -> Self {
        let mut rejection = Self::base(429, "TooManyRequests", message);
        if retry_after > 0 {
            rejection.details.retry_after_seconds = Some(retry_after);
        }
        rejection
    }

    /// 500 InternalError `Internal error occurred: <why>`.
    pub fn internal(why: impl std::fmt::Display) -> Self {
        let why = why.to_string();
        let mut rejection = Self::base(
            500,
            "InternalError",
            format!("Internal error occurred: {why}"),
        );
        rejection.details.causes.push(Cause::new("", why, ""));
        rejection
    }

    /// 503 ServiceUnavailable, with a suggested delay.
    pub fn unavailable(message: impl Into<String>, retry_after: u32) -> Self {
        let mut rejection = Self::base(503, "ServiceUnavailable", message);
        if retry_after > 0 {
            rejection.details.retry_after_seconds = Some(retry_after);
        }
        rejection
    }

    /// A bare failure Status with a code and a message (how eviction answers 500).
    pub fn failure(code: u16, message: impl Into<String>) -> Self {
        Self::base(code, "", message)
    }

    /// With one more cause.
    #[must_use]
    pub fn with_cause(mut self, cause: Cause) -> Self {
        self.details.causes.push(cause);
        self
    }

    /// The `metav1.Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        });
        if !self.reason.is_empty() {
            status["reason"] = json!(self.reason);
        }
        let mut details = serde_json::Map::new();
        if !self.details.name.is_empty() {
            details.insert("name".into(), json!(self.details.name));
        }
        if !self.details.group.is_empty() {
            details.insert("group".into(), json!(self.details.group));
        }
        if !self.details.kind.is_empty() {
            details.insert("kind".into(), json!(self.details.kind));
        }
        if !self.details.causes.is_empty() {
            let causes: Vec<Value> = self
                .details
                .causes
                .iter()
                .map(|cause| {
                    let mut value = serde_json::Map::new();
                    if !cause.kind.is_empty() {
                        value.insert("reason".into(), json!(cause.kind));
                    }
                    if !cause.message.is_empty() {
                        value.insert("message".into(), json!(cause.message));
                    }
                    if !cause.field.is_empty() {
                        value.insert("field".into(), json!(cause.field));
                    }
                    Value::Object(value)
                })
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(seconds) = self.details.retry_after_seconds {
            details.insert("retryAfterSeconds".into(), json!(seconds));
        }
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

/// The `Status` of a success (what eviction answers).
pub fn success_status(code: u16) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code})
}
