//! The simulated cluster's Kubernetes-compatible API: a store built for 150,000 pods, served as
//! an axum Router that kube-rs clients use in-process and kubectl over loopback, with
//! kube-apiserver's semantics where clients rely on them, fault injection and optional RBAC.
//! The control plane (scheduler, controllers, kubelet) builds on [`Store`]'s in-process API.
//!
//! - [`apiserver`]: kube-apiserver's semantics: the store, the HTTP router, queries, patches,
//!   server-side apply, evictions, CRD schema validation, errors, faults, RBAC and audit.
//! - [`prng`]: the seeded random numbers every simulated component draws from.
//! - [`control`]: the simulated control plane (scheduler, controllers, kubelets) on the store.
//! - [`scenario`]: scenario files and the [`scenario::Simulation`] that runs them.
//! - [`report`]: what a run showed: pods per node over time, moves, text and SVG.
//!
//! Using it:
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use kube_spread::{clock::Clock, sim::{FaultRule, SimApi}};
//! let sim = SimApi::new(Clock::starting_at("2025-10-20T08:00:00Z".parse()?));
//! let admin = sim.client();                                   // in-process, no socket
//! let controller = sim.client_as("system:serviceaccount:kube-spread:kube-spread");
//! sim.faults().set(vec![FaultRule::error(429, 0.2).on_verb("list")]);
//! let (address, _server) = sim.serve("127.0.0.1:0".parse()?).await?; // for kubectl
//! kube_spread::sim::write_kubeconfig(std::path::Path::new("kubeconfig"), address)?;
//! let store = sim.store();                                    // the control plane's API
//! let pods = store.catalog().find("", "v1", "pods").ok_or("pods")?;
//! let mut changes = store.subscribe(None);                    // every change from now on
//! # let _ = (admin, controller, pods, changes.poll());
//! # Ok(()) }
//! ```
//!
//! Served for kubectl as kube-apiserver serves them: OpenAPI v3 and v2 generated from
//! k8s-openapi's schemas and the CRD's (validation, client-side apply, `explain`), field
//! validation (Strict, Warn, Ignore), the protobuf bodies of kubectl's typed commands,
//! SelfSubjectAccessReviews and Table watches (`kubectl get -w`).
//!
//! Left out on purpose: aggregated discovery (kubectl falls back to the legacy documents),
//! protobuf responses and CBOR, protobuf bodies of kinds kubectl's typed commands do not
//! create (refused with 415, never half read), defaulting of custom resources beyond the
//! admission hook, garbage collection in the store itself (ownerReferences and
//! propagationPolicy are stored; [`control`]'s garbage collector deletes dependents in the
//! background when a control plane runs) and namespace finalization (a deleted namespace and
//! its objects go at once).

pub mod apiserver;
pub mod control;
pub mod prng;
pub mod report;
pub mod scenario;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

pub use apiserver::audit::{Audit, AuditRecord};
pub use apiserver::catalog::{Catalog, ResourceId, ResourceType};
pub use apiserver::fault::{Fault, FaultRule, Faults};
pub use apiserver::object::{Header, Object};
pub use apiserver::patch::PatchBody;
pub use apiserver::query::{FieldQuery, LabelQuery, ListOptions};
pub use apiserver::rbac::{Identity, Rbac};
pub use apiserver::rejection::{Cause, FieldCause, Rejection};
pub use apiserver::store::{
    Admission, Change, ChangeKind, Cursor, DeleteOptions, Deletion, Page, Store, StoreConfig,
    Subresource, WriteOptions,
};

use self::apiserver::{
    server,
    validation::{self, UnknownFields},
};
use crate::{
    api::{ClusterSpreadPolicy, SpreadPolicy},
    clock::Clock,
};

/// kube-apiserver's handling of a write of one of kube-spread's kinds: unknown fields pruned,
/// defaults applied, the schema and CEL rules checked.
fn admit_policy(
    schema: Result<&'static validation::CrdSchema, validation::LoadSchema>,
    object: &serde_json::Value,
) -> Result<serde_json::Value, Vec<FieldCause>> {
    let schema =
        schema.map_err(|error| vec![Cause::new("InternalError", error.to_string(), "")])?;
    schema
        .validate_with(object, UnknownFields::Prune)
        .map(|validated| validated.object)
        .map_err(|invalid| {
            invalid
                .causes
                .into_iter()
                .map(|cause| Cause::new(cause.reason.cause_type(), cause.message, cause.field))
                .collect()
        })
}

/// Why serving the API on a socket failed.
#[derive(Debug, thiserror::Error)]
pub enum Serve {
    /// The listener could not bind.
    #[error("binding {address}: {source}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bound address could not be read.
    #[error("reading the bound address: {0}")]
    LocalAddress(std::io::Error),
}

/// The simulated API: a store, its faults and grants, and the router in front of them.
#[derive(Clone, Debug)]
pub struct SimApi {
    shared: server::Shared,
}

impl SimApi {
    /// An API with default history size, seeded deterministically, timed by `clock`.
    pub fn new(clock: Clock) -> Self {
        Self::with_config(clock, StoreConfig::default())
    }

    /// An API with a given history size and seed. SpreadPolicies and ClusterSpreadPolicies are validated against the
    /// CRD's schema and CEL rules, pruned and defaulted, as kube-apiserver does.
    pub fn with_config(clock: Clock, config: StoreConfig) -> Self {
        let api = Self {
            shared: server::Shared {
                store: Store::new(clock, config),
                faults: Faults::new(config.seed),
                rbac: Arc::new(Rbac::default()),
                audit: Arc::new(Audit::default()),
                openapi: Arc::default(),
            },
        };
        api.set_admission::<SpreadPolicy>(Arc::new(|object| {
            admit_policy(validation::spread_policy_schema(), object)
        }));
        api.set_admission::<ClusterSpreadPolicy>(Arc::new(|object| {
            admit_policy(validation::cluster_spread_policy_schema(), object)
        }));
        api
    }

    /// The in-process store (the control plane's API).
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The fault rules, switchable at runtime.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// The RBAC grants.
    pub fn rbac(&self) -> &Rbac {
        &self.shared.rbac
    }

    /// The audit log of client requests.
    pub fn audit(&self) -> &Audit {
        &self.shared.audit
    }

    /// Installs the admission hook of the resource type of `K` (validation and defaulting).
    pub fn set_admission<K: kube::Resource<DynamicType = ()>>(&self, hook: Admission) -> bool {
        match self.store().catalog().of::<K>() {
            Some(id) => {
                self.store().set_admission(id, hook);
                true
            }
            None => false,
        }
    }

    /// The router; requests without an identity act as the admin (or the default identity).
    pub fn router(&self) -> axum::Router {
        server::router(self.shared.clone())
    }

    /// A kube client talking to the router in-process, as the admin.
    pub fn client(&self) -> kube::Client {
        kube::Client::new(self.router(), "default")
    }

    /// A kube client whose requests act as `user` (checked against RBAC grants).
    pub fn client_as(&self, user: &str) -> kube::Client {
        let router = self
            .router()
            .layer(axum::Extension(Identity(user.to_owned())));
        kube::Client::new(router, "default")
    }

    /// Serves the router on `address` (use port 0 for any) until the task is dropped or
    /// aborted; returns the bound address and the serving task.
    pub async fn serve(
        &self,
        address: SocketAddr,
    ) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), Serve> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| Serve::Bind { address, source })?;
        let bound = listener.local_addr().map_err(Serve::LocalAddress)?;
        let router = self.router();
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::warn!(error = %error, "Simulated API server stopped.");
            }
        });
        Ok((bound, task))
    }
}

/// The kubeconfig text for a simulated API served at `address` (plain HTTP, no credentials).
pub fn kubeconfig(address: SocketAddr) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-spread-sim\n  cluster:\n    server: http://{address}\ncontexts:\n- name: kube-spread-sim\n  context:\n    cluster: kube-spread-sim\n    user: kube-spread-sim\n    namespace: default\ncurrent-context: kube-spread-sim\nusers:\n- name: kube-spread-sim\n  user: {{}}\npreferences: {{}}\n"
    )
}

/// Writes [`kubeconfig`] to a file.
pub fn write_kubeconfig(path: &Path, address: SocketAddr) -> std::io::Result<()> {
    std::fs::write(path, kubeconfig(address))
}
