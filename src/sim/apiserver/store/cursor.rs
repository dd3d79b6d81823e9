//! The store's history as a change feed: watches and in-process caches read changes after a
//! resourceVersion, or 410 Gone once the bounded history no longer reaches back that far.

use super::*;

impl Store {
    /// A subscription to every change after `resource_version` (0: after the current one).
    pub fn subscribe(&self, resource_version: Option<u64>) -> Cursor {
        Cursor {
            store: self.clone(),
            position: resource_version.unwrap_or_else(|| self.resource_version()),
            latest: self.inner.latest.subscribe(),
        }
    }

    /// The changes after `resource_version`, oldest first, and the newest version scanned;
    /// 410 Gone when the history no longer reaches back that far.
    pub fn changes_after(
        &self,
        resource_version: u64,
    ) -> Result<(Vec<Arc<Change>>, u64), Rejection> {
        let state = self.read();
        if resource_version < state.oldest {
            return Err(Rejection::too_old(resource_version, state.oldest));
        }
        let start = state
            .history
            .partition_point(|c| c.resource_version <= resource_version);
        let changes: Vec<Arc<Change>> = state.history.range(start..).cloned().collect();
        Ok((changes, state.resource_version.max(resource_version)))
    }

    /// Waits until the resourceVersion moves past `resource_version`.
    pub async fn wait_past(&self, resource_version: u64) {
        let mut latest = self.inner.latest.subscribe();
        // The sender lives as long as the store, so `changed` only ends with a change.
        let _ = latest.wait_for(|rv| *rv > resource_version).await;
    }

    /// A receiver of the latest resourceVersion.
    pub fn latest(&self) -> watch::Receiver<u64> {
        self.inner.latest.subscribe()
    }
}

/// A subscription to the store's changes, for in-process caches: each call returns the
/// changes since the last, waiting for at least one.
#[derive(Debug)]
pub struct Cursor {
    store: Store,
    position: u64,
    latest: watch::Receiver<u64>,
}

impl Cursor {
    /// The resourceVersion the cursor has read up to.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next changes (at least one), or 410 Gone when the cursor fell behind the history.
    pub async fn next(&mut self) -> Result<Vec<Arc<Change>>, Rejection> {
        loop {
            let (changes, newest) = self.store.changes_after(self.position)?;
            self.position = newest;
            if !changes.is_empty() {
                return Ok(changes);
            }
            let position = self.position;
            if self.latest.wait_for(|rv| *rv > position).await.is_err() {
                return Ok(Vec::new());
            }
        }
    }

    /// The changes available now, without waiting.
    pub fn poll(&mut self) -> Result<Vec<Arc<Change>>, Rejection> {
        let (changes, newest) = self.store.changes_after(self.position)?;
        self.position = newest;
        Ok(changes)
    }
}
