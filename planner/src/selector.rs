//! Label and node selectors with the matching rules of apimachinery's `labels.Selector` and
//! component-helpers' `nodeaffinity`: what matches, what matches nothing, and why.

use serde::Serialize;

use super::labels::Labels;

/// A set-based operator on labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Operator {
    /// The value is one of the values.
    In,
    /// The label is absent, or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
    /// The value, as an integer, is greater than the single value (node selectors only).
    Gt,
    /// The value, as an integer, is less than the single value (node selectors only).
    Lt,
}

/// One requirement on a label.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// The operator.
    pub operator: Operator,
    /// The values (sorted, without duplicates).
    pub values: Vec<String>,
}

impl Requirement {
    /// A requirement, with its values sorted and deduplicated.
    pub fn new(key: impl Into<String>, operator: Operator, mut values: Vec<String>) -> Self {
        values.sort();
        values.dedup();
        Self {
            key: key.into(),
            operator,
            values,
        }
    }

    /// `key in (value)`: what a matchLabels pair becomes.
    pub fn equals(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(key, Operator::In, vec![value.into()])
    }

    /// Whether labels satisfy it.
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.binary_search(v).is_ok()),
            Operator::NotIn => value.is_none_or(|v| self.values.binary_search(v).is_err()),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::Gt | Operator::Lt => {
                let (Some(value), [bound]) = (value, self.values.as_slice()) else {
                    return false;
                };
                match (value.parse::<i64>(), bound.parse::<i64>()) {
                    (Ok(value), Ok(bound)) if self.operator == Operator::Gt => value > bound,
                    (Ok(value), Ok(bound)) => value < bound,
                    _ => false,
                }
            }
        }
    }
}

/// A label selector, compiled: `Nothing` for a null selector, otherwise the requirements, all of
/// which must hold (none at all is the "everything" selector).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LabelSelector {
    /// A null selector: matches nothing.
    Nothing,
    /// Requirements in key order; empty matches everything.
    Requirements(Vec<Requirement>),
}

impl LabelSelector {
    /// The selector that matches every set of labels.
    pub fn everything() -> Self {
        Self::Requirements(Vec::new())
    }

    /// A selector from requirements (sorted, so equal selectors compare equal).
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort();
        requirements.dedup();
        Self::Requirements(requirements)
    }

    /// A selector requiring each pair, as `matchLabels` does.
    pub fn from_labels(labels: &Labels) -> Self {
        Self::from_requirements(
            labels
                .iter()
                .map(|(key, value)| Requirement::equals(key, value))
                .collect(),
        )
    }

    /// Whether labels match.
    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            Self::Nothing => false,
            Self::Requirements(requirements) => requirements.iter().all(|r| r.matches(labels)),
        }
    }

    /// `labels.Selector.Empty()`: true only for the everything selector. The scheduler counts
    /// no pods at all for an empty selector.
    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Requirements(requirements) if requirements.is_empty())
    }

    /// The selector with `key in (value)` added for each pair, as the scheduler merges
    /// `matchLabelKeys` values into a constraint's selector. Nothing stays nothing.
    pub fn with_labels(self, extra: &Labels) -> Self {
        match self {
            Self::Nothing => Self::Nothing,
            Self::Requirements(mut requirements) => {
                requirements.extend(extra.iter().map(|(k, v)| Requirement::equals(k, v)));
                Self::from_requirements(requirements)
            }
        }
    }

    /// The selector in `kubectl`'s string form (`app=web,tier in (a,b)`).
    pub fn describe(&self) -> String {
        match self {
            Self::Nothing => "<none>".to_owned(),
            Self::Requirements(requirements) if requirements.is_empty() => "<all>".to_owned(),
            Self::Requirements(requirements) => requirements
                .iter()
                .map(|r| match (r.operator, r.values.as_slice()) {
                    (Operator::In, [value]) => format!("{}={}", r.key, value),
                    (Operator::Exists, _) => r.key.clone(),
                    (Operator::DoesNotExist, _) => format!("!{}", r.key),
                    (Operator::In, values) => format!("{} in ({})", r.key, values.join(",")),
                    (Operator::NotIn, values) => format!("{} notin ({})", r.key, values.join(",")),
                    (Operator::Gt, values) => format!("{}>{}", r.key, values.join(",")),
                    (Operator::Lt, values) => format!("{}<{}", r.key, values.join(",")),
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// One term of a node selector: label expressions and `metadata.name` field expressions, ANDed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorTerm {
    /// Requirements on node labels.
    pub match_expressions: Vec<Requirement>,
    /// Requirements on node fields; only `metadata.name` is supported, as upstream.
    pub match_fields: Vec<Requirement>,
}

impl NodeSelectorTerm {
    /// Whether the node of this name and these labels matches every expression.
    pub fn matches(&self, name: &str, labels: &Labels) -> bool {
        // An empty term selects nothing (nodeaffinity.newNodeSelectorTerms skips it).
        if self.match_expressions.is_empty() && self.match_fields.is_empty() {
            return false;
        }
        self.match_expressions.iter().all(|r| r.matches(labels))
            && self.match_fields.iter().all(|r| {
                let fields = Labels::from([("metadata.name".to_owned(), name.to_owned())]);
                r.key == "metadata.name" && r.matches(&fields)
            })
    }
}

/// A required node affinity: the terms are ORed; no terms matches no node.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelector {
    /// The terms, any of which admits a node.
    pub terms: Vec<NodeSelectorTerm>,
}

impl NodeSelector {
    /// Whether the node of this name and these labels matches any term.
    pub fn matches(&self, name: &str, labels: &Labels) -> bool {
        self.terms.iter().any(|term| term.matches(name, labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn each_operator_matches_as_apimachinery_does() {
        let web = labels(&[("app", "web"), ("size", "5")]);
        let values = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let cases = [
            (
                Requirement::new("app", Operator::In, values(&["web", "db"])),
                true,
            ),
            (
                Requirement::new("app", Operator::In, values(&["db"])),
                false,
            ),
            (
                Requirement::new("app", Operator::NotIn, values(&["db"])),
                true,
            ),
            (
                Requirement::new("tier", Operator::NotIn, values(&["db"])),
                true,
            ),
            (Requirement::new("app", Operator::Exists, vec![]), true),
            (Requirement::new("tier", Operator::Exists, vec![]), false),
            (
                Requirement::new("tier", Operator::DoesNotExist, vec![]),
                true,
            ),
            (Requirement::new("size", Operator::Gt, values(&["4"])), true),
            (
                Requirement::new("size", Operator::Lt, values(&["5"])),
                false,
            ),
            (Requirement::new("app", Operator::Gt, values(&["4"])), false),
            (
                Requirement::new("tier", Operator::Lt, values(&["9"])),
                false,
            ),
        ];
        for (requirement, expected) in cases {
            assert_eq!(requirement.matches(&web), expected, "{requirement:?}");
        }
    }

    #[test]
    fn a_null_selector_matches_nothing_and_an_empty_one_everything() {
        let any = labels(&[("app", "web")]);
        assert!(!LabelSelector::Nothing.matches(&any));
        assert!(LabelSelector::everything().matches(&any));
        assert!(LabelSelector::everything().is_empty());
        assert!(!LabelSelector::Nothing.is_empty());
    }

    #[test]
    fn merging_label_values_narrows_a_selector_but_never_widens_nothing() {
        let selector = LabelSelector::from_labels(&labels(&[("app", "web")]));
        let merged = selector.with_labels(&labels(&[("pod-template-hash", "abc")]));
        assert!(merged.matches(&labels(&[("app", "web"), ("pod-template-hash", "abc")])));
        assert!(!merged.matches(&labels(&[("app", "web"), ("pod-template-hash", "old")])));
        assert_eq!(
            LabelSelector::Nothing.with_labels(&labels(&[("a", "b")])),
            LabelSelector::Nothing
        );
        assert!(
            !LabelSelector::everything()
                .with_labels(&labels(&[("a", "b")]))
                .is_empty()
        );
    }

    #[test]
    fn node_selector_terms_are_ored_and_an_empty_term_selects_nothing() {
        let n1 = labels(&[("zone", "a")]);
        let zone_a = NodeSelectorTerm {
            match_expressions: vec![Requirement::equals("zone", "a")],
            match_fields: vec![],
        };
        let named_n2 = NodeSelectorTerm {
            match_expressions: vec![],
            match_fields: vec![Requirement::equals("metadata.name", "n2")],
        };
        let empty = NodeSelectorTerm {
            match_expressions: vec![],
            match_fields: vec![],
        };
        assert!(
            NodeSelector {
                terms: vec![named_n2.clone(), zone_a]
            }
            .matches("n1", &n1)
        );
        assert!(
            !NodeSelector {
                terms: vec![named_n2]
            }
            .matches("n1", &n1)
        );
        assert!(!NodeSelector { terms: vec![empty] }.matches("n1", &n1));
        assert!(!NodeSelector { terms: vec![] }.matches("n1", &n1));
    }
}
