//! Resources served under two APIs with one storage, as kube-apiserver does: events.k8s.io/v1
//! Events are core/v1 Events renamed (`regarding` is `involvedObject`, `note` is `message`, ...),
//! so an event written through either API is seen through both. Renames fields; stores nothing.

use serde_json::{Map, Value};

/// events.k8s.io/v1 field ↔ core/v1 field.
const EVENT_FIELDS: [(&str, &str); 8] = [
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("series", "series"),
];

/// How one served API converts to and from the form it is stored in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    /// events.k8s.io/v1 Events, stored as core/v1 Events.
    EventsV1,
}

fn rename(
    value: Value,
    pairs: impl Iterator<Item = (&'static str, &'static str)>,
    api_version: &str,
) -> Value {
    let Value::Object(mut map) = value else {
        return value;
    };
    let mut renamed = Map::new();
    for (from, to) in pairs {
        if let Some(field) = map.remove(from) {
            renamed.insert(to.to_owned(), field);
        }
    }
    map.extend(renamed);
    map.insert("apiVersion".to_owned(), Value::from(api_version));
    Value::Object(map)
}

impl Conversion {
    /// The object as stored.
    pub fn to_storage(self, value: Value) -> Value {
        match self {
            Self::EventsV1 => rename(value, EVENT_FIELDS.into_iter(), "v1"),
        }
    }

    /// The object as this API serves it.
    pub fn from_storage(self, value: Value) -> Value {
        match self {
            Self::EventsV1 => rename(
                value,
                EVENT_FIELDS
                    .into_iter()
                    .map(|(served, stored)| (stored, served)),
                "events.k8s.io/v1",
            ),
        }
    }

    /// A field selector path of this API as the stored form names it.
    pub fn stored_field(self, field: &str) -> String {
        match self {
            Self::EventsV1 => {
                for (served, stored) in EVENT_FIELDS {
                    if field == served {
                        return stored.to_owned();
                    }
                    if let Some(rest) = field.strip_prefix(served).and_then(|r| r.strip_prefix('.'))
                    {
                        return format!("{stored}.{rest}");
                    }
                }
                field.to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_round_trip_between_the_two_apis() {
        let served = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Pod", "name": "web-1"}, "note": "moved", "reason": "Moved",
            "reportingController": "kube-spread", "reportingInstance": "kube-spread-0", "eventTime": "2025-10-20T08:00:00.000000Z"});
        let stored = Conversion::EventsV1.to_storage(served.clone());
        assert_eq!(stored["involvedObject"]["name"], "web-1");
        assert_eq!(stored["message"], "moved");
        assert_eq!(stored["reportingComponent"], "kube-spread");
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(Conversion::EventsV1.from_storage(stored), served);
        assert_eq!(
            Conversion::EventsV1.stored_field("regarding.name"),
            "involvedObject.name"
        );
        assert_eq!(Conversion::EventsV1.stored_field("reason"), "reason");
    }
}
