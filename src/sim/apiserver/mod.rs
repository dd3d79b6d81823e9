//! kube-apiserver's semantics, as the simulated cluster serves them: what is stored and how
//! writes, reads and watches behave, and the HTTP router in front of it.
//!
//! - [`catalog`]: the resource types served and how each prints.
//! - [`conversion`]: APIs served from another API's storage (events.k8s.io/v1 Events).
//! - [`openapi`]: the OpenAPI v2 and v3 documents kubectl validates, patches and explains with.
//! - [`object`]: one stored object: JSON bytes plus a parsed header.
//! - [`store`]: objects, the global resourceVersion, history, and write semantics.
//! - [`query`]: label and field selectors, list and watch options.
//! - [`patch`]: merge, JSON and strategic merge patches.
//! - [`protobuf`]: the protobuf request bodies kubectl's typed commands send, read into JSON.
//! - [`managed`]: managedFields and server-side apply.
//! - [`shape`]: which lists merge by which keys, which fields are atomic.
//! - [`eviction`]: the `pods/eviction` rules and PodDisruptionBudgets.
//! - [`fields`]: field validation (Strict, Warn, Ignore) of unknown and duplicate fields.
//! - [`rejection`]: kube-apiserver's error Status bodies.
//! - [`fault`]: injected errors, latency, watch cuts and 410s.
//! - [`rbac`]: rules per identity and the Forbidden answer.
//! - [`audit`]: every client request with its identity and answer, for tests to count.
//! - [`server`]: the HTTP router: discovery, Tables, watch streams.
//! - [`validation`]: custom resources against their CRD's structural schema and CEL rules.

pub mod audit;
pub mod catalog;
pub mod conversion;
pub mod eviction;
pub mod fault;
pub mod fields;
pub mod managed;
pub mod object;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod query;
pub mod rbac;
pub mod rejection;
pub mod server;
pub mod shape;
pub mod store;
pub mod validation;
