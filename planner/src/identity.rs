//! Typed identities of the pods and workloads a plan names. Each prints, and serializes to,
//! the text `plan -o json` and the status have always shown (`namespace/name`, `Kind/name`),
//! so that callers look objects up by their parts and never split that text again.

use std::{fmt, str::FromStr, sync::Arc};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{Pod, Workload, WorkloadKind};

/// Text that names no pod or workload.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseRef {
    /// A pod is named `namespace/name`.
    #[error("{0:?} is not namespace/name")]
    Pod(String),
    /// A workload is named `Kind/name` or `namespace/Kind/name`, Kind Deployment or StatefulSet.
    #[error("{0:?} is not Kind/name or namespace/Kind/name")]
    Workload(String),
}

/// A pod, by namespace and name; written `namespace/name`, and ordered as that text is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PodRef {
    /// Its namespace.
    pub namespace: Arc<str>,
    /// Its name.
    pub name: String,
}

impl PodRef {
    /// The identity of a pod.
    pub fn of(pod: &Pod) -> Self {
        Self {
            namespace: Arc::clone(&pod.namespace),
            name: pod.name.clone(),
        }
    }
}

impl PodRef {
    /// The bytes of its text, without building it.
    fn text(&self) -> impl Iterator<Item = u8> + '_ {
        self.namespace
            .bytes()
            .chain(std::iter::once(b'/'))
            .chain(self.name.bytes())
    }
}

// Plans list pods in the order of their text (`a-b/x` before `a/y`), as they always have.
impl Ord for PodRef {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text().cmp(other.text())
    }
}

impl PartialOrd for PodRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for PodRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl FromStr for PodRef {
    type Err = ParseRef;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('/') {
            Some((namespace, name))
                if !namespace.is_empty() && !name.is_empty() && !name.contains('/') =>
            {
                Ok(Self {
                    namespace: Arc::from(namespace),
                    name: name.to_owned(),
                })
            }
            _ => Err(ParseRef::Pod(text.to_owned())),
        }
    }
}

impl Serialize for PodRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PodRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A Deployment or StatefulSet as a plan names it: `Kind/name` within its group's namespace,
/// `namespace/Kind/name` in a group across namespaces (where the namespace is not implied).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkloadRef {
    /// Its namespace when the name must carry it (a group across namespaces); None when it is
    /// the namespace of the group, the policy or the pod that names it.
    pub namespace: Option<Arc<str>>,
    /// Deployment or StatefulSet.
    pub kind: WorkloadKind,
    /// Its name.
    pub name: String,
}

impl WorkloadRef {
    /// A workload named within its namespace: `Kind/name`.
    pub fn local(workload: &Workload) -> Self {
        Self {
            namespace: None,
            kind: workload.kind,
            name: workload.name.clone(),
        }
    }

    /// A workload named with its namespace: `namespace/Kind/name`.
    pub fn qualified(workload: &Workload) -> Self {
        Self {
            namespace: Some(Arc::clone(&workload.namespace)),
            ..Self::local(workload)
        }
    }

    /// Its namespace: the one it names, else `implied` (the namespace of whoever names it).
    pub fn namespace_or<'a>(&'a self, implied: &'a str) -> &'a str {
        self.namespace.as_deref().unwrap_or(implied)
    }

    /// Whether it names `workload`, read in the namespace `implied` when it names none.
    pub fn names(&self, workload: &Workload, implied: &str) -> bool {
        self.kind == workload.kind
            && self.name == workload.name
            && self.namespace_or(implied) == &*workload.namespace
    }
}

impl fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(namespace) = &self.namespace {
            write!(f, "{namespace}/")?;
        }
        write!(f, "{}/{}", self.kind.as_str(), self.name)
    }
}

impl FromStr for WorkloadRef {
    type Err = ParseRef;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || ParseRef::Workload(text.to_owned());
        let parts: Vec<&str> = text.split('/').collect();
        let (namespace, kind, name) = match parts.as_slice() {
            [kind, name] => (None, *kind, *name),
            [namespace, kind, name] if !namespace.is_empty() => {
                (Some(Arc::from(*namespace)), *kind, *name)
            }
            _ => return Err(invalid()),
        };
        let kind = match kind {
            "Deployment" => WorkloadKind::Deployment,
            "StatefulSet" => WorkloadKind::StatefulSet,
            _ => return Err(invalid()),
        };
        if name.is_empty() {
            return Err(invalid());
        }
        Ok(Self {
            namespace,
            kind,
            name: name.to_owned(),
        })
    }
}

impl Serialize for WorkloadRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WorkloadRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde for an optional workload written as text that is empty when there is none (the
/// status's `workload` field): unreadable text reads as none, so that one odd record never
/// makes a whole status unreadable.
pub mod optional_workload {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::WorkloadRef;

    /// Writes the workload's text, or `""`.
    pub fn serialize<S: Serializer>(
        workload: &Option<WorkloadRef>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match workload {
            Some(workload) => serializer.collect_str(workload),
            None => serializer.serialize_str(""),
        }
    }

    /// Reads a workload's text; empty or unreadable text is none.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<WorkloadRef>, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(text.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_reads_back_from_the_text_it_prints() {
        let pod: PodRef = "apps/web-1".parse().unwrap();
        assert_eq!((&*pod.namespace, pod.name.as_str()), ("apps", "web-1"));
        assert_eq!(pod.to_string(), "apps/web-1");
        assert!("web-1".parse::<PodRef>().is_err());
        assert!("apps/web/1".parse::<PodRef>().is_err());
    }

    #[test]
    fn pods_are_ordered_as_their_text() {
        let pod = |text: &str| text.parse::<PodRef>().unwrap();
        assert!(pod("a-b/x") < pod("a/y"));
        assert!(pod("a/x") < pod("a/y"));
    }

    #[test]
    fn a_workload_prints_its_namespace_only_when_it_names_one() {
        let local: WorkloadRef = "Deployment/web".parse().unwrap();
        assert_eq!(local.namespace, None);
        assert_eq!(local.to_string(), "Deployment/web");
        let qualified: WorkloadRef = "apps/StatefulSet/db".parse().unwrap();
        assert_eq!(qualified.namespace_or("other"), "apps");
        assert_eq!(qualified.kind, WorkloadKind::StatefulSet);
        assert_eq!(qualified.to_string(), "apps/StatefulSet/db");
        assert!("DaemonSet/agent".parse::<WorkloadRef>().is_err());
        assert!("a/b/c/d".parse::<WorkloadRef>().is_err());
    }
}
