//! Watch streams: initial events (`sendInitialEvents`, or the synthetic ADDED events of a watch
//! without a resourceVersion), changes from the store's history filtered by selectors (an
//! object leaving the selection is a DELETED event), bookmarks, timeouts, 410 Gone, and the
//! cuts fault injection asks for.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::table;
use crate::sim::apiserver::catalog::{ResourceId, ResourceType};
use crate::sim::apiserver::fault::Verdict;
use crate::sim::apiserver::object::Object;
use crate::sim::apiserver::query::{ListOptions, WatchOptions};
use crate::sim::apiserver::rejection::Rejection;
use crate::sim::apiserver::store::{ChangeKind, Store, present};

/// How often an idle watch that allows bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);
/// The timeout of a watch that asks for none (kube-apiserver picks 30 to 60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
/// A deadline far enough to be never: a hundred years.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// What each event carries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// The object.
    Whole,
    /// Its PartialObjectMetadata.
    Metadata,
    /// A one-row Table (`kubectl get -w`); the first event carries the column definitions.
    Table(table::Include),
}

fn event(kind: &str, object: &Object, metadata_only: bool) -> Bytes {
    if metadata_only {
        return match super::partial_metadata(object) {
            Ok(partial) => value_event(kind, &partial),
            Err(rejection) => value_event("ERROR", &rejection.to_status()),
        };
    }
    let mut line = Vec::with_capacity(object.json.len() + 32);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(kind.as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    line.extend_from_slice(&object.json);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

fn value_event(kind: &str, object: &Value) -> Bytes {
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

/// The stream's settings.
struct Plan {
    store: Store,
    id: ResourceId,
    options: WatchOptions,
    kind: String,
    api_version: String,
    gone: bool,
    cut_after_events: Option<usize>,
    deadline: Instant,
    shape: Shape,
    resource: ResourceType,
    /// Whether a Table event has carried the column definitions yet.
    columns_sent: AtomicBool,
}

impl Plan {
    fn event(&self, kind: &str, object: &Arc<Object>) -> Bytes {
        match self.shape {
            Shape::Whole => event(kind, object, false),
            Shape::Metadata => event(kind, object, true),
            Shape::Table(include) => {
                let mut rendered = table::render(
                    &self.resource,
                    std::slice::from_ref(object),
                    object.header.resource_version,
                    None,
                    include,
                    self.store.clock().now(),
                );
                if self.columns_sent.swap(true, Ordering::Relaxed) {
                    rendered["columnDefinitions"] = Value::Null;
                }
                value_event(kind, &rendered)
            }
        }
    }
}

/// Answers a watch request with a chunked stream of JSON events, each of the `shape` asked for.
pub fn respond(
    store: Store,
    id: ResourceId,
    options: WatchOptions,
    verdict: &Verdict,
    shape: Shape,
) -> Result<Response, Rejection> {
    let resource = store
        .catalog()
        .get(id)
        .ok_or_else(|| Rejection::internal("unknown resource type"))?;
    let timeout = options
        .timeout_seconds
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    // Any timeout a client may ask for, however large, only ends the watch later; a deadline
    // past what the clock can hold is no deadline (kube-apiserver caps nothing either).
    let now = Instant::now();
    let mut deadline = now.checked_add(timeout).unwrap_or_else(|| now + FOREVER);
    if let Some(cut) = verdict.cut_after {
        deadline = deadline.min(now.checked_add(cut).unwrap_or(deadline));
    }
    if let Some(rv) = &options.list.resource_version {
        rv.parse::<u64>()
            .map_err(|_| Rejection::bad_request(format!("invalid resource version {rv:?}")))?;
    }
    let resource = resource.clone();
    let plan = Plan {
        kind: resource.kind.clone(),
        api_version: resource.api_version(),
        store,
        id,
        options,
        gone: verdict.gone,
        cut_after_events: verdict.cut_after_events,
        deadline,
        shape,
        resource: resource.clone(),
        columns_sent: AtomicBool::new(false),
    };
    let (sender, receiver) = mpsc::channel::<Bytes>(256);
    tokio::spawn(run(plan, sender));
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), receiver))
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("transfer-encoding", "chunked")
        .body(Body::from_stream(stream))
        .map_err(Rejection::internal)
}

struct Sink {
    sender: mpsc::Sender<Bytes>,
    sent: usize,
    limit: Option<usize>,
}

impl Sink {
    /// Sends a chunk; false when the client left or the cut is reached.
    async fn send(&mut self, chunk: Bytes, counts: bool) -> bool {
        if self.sender.send(chunk).await.is_err() {
            return false;
        }
        if counts {
            self.sent += 1;
        }
        self.limit.is_none_or(|limit| self.sent < limit)
    }
}

fn bookmark(plan: &Plan, resource_version: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": resource_version.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    value_event(
        "BOOKMARK",
        &json!({"kind": plan.kind, "apiVersion": plan.api_version, "metadata": metadata}),
    )
}

async fn run(plan: Plan, sender: mpsc::Sender<Bytes>) {
    let mut sink = Sink {
        sender,
        sent: 0,
        limit: plan.cut_after_events,
    };
    if plan.cut_after_events == Some(0) {
        return;
    }
    let filter = &plan.options.list;
    let requested = filter
        .resource_version
        .as_deref()
        .and_then(|rv| rv.parse::<u64>().ok())
        .filter(|rv| *rv > 0);
    if plan.gone {
        let oldest = plan.store.oldest_resource_version();
        let expired = Rejection::too_old(requested.unwrap_or(0), oldest.max(1));
        sink.send(value_event("ERROR", &expired.to_status()), false)
            .await;
        return;
    }
    let mut position = match requested {
        Some(rv) if !plan.options.send_initial_events => {
            if rv < plan.store.oldest_resource_version() {
                let expired = Rejection::too_old(rv, plan.store.oldest_resource_version());
                sink.send(value_event("ERROR", &expired.to_status()), false)
                    .await;
                return;
            }
            rv
        }
        _ => {
            let everything = ListOptions {
                limit: None,
                continue_token: None,
                resource_version: None,
                version_match: None,
                ..filter.clone()
            };
            let page = match plan.store.list(plan.id, &everything) {
                Ok(page) => page,
                Err(rejection) => {
                    sink.send(value_event("ERROR", &rejection.to_status()), false)
                        .await;
                    return;
                }
            };
            for item in &page.items {
                if !sink.send(plan.event("ADDED", item), true).await {
                    return;
                }
            }
            if plan.options.send_initial_events
                && !sink
                    .send(bookmark(&plan, page.resource_version, true), false)
                    .await
            {
                return;
            }
            page.resource_version
        }
    };
    // A type served from another's storage watches that storage and converts what it sends.
    let (source, conversion) = plan.store.catalog().storage_of(plan.id);
    let stored_filter = match conversion {
        Some(conversion) => ListOptions {
            fields: filter.fields.stored(conversion),
            ..filter.clone()
        },
        None => filter.clone(),
    };
    let mut next_bookmark = Instant::now() + BOOKMARK_EVERY;
    loop {
        let (changes, newest) = match plan.store.changes_after(position) {
            Ok(found) => found,
            Err(rejection) => {
                sink.send(value_event("ERROR", &rejection.to_status()), false)
                    .await;
                return;
            }
        };
        for change in changes.iter().filter(|c| c.resource == source) {
            let now_in = stored_filter.admits(&change.object);
            let was_in = change
                .previous
                .as_ref()
                .is_some_and(|p| stored_filter.admits(p));
            let kind = match (change.kind, was_in, now_in) {
                (ChangeKind::Added, _, true) => Some("ADDED"),
                (ChangeKind::Modified, true, true) => Some("MODIFIED"),
                (ChangeKind::Modified, false, true) => Some("ADDED"),
                (ChangeKind::Modified, true, false) => Some("DELETED"),
                (ChangeKind::Deleted, _, true) => Some("DELETED"),
                _ => None,
            };
            let Some(kind) = kind else { continue };
            let shown = match conversion {
                None => change.object.clone(),
                Some(conversion) => match present(plan.id, conversion, &change.object) {
                    Ok(shown) => shown,
                    Err(rejection) => {
                        sink.send(value_event("ERROR", &rejection.to_status()), false)
                            .await;
                        return;
                    }
                },
            };
            if !sink.send(plan.event(kind, &shown), true).await {
                return;
            }
        }
        position = newest;
        let store = plan.store.clone();
        tokio::select! {
            () = store.wait_past(position) => {}
            () = tokio::time::sleep_until(plan.deadline) => return,
            () = tokio::time::sleep_until(next_bookmark), if plan.options.bookmarks => {
                next_bookmark = Instant::now() + BOOKMARK_EVERY;
                if !sink.send(bookmark(&plan, position, false), false).await {
                    return;
                }
            }
            () = sink.sender.closed() => return,
        }
    }
}
