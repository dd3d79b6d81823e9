//! Shares equal label sets, scheduling specs, namespaces and node names between pods, so that
//! the pods of one template cost one `SchedulingSpec` between them, templates between workloads,
//! and image names between nodes. Holds no other state.

use std::{collections::HashSet, hash::Hash, sync::Arc};

use crate::planner::model::{Labels, Node, SchedulingSpec, Workload};

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

    /// Shares a workload's namespace, and its template's scheduling spec with every pod and
    /// workload of an equal one: 10,000 Deployments of a few templates hold a few specs.
    pub fn share_workload(&mut self, workload: &mut Workload) {
        workload.namespace = self.name(&workload.namespace);
        match self.specs.get(&*workload.template) {
            Some(shared) => workload.template = Arc::clone(shared),
            None => {
                self.specs.insert(Arc::clone(&workload.template));
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
    use crate::planner::{
        model::{UpdateStrategy, WorkloadKind, WorkloadStatus},
        selector::LabelSelector,
    };

    #[test]
    fn pruning_forgets_only_what_nothing_else_holds() {
        let mut interner = Interner::new();
        let kept = interner.name("homelab-02");
        drop(interner.name("homelab-03"));
        interner.prune();
        assert_eq!(interner.strings.len(), 1);
        assert!(Arc::ptr_eq(&kept, &interner.name("homelab-02")));
    }

    #[test]
    fn workloads_of_equal_templates_share_one_spec_with_their_pods() {
        let mut interner = Interner::new();
        let spec = SchedulingSpec {
            priority_class: Some("apps".to_owned()),
            ..SchedulingSpec::default()
        };
        let pods = interner.spec(spec.clone());
        let mut first = workload(&spec, "team-1");
        let mut second = workload(&spec, "team-1");
        let mut other = workload(&SchedulingSpec::default(), "team-2");
        interner.share_workload(&mut first);
        interner.share_workload(&mut second);
        interner.share_workload(&mut other);
        assert!(Arc::ptr_eq(&first.template, &pods));
        assert!(Arc::ptr_eq(&second.template, &pods));
        assert!(Arc::ptr_eq(&first.namespace, &second.namespace));
        assert!(!Arc::ptr_eq(&other.template, &pods));
        assert_eq!(*other.template, SchedulingSpec::default());
    }

    fn workload(template: &SchedulingSpec, namespace: &str) -> Workload {
        Workload {
            kind: WorkloadKind::Deployment,
            namespace: Arc::from(namespace),
            name: "web".to_owned(),
            uid: "uid-web".to_owned(),
            generation: 1,
            labels: Labels::new(),
            ignored: false,
            selector: LabelSelector::from_labels(&Labels::new()),
            replicas: 1,
            template_labels: Labels::new(),
            template: Arc::new(template.clone()),
            strategy: UpdateStrategy::Recreate,
            claim_templates: Vec::new(),
            status: WorkloadStatus::default(),
        }
    }
}
