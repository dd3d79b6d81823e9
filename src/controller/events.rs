//! Kubernetes Events (events.k8s.io/v1) that explain decisions to the people who own the pods:
//! `Moved`, `WouldMove`, `MoveBlocked` on pods with the policy as the related object, and
//! policy-level events. Timestamps come from the one clock; a repeat within ten minutes is
//! not sent again. Failing to record an Event never fails a reconcile.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use jiff::Timestamp;
use k8s_openapi::{
    api::{core::v1::ObjectReference, events::v1::Event},
    apimachinery::pkg::apis::meta::v1::MicroTime,
};
use kube::{Api, Client, api::PostParams, core::ObjectMeta};

use crate::clock::Clock;

/// Repeats of one Event within this window are dropped.
const REPEAT_WINDOW: Duration = Duration::from_secs(600);
/// The controller name Events carry.
pub const REPORTING_CONTROLLER: &str = "kubespread.io/kube-spread";

/// Normal or Warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// Something happened as intended.
    Normal,
    /// Something a person may want to look at.
    Warning,
}

/// One Event to record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Note {
    /// Normal or Warning.
    pub severity: Severity,
    /// CamelCase reason, e.g. `Moved`.
    pub reason: &'static str,
    /// CamelCase action, e.g. `Evict`.
    pub action: &'static str,
    /// What happened, for people.
    pub message: String,
}

/// An Event already sent: namespace, regarding object, reason, message.
type Sent = (String, String, &'static str, String);

/// Records Events.
pub struct Recorder {
    client: Client,
    instance: String,
    clock: Clock,
    sent: Mutex<HashMap<Sent, Timestamp>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder for this replica.
    pub fn new(client: Client, instance: String, clock: Clock) -> Self {
        Self {
            client,
            instance,
            clock,
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// Records `note` about `regarding`, with `related` as the secondary object.
    pub async fn record(
        &self,
        regarding: &ObjectReference,
        related: Option<&ObjectReference>,
        note: Note,
    ) {
        let now = self.clock.now();
        let key = (
            regarding.namespace.clone().unwrap_or_default(),
            regarding
                .uid
                .clone()
                .or_else(|| regarding.name.clone())
                .unwrap_or_default(),
            note.reason,
            note.message.clone(),
        );
        {
            let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
            sent.retain(|_, at| {
                Duration::try_from(now.duration_since(*at)).is_ok_and(|age| age < REPEAT_WINDOW)
            });
            if sent.contains_key(&key) {
                return;
            }
            sent.insert(key, now);
        }
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{:x}",
                    regarding.name.as_deref().unwrap_or("kube-spread"),
                    now.as_nanosecond()
                )),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(now)),
            action: Some(note.action.to_owned()),
            reason: Some(note.reason.to_owned()),
            note: Some(note.message),
            regarding: Some(regarding.clone()),
            related: related.cloned(),
            reporting_controller: Some(REPORTING_CONTROLLER.to_owned()),
            reporting_instance: Some(self.instance.clone()),
            type_: Some(
                match note.severity {
                    Severity::Normal => "Normal",
                    Severity::Warning => "Warning",
                }
                .to_owned(),
            ),
            ..Event::default()
        };
        let events: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        if let Err(error) = events.create(&PostParams::default(), &event).await {
            tracing::debug!(namespace = %namespace, reason = note.reason, error = %error, "Could not record an Event.");
        }
    }
}
