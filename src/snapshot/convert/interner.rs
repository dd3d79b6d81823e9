//! Shares equal label sets, scheduling specs, namespaces and node names between pods, so that
//! the pods of one template cost one `SchedulingSpec` between them, and image names between
//! nodes. Holds no other state.

use std::{collections::HashSet, hash::Hash, sync::Arc};

use crate::planner::model::{Labels, Node, SchedulingSpec};

/// The shared values handed out so far; equal inputs come back as the same `Arc`.
#[derive(Debug, Default)]
pub struct Interner {
    labels: HashSet<Arc<Labels>>,
    specs: HashSet<Arc<SchedulingSpec>>,
    strings: HashSet<Arc<str>>,
}

impl Interner {
    /// An empty interner.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared copy of a label set.
    pub fn labels(&mut self, labels: Labels) -> Arc<Labels> {
        share(&mut self.labels, labels)
    }

    /// The shared copy of a scheduling spec.
    pub fn spec(&mut self, spec: SchedulingSpec) -> Arc<SchedulingSpec> {
        share(&mut self.specs, spec)
    }

    /// The shared copy of a short string that many objects repeat (a namespace, a node name).
    pub fn name(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.strings.get(name) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(name);
        self.strings.insert(Arc::clone(&shared));
        shared
    }

    /// Shares a node's image names with every other node holding the same images (a node
    /// lists up to 50, each under two or three names).
    pub fn share_images(&mut self, node: &mut Node) {
        for image in &mut node.images {
            for name in &mut image.names {
                *name = self.name(name);
            }
        }
    }

    /// Forgets the values no object shares any more, so a long-running watch does not keep
    /// every label set and template it ever saw.
    pub fn prune(&mut self) {
        self.labels.retain(|labels| Arc::strong_count(labels) > 1);
        self.specs.retain(|spec| Arc::strong_count(spec) > 1);
        self.strings.retain(|name| Arc::strong_count(name) > 1);
    }

    /// How many distinct scheduling specs are held (one per template, in a healthy cluster).
    pub fn spec_count(&self) -> usize {
        self.specs.len()
    }
}

fn share<T: Eq + Hash>(set: &mut HashSet<Arc<T>>, value: T) -> Arc<T> {
    if let Some(shared) = set.get(&value) {
        return Arc::clone(shared);
    }
    let shared = Arc::new(value);
    set.insert(Arc::clone(&shared));
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_forgets_only_what_nothing_else_holds() {
        let mut interner = Interner::new();
        let kept = interner.name("homelab-02");
        drop(interner.name("homelab-03"));
        interner.prune();
        assert_eq!(interner.strings.len(), 1);
        assert!(Arc::ptr_eq(&kept, &interner.name("homelab-02")));
    }
}
