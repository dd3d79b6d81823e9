//! The scheduler's Events (events.k8s.io/v1): `Scheduled` on a bind and `FailedScheduling`
//! when no node fits, reported by `default-scheduler`. Repeats are folded into a series as
//! client-go's event broadcaster does: the second sighting writes `series.count` 2, later
//! ones only count until 30 minutes have passed since the last write, and a series unseen
//! for 6 minutes ends (the next sighting starts a new Event).

use std::{collections::HashMap, time::Duration};

use jiff::Timestamp;
use k8s_openapi::{api::core::v1::Pod, apimachinery::pkg::apis::meta::v1::MicroTime};
use serde_json::{Value, json};

use crate::sim::{
    ResourceId, Subresource,
    control::{Context, SCHEDULER, Write, after},
};

/// The scheduler's name, as its Events report it.
pub const REPORTING_CONTROLLER: &str = "default-scheduler";
const REPORTING_INSTANCE: &str = "default-scheduler-sim";
/// A series unseen this long is over.
const SERIES_END: Duration = Duration::from_secs(6 * 60);
/// How often a growing series is written.
const SERIES_HEARTBEAT: Duration = Duration::from_secs(30 * 60);

/// One Event to record about a pod.
#[derive(Clone, Debug)]
pub struct Note {
    /// Normal or Warning.
    pub kind: &'static str,
    /// `Scheduled` or `FailedScheduling`.
    pub reason: &'static str,
    /// `Binding` or `Scheduling`.
    pub action: &'static str,
    /// The text.
    pub message: String,
}

/// (namespace, pod uid, reason, message).
type Key = (String, String, &'static str, String);

#[derive(Debug)]
struct Series {
    name: String,
    count: u64,
    written: u64,
    last_observed: Timestamp,
    last_written: Timestamp,
}

/// Writes Events and keeps their series.
#[derive(Debug, Default)]
pub struct Recorder {
    series: HashMap<Key, Series>,
    /// The last name stamp handed out: names stay unique when many Events share an instant.
    last_stamp: i128,
}

fn micro(at: Timestamp) -> Value {
    serde_json::to_value(MicroTime(at)).unwrap_or(Value::Null)
}

impl Recorder {
    /// Records `note` about `pod`; returns the resourceVersions it wrote.
    pub(crate) fn record(
        &mut self,
        context: &Context<'_>,
        events: ResourceId,
        pod: &Pod,
        note: Note,
    ) -> Result<Vec<u64>, Write> {
        let now = context.now;
        self.series
            .retain(|_, series| after(series.last_observed, SERIES_END) > now);
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let key = (
            namespace.clone(),
            uid.clone(),
            note.reason,
            note.message.clone(),
        );
        if let Some(series) = self.series.get_mut(&key) {
            series.count += 1;
            series.last_observed = now;
            let due = series.written < 2 || after(series.last_written, SERIES_HEARTBEAT) <= now;
            if !due {
                return Ok(Vec::new());
            }
            series.written = series.count;
            series.last_written = now;
            let count = series.count;
            let written = context.modify(
                events,
                &namespace,
                &series.name,
                Subresource::Main,
                SCHEDULER,
                |value| {
                    value["series"] = json!({"count": count, "lastObservedTime": micro(now)});
                    true
                },
            )?;
            return Ok(written
                .map(|o| o.header.resource_version)
                .into_iter()
                .collect());
        }
        self.last_stamp = now.as_nanosecond().max(self.last_stamp + 1);
        let event_name = format!("{name}.{:x}", self.last_stamp);
        let event = json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": event_name, "namespace": namespace},
            "eventTime": micro(now),
            "reportingController": REPORTING_CONTROLLER,
            "reportingInstance": REPORTING_INSTANCE,
            "action": note.action,
            "reason": note.reason,
            "type": note.kind,
            "note": note.message,
            "regarding": {"apiVersion": "v1", "kind": "Pod", "namespace": namespace,
                          "name": name, "uid": uid},
        });
        let created = context.create(events, &namespace, event, SCHEDULER)?;
        self.series.insert(
            key,
            Series {
                name: event_name,
                count: 1,
                written: 1,
                last_observed: now,
                last_written: now,
            },
        );
        Ok(vec![created.header.resource_version])
    }
}
