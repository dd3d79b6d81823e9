//! The resource types the simulated API serves: group, version, kind, plural, scope,
//! subresources and how each is printed. Describes resources; stores none.

use serde_json::Value;

use super::conversion::Conversion;
use super::rejection::Qualified;

/// The index of a resource type in the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(pub usize);

/// How `kubectl get` prints a resource's rows.
#[derive(Clone, Debug, PartialEq)]
pub enum Columns {
    /// NAME AGE.
    NameAge,
    /// NAME STATUS ROLES AGE VERSION (+ wide).
    Node,
    /// NAME READY STATUS RESTARTS AGE (+ IP NODE ... wide).
    Pod,
    /// NAME READY UP-TO-DATE AVAILABLE AGE.
    Deployment,
    /// NAME STATUS AGE.
    Namespace,
    /// LAST SEEN TYPE REASON OBJECT MESSAGE (core and events.k8s.io Events).
    Event,
    /// NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE (+ wide).
    DaemonSet,
    /// NAME READY AGE (+ wide).
    StatefulSet,
    /// NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE.
    PersistentVolumeClaim,
    /// NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS
    /// VOLUMEATTRIBUTESCLASS REASON AGE.
    PersistentVolume,
    /// A CRD's additionalPrinterColumns (built-in types reuse them for simple columns).
    Printer(Vec<PrinterColumn>),
}

/// One additionalPrinterColumn of a CRD.
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    /// The column header.
    pub name: String,
    /// The OpenAPI type (`string`, `integer`, `date`, ...).
    pub kind: String,
    /// The simple JSONPath to the value.
    pub json_path: String,
    /// The column description.
    pub description: String,
    /// 0 for default columns, more for `-o wide`.
    pub priority: i64,
    /// What a built-in column prints when the value is absent (CRD columns print nothing).
    pub missing: Option<String>,
}

/// One resource type.
#[derive(Clone, Debug)]
pub struct ResourceType {
    /// The API group, empty for core.
    pub group: String,
    /// The version.
    pub version: String,
    /// The kind.
    pub kind: String,
    /// The plural resource name, used in URLs.
    pub plural: String,
    /// The singular name.
    pub singular: String,
    /// Short names (`po`, `spol`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Whether `/status` is a subresource (then main writes ignore status and vice versa).
    pub status: bool,
    /// Whether `/scale` is a subresource.
    pub scale: bool,
    /// Whether the object carries `metadata.generation`, bumped on spec changes.
    pub generation: bool,
    /// Whether it is a custom resource (no strategic merge patch; schema from the CRD).
    pub custom: bool,
    /// The CRD's openAPIV3Schema, for list types of custom resources.
    pub schema: Option<Value>,
    /// How rows print.
    pub columns: Columns,
    /// For a type served from another type's storage: that type and the conversion.
    pub stored_as: Option<(ResourceId, Conversion)>,
}

impl ResourceType {
    fn builtin(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
            singular: kind.to_lowercase(),
            short_names: Vec::new(),
            categories: Vec::new(),
            namespaced,
            status: false,
            scale: false,
            generation: false,
            custom: false,
            schema: None,
            columns: Columns::NameAge,
            stored_as: None,
        }
    }

    fn short(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    fn in_all(mut self) -> Self {
        self.categories = vec!["all".to_owned()];
        self
    }

    fn with_status(mut self) -> Self {
        self.status = true;
        self
    }

    fn with_scale(mut self) -> Self {
        self.scale = true;
        self
    }

    fn generational(mut self) -> Self {
        self.generation = true;
        self
    }

    fn printed(mut self, columns: Columns) -> Self {
        self.columns = columns;
        self
    }

    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The resource as errors name it.
    pub fn qualified(&self) -> Qualified<'_> {
        Qualified {
            group: &self.group,
            resource: &self.plural,
        }
    }

    /// `PodList`.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Whether this is the core Pod type.
    pub fn is_pod(&self) -> bool {
        self.group.is_empty() && self.plural == "pods"
    }

    /// Whether this is the core Namespace type.
    pub fn is_namespace(&self) -> bool {
        self.group.is_empty() && self.plural == "namespaces"
    }
}

/// A printer column at a JSONPath.
fn column(name: &str, kind: &str, json_path: &str) -> PrinterColumn {
    PrinterColumn {
        name: name.to_owned(),
        kind: kind.to_owned(),
        json_path: json_path.to_owned(),
        description: String::new(),
        priority: 0,
        missing: None,
    }
}

/// A printer column that prints `missing` when the value is absent.
fn column_or(name: &str, kind: &str, json_path: &str, missing: &str) -> PrinterColumn {
    PrinterColumn {
        missing: Some(missing.to_owned()),
        ..column(name, kind, json_path)
    }
}

fn age() -> PrinterColumn {
    column("Age", "date", ".metadata.creationTimestamp")
}

/// Every resource type the server knows, in discovery order.
#[derive(Clone, Debug)]
pub struct Catalog {
    types: Vec<ResourceType>,
}

impl Catalog {
    /// The built-in types kube-spread and kubectl need, plus kube-spread's CRDs.
    pub fn standard() -> Self {
        let mut types = vec![
            ResourceType::builtin("", "v1", "Namespace", "namespaces", false)
                .short(&["ns"])
                .with_status()
                .printed(Columns::Namespace),
            ResourceType::builtin("", "v1", "Node", "nodes", false)
                .short(&["no"])
                .with_status()
                .printed(Columns::Node),
            ResourceType::builtin("", "v1", "Pod", "pods", true)
                .short(&["po"])
                .in_all()
                .with_status()
                .printed(Columns::Pod),
            ResourceType::builtin(
                "",
                "v1",
                "PersistentVolumeClaim",
                "persistentvolumeclaims",
                true,
            )
            .short(&["pvc"])
            .with_status()
            .printed(Columns::PersistentVolumeClaim),
            ResourceType::builtin("", "v1", "PersistentVolume", "persistentvolumes", false)
                .short(&["pv"])
                .with_status()
                .printed(Columns::PersistentVolume),
            ResourceType::builtin("", "v1", "Event", "events", true)
                .short(&["ev"])
                .printed(Columns::Event),
            ResourceType::builtin("apps", "v1", "Deployment", "deployments", true)
                .short(&["deploy"])
                .in_all()
                .with_status()
                .with_scale()
                .generational()
                .printed(Columns::Deployment),
            ResourceType::builtin("apps", "v1", "ReplicaSet", "replicasets", true)
                .short(&["rs"])
                .in_all()
                .with_status()
                .with_scale()
                .generational()
                .printed(Columns::Printer(vec![
                    column("Desired", "integer", ".spec.replicas"),
                    column_or("Current", "integer", ".status.replicas", "0"),
                    column_or("Ready", "integer", ".status.readyReplicas", "0"),
                    age(),
                ])),
            ResourceType::builtin("apps", "v1", "StatefulSet", "statefulsets", true)
                .short(&["sts"])
                .in_all()
                .with_status()
                .with_scale()
                .generational()
                .printed(Columns::StatefulSet),
            ResourceType::builtin("apps", "v1", "DaemonSet", "daemonsets", true)
                .short(&["ds"])
                .in_all()
                .with_status()
                .generational()
                .printed(Columns::DaemonSet),
            ResourceType::builtin(
                "policy",
                "v1",
                "PodDisruptionBudget",
                "poddisruptionbudgets",
                true,
            )
            .short(&["pdb"])
            .with_status()
            .generational()
            .printed(Columns::Printer(vec![
                column_or("Min Available", "string", ".spec.minAvailable", "N/A"),
                column_or("Max Unavailable", "string", ".spec.maxUnavailable", "N/A"),
                column_or(
                    "Allowed Disruptions",
                    "integer",
                    ".status.disruptionsAllowed",
                    "0",
                ),
                age(),
            ])),
            ResourceType::builtin("coordination.k8s.io", "v1", "Lease", "leases", true).printed(
                Columns::Printer(vec![
                    column("Holder", "string", ".spec.holderIdentity"),
                    age(),
                ]),
            ),
            ResourceType::builtin("events.k8s.io", "v1", "Event", "events", true)
                .short(&["ev"])
                .printed(Columns::Event),
        ];
        types.push(custom_type(&crate::api::crd()));
        types.push(custom_type(&crate::api::cluster_crd()));
        let core_events = types
            .iter()
            .position(|t| t.group.is_empty() && t.plural == "events");
        if let (Some(core), Some(events)) = (
            core_events,
            types
                .iter_mut()
                .find(|t| t.group == "events.k8s.io" && t.plural == "events"),
        ) {
            events.stored_as = Some((ResourceId(core), Conversion::EventsV1));
        }
        Self { types }
    }

    /// All types.
    pub fn types(&self) -> impl Iterator<Item = (ResourceId, &ResourceType)> {
        self.types
            .iter()
            .enumerate()
            .map(|(i, t)| (ResourceId(i), t))
    }

    /// The type with an id.
    pub fn get(&self, id: ResourceId) -> Option<&ResourceType> {
        self.types.get(id.0)
    }

    /// The number of types.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// The type whose storage holds objects of `id`, and how to convert (None: its own).
    pub fn storage_of(&self, id: ResourceId) -> (ResourceId, Option<Conversion>) {
        match self.get(id).and_then(|t| t.stored_as) {
            Some((stored, conversion)) => (stored, Some(conversion)),
            None => (id, None),
        }
    }

    /// The type served at `group/version/plural`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<ResourceId> {
        self.types()
            .find(|(_, t)| t.group == group && t.version == version && t.plural == plural)
            .map(|(id, _)| id)
    }

    /// The type of a k8s-openapi or kube-derived resource.
    pub fn of<K: kube::Resource<DynamicType = ()>>(&self) -> Option<ResourceId> {
        self.find(&K::group(&()), &K::version(&()), &K::plural(&()))
    }

    /// The API groups in discovery order, each with its one version.
    pub fn groups(&self) -> Vec<(String, String)> {
        let mut groups: Vec<(String, String)> = Vec::new();
        for t in &self.types {
            let entry = (t.group.clone(), t.version.clone());
            if !groups.contains(&entry) {
                groups.push(entry);
            }
        }
        groups
    }
}

/// A custom type, read from a CRD kube-spread generates.
fn custom_type(
    crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> ResourceType {
    let version = crd.spec.versions.first();
    let columns = version
        .and_then(|v| v.additional_printer_columns.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|c| PrinterColumn {
            name: c.name,
            kind: c.type_,
            json_path: c.json_path,
            description: c.description.unwrap_or_default(),
            priority: i64::from(c.priority.unwrap_or(0)),
            missing: None,
        })
        .collect();
    let schema = version
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .and_then(|s| serde_json::to_value(s).ok());
    ResourceType {
        group: crd.spec.group.clone(),
        version: version.map(|v| v.name.clone()).unwrap_or_default(),
        kind: crd.spec.names.kind.clone(),
        plural: crd.spec.names.plural.clone(),
        singular: crd.spec.names.singular.clone().unwrap_or_default(),
        short_names: crd.spec.names.short_names.clone().unwrap_or_default(),
        categories: crd.spec.names.categories.clone().unwrap_or_default(),
        namespaced: crd.spec.scope == "Namespaced",
        status: true,
        scale: false,
        generation: true,
        custom: true,
        schema,
        columns: Columns::Printer(columns),
        stored_as: None,
    }
}
