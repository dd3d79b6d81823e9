//! Label and node selectors read from the API objects, with apimachinery's meaning: a null
//! label selector matches nothing and an empty one everything; a node selector term with no
//! requirement, or one it cannot parse, matches no node.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{NodeSelector, NodeSelectorRequirement, NodeSelectorTerm},
    apimachinery::pkg::apis::meta::v1::LabelSelector,
};

/// Labels, as objects carry them.
pub type Labels = BTreeMap<String, String>;

/// A selector operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

/// One requirement on one key (`labels.Requirement`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// A requirement, if its values suit its operator (otherwise a parse error upstream).
    fn new(key: &str, operator: &str, values: &[String], numeric: bool) -> Option<Self> {
        let operator = match operator {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            "Gt" if numeric => Operator::Gt,
            "Lt" if numeric => Operator::Lt,
            _ => return None,
        };
        let valid = match operator {
            Operator::In | Operator::NotIn => !values.is_empty(),
            Operator::Exists | Operator::DoesNotExist => values.is_empty(),
            Operator::Gt | Operator::Lt => {
                values.len() == 1 && values.iter().all(|v| v.parse::<i64>().is_ok())
            }
        };
        valid.then(|| Self {
            key: key.to_owned(),
            operator,
            values: values.to_vec(),
        })
    }

    fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::Gt | Operator::Lt => {
                let (Some(Ok(have)), Some(Ok(bound))) = (
                    value.map(|v| v.parse::<i64>()),
                    self.values.first().map(|v| v.parse::<i64>()),
                ) else {
                    return false;
                };
                if self.operator == Operator::Gt {
                    have > bound
                } else {
                    have < bound
                }
            }
        }
    }
}

/// A label selector (`labels.Selector`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// A null selector: matches nothing.
    Nothing,
    /// Every requirement must hold; none at all matches everything.
    All(Vec<Requirement>),
}

impl Selector {
    /// `metav1.LabelSelectorAsSelector`; an invalid selector matches nothing.
    pub fn of(selector: Option<&LabelSelector>) -> Self {
        let Some(selector) = selector else {
            return Self::Nothing;
        };
        let mut requirements: Vec<Requirement> = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement {
                key: key.clone(),
                operator: Operator::In,
                values: vec![value.clone()],
            });
        }
        for expression in selector.match_expressions.iter().flatten() {
            let values = expression.values.clone().unwrap_or_default();
            match Requirement::new(&expression.key, &expression.operator, &values, false) {
                Some(requirement) => requirements.push(requirement),
                None => return Self::Nothing,
            }
        }
        Self::All(requirements)
    }

    /// A selector matching exactly these labels (`labels.SelectorFromSet`).
    pub fn from_labels(labels: &Labels) -> Self {
        Self::All(
            labels
                .iter()
                .map(|(key, value)| Requirement {
                    key: key.clone(),
                    operator: Operator::In,
                    values: vec![value.clone()],
                })
                .collect(),
        )
    }

    /// This selector's requirements added to `self` (`Selector.Add`); a null selector has
    /// none to add (its `Requirements()` are not selectable).
    #[must_use]
    pub fn and(self, other: &Self) -> Self {
        match (self, other) {
            (Self::Nothing, _) => Self::Nothing,
            (all, Self::Nothing) => all,
            (Self::All(mut mine), Self::All(theirs)) => {
                mine.extend(theirs.iter().cloned());
                Self::All(mine)
            }
        }
    }

    /// Whether the labels match.
    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            Self::Nothing => false,
            Self::All(requirements) => requirements.iter().all(|r| r.matches(labels)),
        }
    }

    /// `Selector.Empty()`: no requirements (true of the match-everything selector only).
    pub fn is_empty(&self) -> bool {
        matches!(self, Self::All(requirements) if requirements.is_empty())
    }
}

/// One term of a node selector: label expressions and `metadata.name` fields, all ANDed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    expressions: Vec<Requirement>,
    fields: Vec<Requirement>,
    /// Whether the term parsed; one that did not matches no node.
    valid: bool,
}

impl Term {
    /// A node selector term.
    pub fn of(term: &NodeSelectorTerm) -> Self {
        let read = |requirements: Option<&Vec<NodeSelectorRequirement>>, fields: bool| {
            requirements
                .into_iter()
                .flatten()
                .map(|r| {
                    if fields && r.key != "metadata.name" {
                        return None;
                    }
                    let values = r.values.clone().unwrap_or_default();
                    let requirement = Requirement::new(&r.key, &r.operator, &values, !fields)?;
                    let single_name = !fields || values.len() == 1;
                    let name_operator =
                        !fields || matches!(requirement.operator, Operator::In | Operator::NotIn);
                    (single_name && name_operator).then_some(requirement)
                })
                .collect::<Option<Vec<Requirement>>>()
        };
        let expressions = read(term.match_expressions.as_ref(), false);
        let fields = read(term.match_fields.as_ref(), true);
        match (expressions, fields) {
            (Some(expressions), Some(fields)) => Self {
                valid: !(expressions.is_empty() && fields.is_empty()),
                expressions,
                fields,
            },
            _ => Self {
                expressions: Vec::new(),
                fields: Vec::new(),
                valid: false,
            },
        }
    }

    /// Whether the term admits a node with these labels and name.
    pub fn matches(&self, labels: &Labels, name: &str) -> bool {
        if !self.valid {
            return false;
        }
        let fields = Labels::from([("metadata.name".to_owned(), name.to_owned())]);
        self.expressions.iter().all(|r| r.matches(labels))
            && self.fields.iter().all(|r| r.matches(&fields))
    }

    /// The node names a `metadata.name In` field requires (intersected), if any does:
    /// NodeAffinity's PreFilter narrows the candidate nodes to them.
    pub fn required_names(&self) -> Option<Vec<String>> {
        let mut names: Option<Vec<String>> = None;
        for field in &self.fields {
            if field.operator != Operator::In {
                continue;
            }
            names = Some(match names {
                None => field.values.clone(),
                Some(held) => held
                    .into_iter()
                    .filter(|n| field.values.contains(n))
                    .collect(),
            });
        }
        names
    }
}

/// A node selector: its terms are ORed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeTerms(pub Vec<Term>);

impl NodeTerms {
    /// The terms of a node selector.
    pub fn of(selector: &NodeSelector) -> Self {
        Self(selector.node_selector_terms.iter().map(Term::of).collect())
    }

    /// Whether any term admits the node.
    pub fn matches(&self, labels: &Labels, name: &str) -> bool {
        self.0.iter().any(|term| term.matches(labels, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_null_selector_matches_nothing_and_an_empty_one_everything() {
        let web = labels(&[("app", "web")]);
        assert!(!Selector::of(None).matches(&web));
        let empty = Selector::of(Some(&LabelSelector::default()));
        assert!(empty.matches(&web) && empty.is_empty());
        let not_db = Selector::of(Some(&LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "app".into(),
                operator: "NotIn".into(),
                values: Some(vec!["db".into()]),
            }]),
            ..LabelSelector::default()
        }));
        assert!(not_db.matches(&web) && not_db.matches(&Labels::new()));
    }

    #[test]
    fn node_terms_match_labels_and_names_and_refuse_what_they_cannot_parse() {
        let term = |expressions: Vec<NodeSelectorRequirement>, fields| {
            Term::of(&NodeSelectorTerm {
                match_expressions: Some(expressions),
                match_fields: Some(fields),
            })
        };
        let requirement = |key: &str, operator: &str, values: &[&str]| NodeSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
        };
        let node = labels(&[("cores", "8")]);
        assert!(term(vec![requirement("cores", "Gt", &["4"])], vec![]).matches(&node, "n1"));
        assert!(!term(vec![requirement("cores", "Lt", &["4"])], vec![]).matches(&node, "n1"));
        let named = term(vec![], vec![requirement("metadata.name", "In", &["n1"])]);
        assert!(named.matches(&node, "n1") && !named.matches(&node, "n2"));
        assert_eq!(named.required_names(), Some(vec!["n1".to_owned()]));
        assert!(!term(vec![], vec![]).matches(&node, "n1"), "an empty term");
        assert!(!term(vec![requirement("cores", "In", &[])], vec![]).matches(&node, "n1"));
    }
}
