//! A reflector harness for watch tests: a spawned kube-rs reflector over pods with a log of
//! the watcher events it saw, and the names the server holds to compare its cache with.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube_spread::sim::SimApi;

/// Lets spawned watchers catch up: on the paused clock, time only moves when all are idle.
pub async fn settle() {
    tokio::time::sleep(Duration::from_secs(1)).await;
}

pub fn names(pods: &[Arc<Pod>]) -> BTreeSet<String> {
    pods.iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

pub async fn server_names(pods: &Api<Pod>) -> BTreeSet<String> {
    pods.list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect()
}

/// The pods in `default`, read in-process (no faults apply there).
pub fn stored_names(sim: &SimApi) -> BTreeSet<String> {
    let store = sim.store();
    let id = store.catalog().of::<Pod>().expect("pods");
    let options = kube_spread::sim::ListOptions {
        namespace: Some("default".into()),
        ..Default::default()
    };
    store
        .list(id, &options)
        .expect("list")
        .items
        .iter()
        .map(|o| o.header.name.to_string())
        .collect()
}

/// A reflector over pods in `default`, driven by a spawned task; returns its reader and a log
/// of the watcher events it saw (as "init", "done", "apply:NAME", "delete:NAME").
pub fn reflect(
    sim: &SimApi,
    config: watcher::Config,
) -> (reflector::Store<Pod>, Arc<Mutex<Vec<String>>>) {
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let (reader, writer) = reflector::store::<Pod>();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    let stream = reflector::reflector(writer, watcher(pods, config)).default_backoff();
    tokio::spawn(stream.for_each(move |event| {
        let entry = match event {
            Ok(watcher::Event::Init) => "init".to_owned(),
            Ok(watcher::Event::InitDone) => "done".to_owned(),
            Ok(watcher::Event::InitApply(p)) => {
                format!("initapply:{}", p.metadata.name.unwrap_or_default())
            }
            Ok(watcher::Event::Apply(p)) => {
                format!("apply:{}", p.metadata.name.unwrap_or_default())
            }
            Ok(watcher::Event::Delete(p)) => {
                format!("delete:{}", p.metadata.name.unwrap_or_default())
            }
            Err(error) => format!("error:{error}"),
        };
        seen.lock().expect("log").push(entry);
        futures::future::ready(())
    }));
    (reader, log)
}
