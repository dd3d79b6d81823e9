//! Splits snapshot text into Kubernetes objects: JSON (an object, a List or an array, its items
//! streamed one at a time so a large cluster's list is never held twice) or YAML documents.
//! Knows nothing of kinds; each object goes to the collector.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{
    Location, Snapshot, SnapshotError,
    kinds::{Collector, ListType},
};

/// Reads JSON when the text looks like it, YAML otherwise (and for flow-style YAML that only
/// looks like JSON).
pub(super) fn read(text: &str) -> Result<Snapshot, SnapshotError> {
    let body = text.trim_start_matches('\u{feff}').trim_start();
    if body.trim_end().is_empty() {
        return Err(SnapshotError::Empty);
    }
    if body.starts_with('{') || body.starts_with('[') {
        match read_json(body) {
            Ok(snapshot) => return Ok(snapshot),
            Err(JsonFailure::Item(error)) => return Err(error),
            Err(JsonFailure::Syntax(message)) => {
                return read_yaml(body).map_err(|error| match error {
                    SnapshotError::Syntax { .. } => SnapshotError::Syntax {
                        format: "JSON",
                        message,
                    },
                    other => other,
                });
            }
        }
    }
    read_yaml(body)
}

enum JsonFailure {
    Syntax(String),
    Item(SnapshotError),
}

fn read_json(text: &str) -> Result<Snapshot, JsonFailure> {
    let mut stream = Stream::default();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let top = Top(&mut stream)
        .deserialize(&mut deserializer)
        .and_then(|top| deserializer.end().map(|()| top));
    let top = match top {
        Ok(top) => top,
        Err(error) => {
            return Err(match stream.failure.take() {
                Some(failure) => JsonFailure::Item(failure),
                None => JsonFailure::Syntax(one_line(&error.to_string())),
            });
        }
    };
    let list = match top {
        TopLevel::Array => ListType::default(),
        TopLevel::List(fields) => list_type(&fields),
        TopLevel::Object(fields) => {
            let location = Location {
                document: None,
                index: 0,
            };
            stream
                .collector
                .item(location, Value::Object(fields), &ListType::default())
                .map_err(JsonFailure::Item)?;
            return Ok(stream.collector.snapshot);
        }
    };
    for (index, item) in std::mem::take(&mut stream.pending) {
        let location = Location {
            document: None,
            index,
        };
        stream
            .collector
            .item(location, item, &list)
            .map_err(JsonFailure::Item)?;
    }
    Ok(stream.collector.snapshot)
}

fn read_yaml(text: &str) -> Result<Snapshot, SnapshotError> {
    // A large cluster's snapshot far exceeds the default budget meant for config files; the
    // nesting limits (which protect the stack) stay as they are.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = usize::MAX;
    budget.max_nodes = usize::MAX;
    budget.max_total_scalar_bytes = usize::MAX;
    budget.max_documents = 1 << 20;
    budget.max_reader_input_bytes = None;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    let documents: Vec<Value> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|error| {
            SnapshotError::Syntax {
                format: "YAML",
                message: one_line(&error.without_snippet().to_string()),
            }
        })?;
    // `null`, `~` or only empty documents say nothing at all, like an empty file.
    if documents.iter().all(Value::is_null) {
        return Err(SnapshotError::Empty);
    }
    let several = documents.len() > 1;
    let mut collector = Collector::default();
    for (document_index, document) in documents.into_iter().enumerate() {
        let document_index = several.then_some(document_index);
        let location = |index| Location {
            document: document_index,
            index,
        };
        match document {
            Value::Null => {}
            Value::Object(mut fields) if fields.get("items").is_some_and(Value::is_array) => {
                let list = list_type(&fields);
                let items = match fields.remove("items") {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                };
                for (index, item) in items.into_iter().enumerate() {
                    collector.item(location(index), item, &list)?;
                }
            }
            Value::Array(items) => {
                for (index, item) in items.into_iter().enumerate() {
                    collector.item(location(index), item, &ListType::default())?;
                }
            }
            other => collector.item(location(0), other, &ListType::default())?,
        }
    }
    Ok(collector.snapshot)
}

/// A parser message on one line, without its `error: ` prefix.
fn one_line(message: &str) -> String {
    let message = message.trim();
    let message = message.strip_prefix("error: ").unwrap_or(message);
    message.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

/// What a `<Kind>List` says about its items: `PodList` items are `Pod`s of its apiVersion. A
/// plain `List` says nothing.
fn list_type(fields: &Map<String, Value>) -> ListType {
    let kind = fields
        .get("kind")
        .and_then(Value::as_str)
        .and_then(|kind| kind.strip_suffix("List"))
        .filter(|kind| !kind.is_empty())
        .map(str::to_owned);
    ListType {
        api_version: kind.as_ref().and(
            fields
                .get("apiVersion")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        kind,
    }
}

/// The streaming state: items with a kind are converted as they are parsed; items without one
/// wait for the list's own kind, which `kubectl` prints after `items`.
#[derive(Default)]
struct Stream {
    collector: Collector,
    pending: Vec<(usize, Value)>,
    failure: Option<SnapshotError>,
}

impl Stream {
    fn accept(&mut self, index: usize, item: Value) -> Result<(), ()> {
        let has_kind = item
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|kind| !kind.is_empty());
        if !has_kind {
            self.pending.push((index, item));
            return Ok(());
        }
        let location = Location {
            document: None,
            index,
        };
        self.collector
            .item(location, item, &ListType::default())
            .map_err(|error| {
                self.failure = Some(error);
            })
    }
}

/// The top-level JSON value, its `items` already streamed.
enum TopLevel {
    /// An object without an `items` array: a single Kubernetes object.
    Object(Map<String, Value>),
    /// A list's fields other than `items`.
    List(Map<String, Value>),
    /// A top-level array of objects.
    Array,
}

struct Top<'s>(&'s mut Stream);

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = TopLevel;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<TopLevel, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object or List")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut fields = Map::new();
        let mut streamed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" && !streamed {
                match map.next_value_seed(Items(&mut *self.0))? {
                    Some(other) => {
                        fields.insert(key, other);
                    }
                    None => streamed = true,
                }
            } else {
                let value: Value = map.next_value()?;
                fields.insert(key, value);
            }
        }
        Ok(if streamed {
            TopLevel::List(fields)
        } else {
            TopLevel::Object(fields)
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<TopLevel, A::Error> {
        stream_items(self.0, seq)?;
        Ok(TopLevel::Array)
    }
}

/// The value of an `items` key: an array is streamed (`None`); anything else is kept.
struct Items<'s>(&'s mut Stream);

impl<'de> DeserializeSeed<'de> for Items<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Items<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        stream_items(self.0, seq)?;
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Some(Value::Bool(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Some(Value::from(value)))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Some(Value::from(value)))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Some(Value::from(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Some(Value::String(value.to_owned())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Some(Value::Null))
    }
}

fn stream_items<'de, A: SeqAccess<'de>>(stream: &mut Stream, mut seq: A) -> Result<(), A::Error> {
    let mut index = 0;
    while let Some(item) = seq.next_element::<Value>()? {
        stream
            .accept(index, item)
            .map_err(|()| de::Error::custom("stopped at a malformed item"))?;
        index += 1;
    }
    Ok(())
}
